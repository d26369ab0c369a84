using GrainMail.Contracts.Trust;
using GrainMail.Storage.Mailboxes;
using GrainMail.Trust.Learning;

namespace GrainMail.Grains.Mailboxes;

public sealed partial class MailboxGrain
{
    /// <summary>
    /// $Junk / $NotJunk set or cleared (IMAP STORE, JMAP Email/set keywords) teach the user's model like a move
    /// into or out of Junk (<see cref="LearnFromTransfer"/>): the same one-way call to the same learner, after the
    /// commit, keyed by the message's blob, so a verdict given by keyword and by move is learned once.
    /// </summary>
    private void LearnFromKeywords(IEnumerable<(MessageRow Before, MessageRow After)> changed)
    {
        var spam = new List<LearnItem>();
        var ham = new List<LearnItem>();
        foreach (var (before, after) in changed)
        {
            if (JunkKeywords.Verdict(before.Keywords, after.Keywords) is not { } verdict) continue;
            (verdict ? spam : ham).Add(new LearnItem(after.BlobDomain, after.BlobHash));
        }
        var learner = GrainFactory.GetGrain<IContentLearnerGrain>(_address);
        if (spam.Count > 0) _ = learner.Learn(spam, true);
        if (ham.Count > 0) _ = learner.Learn(ham, false);
    }
}

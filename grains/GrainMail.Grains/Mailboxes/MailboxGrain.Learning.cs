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
        Teach(spam, ham);
    }

    /// <summary>
    /// A message that arrives with $Junk or $NotJunk already set (IMAP APPEND, JMAP Email/import and Email/set create, a Sieve
    /// script's addflag/setflag at delivery) teaches as if the keyword had been stored on it: the same
    /// verdict as <see cref="JunkKeywords.Verdict"/> from no keywords, in any folder (the keyword is the
    /// judgement, as with STORE; the folder a new message is put in is not). The copies of one message
    /// (one blob) give one verdict, and none when they disagree.
    /// </summary>
    private void LearnFromNewMessages(IEnumerable<MessageRow> added)
    {
        // Keyed by the blob's domain and hash (as text: the hash is an array).
        var verdicts = new Dictionary<string, (LearnItem Item, bool? Spam)>(StringComparer.Ordinal);
        foreach (var row in added)
        {
            if (JunkKeywords.Verdict([], row.Keywords) is not { } verdict) continue;
            var key = row.BlobDomain + "/" + Convert.ToHexString(row.BlobHash);
            verdicts[key] = verdicts.TryGetValue(key, out var seen)
                ? (seen.Item, seen.Spam == verdict ? verdict : null)
                : (new LearnItem(row.BlobDomain, row.BlobHash), verdict);
        }
        var spam = new List<LearnItem>();
        var ham = new List<LearnItem>();
        foreach (var (item, verdict) in verdicts.Values)
            if (verdict is { } v) (v ? spam : ham).Add(item);
        Teach(spam, ham);
    }

    /// <summary>One-way calls to the user's learner, after the commit: the command's reply does not wait for the token counts.</summary>
    private void Teach(List<LearnItem> spam, List<LearnItem> ham)
    {
        if (spam.Count == 0 && ham.Count == 0) return;
        var learner = GrainFactory.GetGrain<IContentLearnerGrain>(_address);
        if (spam.Count > 0) _ = learner.Learn(spam, true);
        if (ham.Count > 0) _ = learner.Learn(ham, false);
    }
}

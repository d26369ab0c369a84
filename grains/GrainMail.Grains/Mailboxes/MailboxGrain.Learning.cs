using GrainMail.Contracts.Mailboxes;
using GrainMail.Contracts.Trust;
using GrainMail.Storage.Mailboxes;
using GrainMail.Trust.Learning;

namespace GrainMail.Grains.Mailboxes;

/// <summary>
/// The user's verdicts teach their content model (issue 14). Each verdict is put on the mailbox change that
/// carries it (<see cref="MailboxChange.Learn"/>), so the learn request is committed with the move, the STORE or
/// the new message — in the same transaction, before the client hears OK — and survives the silo. After the
/// commit the mailbox's learner is told (one-way) to apply its queue; the reply does not wait for the token
/// counts. A learner that never hears (the silo stopped first) is started by <c>LearnQueueWorker</c>.
/// </summary>
public sealed partial class MailboxGrain
{
    /// <summary>
    /// $Junk / $NotJunk set or cleared (IMAP STORE, JMAP Email/set keywords) teach the user's model like a move
    /// into or out of Junk (<see cref="QueueTransferVerdicts"/>), keyed by the message's blob, so a verdict given by
    /// keyword and by move is learned once.
    /// </summary>
    private static void QueueKeywordVerdicts(MailboxChange change, IEnumerable<(MessageRow Before, MessageRow After)> changed)
    {
        var spam = new List<LearnItem>();
        var ham = new List<LearnItem>();
        foreach (var (before, after) in changed)
        {
            if (JunkKeywords.Verdict(before.Keywords, after.Keywords) is not { } verdict) continue;
            (verdict ? spam : ham).Add(new LearnItem(after.BlobDomain, after.BlobHash));
        }
        Queue(change, spam, ham);
    }

    /// <summary>
    /// A message that arrives with $Junk or $NotJunk already set (IMAP APPEND, JMAP Email/import and Email/set create, a Sieve
    /// script's addflag/setflag at delivery) teaches as if the keyword had been stored on it: the same
    /// verdict as <see cref="JunkKeywords.Verdict"/> from no keywords, in any folder (the keyword is the
    /// judgement, as with STORE; the folder a new message is put in is not). The copies of one message
    /// (one blob) give one verdict, and none when they disagree.
    /// </summary>
    private static void QueueNewMessageVerdicts(MailboxChange change, IEnumerable<MessageRow> added)
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
        Queue(change, spam, ham);
    }

    /// <summary>
    /// A move or copy: into \Junk (RFC 6154) is spam, out of it is ham — except into \Trash, which is how clients
    /// delete spam, not a verdict on it.
    /// </summary>
    private static void QueueTransferVerdicts(MailboxChange change, Folder src, Folder dst, List<MessageRow> selected)
    {
        bool? spam = dst.Use == SpecialUse.Junk && src.Use != SpecialUse.Junk ? true
            : src.Use == SpecialUse.Junk && dst.Use is not (SpecialUse.Junk or SpecialUse.Trash) ? false
            : null;
        if (spam is null) return;
        foreach (var m in selected) change.Learn.Add((m.BlobDomain, m.BlobHash, spam.Value));
    }

    /// <summary>Spam before ham, as the learner applies rows in order: of two verdicts on one blob in one change, ham is the last word.</summary>
    private static void Queue(MailboxChange change, List<LearnItem> spam, List<LearnItem> ham)
    {
        foreach (var i in spam) change.Learn.Add((i.BlobDomain, i.BlobHash, true));
        foreach (var i in ham) change.Learn.Add((i.BlobDomain, i.BlobHash, false));
    }

    /// <summary>After a committed change: its verdicts are queued in PostgreSQL; the learner applies them (one-way).</summary>
    private void Teach(MailboxChange change)
    {
        if (change.Learn.Count == 0) return;
        _ = GrainFactory.GetGrain<IContentLearnerGrain>(_address).Drain();
    }
}

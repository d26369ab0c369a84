using GrainMail.Contracts.Governance;
using GrainMail.Contracts.Mailboxes;
using GrainMail.Storage.Mailboxes;

namespace GrainMail.Grains.Mailboxes;

/// <summary>
/// Governance in the mailbox's own grain (issue 17): a recall and retention remove messages as an
/// expunge does — one transaction, a new MODSEQ, the watchers told — so open IMAP sessions see
/// EXPUNGE and delivery is never blocked by anything but this grain's own turn.
/// </summary>
public sealed partial class MailboxGrain : IMailboxGovernance
{
    // A retention sweep of a large folder is cut into transactions of this many messages.
    private const int RemovalBatch = 1000;

    public async Task<RecallOutcome> Recall(Guid deliveryId)
    {
        if (_mailbox is null) return RecallOutcome.NotInMailbox;
        // Wherever the user moved it: a move keeps the delivery id (a copy does not, and stays).
        foreach (var f in _folders.Values.OrderBy(f => f.Id))
        {
            var messages = await MessagesOf(f);
            var m = messages.Find(x => x.DeliveryId == deliveryId);
            if (m is null) continue;
            if ((m.Flags & MessageFlags.Seen) != 0) return RecallOutcome.AlreadyRead;
            await RemoveAsync(f, [m]);
            return RecallOutcome.Recalled;
        }
        return RecallOutcome.NotInMailbox;
    }

    public async Task<int> ApplyRetention(IReadOnlyDictionary<string, int> folders, DateTimeOffset now)
    {
        if (_mailbox is null) return 0;
        var removed = 0;
        foreach (var f in _folders.Values.OrderBy(f => f.Id).ToList())
        {
            var days = RetentionRules.DaysFor(folders, f.Name, f.Use);
            if (days <= 0) continue;
            var due = (await MessagesOf(f)).Where(m => RetentionRules.IsDue(m.SaveDate, m.InternalDate, days, now)).ToList();
            foreach (var batch in due.Chunk(RemovalBatch))
            {
                await RemoveAsync(f, [.. batch]);
                removed += batch.Length;
            }
        }
        return removed;
    }

    /// <summary>Removes messages whatever their flags, as EXPUNGE removes \Deleted ones.</summary>
    private async Task RemoveAsync(Folder f, List<MessageRow> gone)
    {
        var messages = await MessagesOf(f);
        var c = f.Clone();
        c.HighestModSeq++;
        var change = NewChange();
        // Recalled or past retention: gone for good, not in the user's deleted-mail recovery.
        RemoveFrom(c, gone, change, recoverable: false, clock.GetUtcNow());
        foreach (var m in gone) change.BlobDeltas.Add((m.BlobDomain, m.BlobHash, -1));
        change.FolderUpdates.Add(c.ToRow());
        var goneSet = gone.Select(m => m.Uid).ToHashSet();
        await CommitAsync(change, () =>
        {
            Apply(f, c);
            messages.RemoveAll(m => goneSet.Contains(m.Uid));
            LogExpunged(f, goneSet);
        });
    }
}

using GrainMail.Contracts;
using GrainMail.Contracts.Mailboxes;
using GrainMail.Storage.Mailboxes;
using Microsoft.Extensions.Logging;

namespace GrainMail.Grains.Mailboxes;

/// <summary>
/// Deleted-mail recovery (issue 17, 4.3.10). What the user expunges, or deletes with a folder, leaves
/// a recoverable row in <c>mailbox_expunged</c> holding the message's blob reference; the quota
/// counts only what the user sees. Within the domain's window (7 days by default) the user or an
/// administrator puts messages back; a reminder purges what is older, releasing the references
/// (a blob another copy still uses stays).
/// </summary>
public sealed partial class MailboxGrain
{
    private const string PurgeReminder = "deleted-mail-purge";

    /// <summary>How often the purge runs while the mailbox has tombstones (the window is in days; an hour late is fine).</summary>
    private static readonly TimeSpan PurgeInterval = TimeSpan.FromHours(1);

    private bool _purgeReminderSet;

    public async Task<IReadOnlyList<DeletedMessage>> ListDeleted()
    {
        if (_mailbox is null) return [];
        var window = await RecoveryWindowAsync();
        var rows = await store.RecoverableAsync(_address, clock.GetUtcNow() - window);
        return rows.Select(r => new DeletedMessage(r.Id, r.FolderName, new BlobRef(r.BlobDomain, r.BlobHash, r.Size), r.InternalDate,
            r.ExpungedAt, r.ExpungedAt + window, r.Flags)).ToList();
    }

    public async Task<RestoreResult> RestoreDeleted(IReadOnlyList<long> ids)
    {
        if (_mailbox is null) return new RestoreResult(RestoreStatus.NoSuchMailbox, []);
        var wanted = ids.Distinct().ToList();
        if (wanted.Count == 0) return new RestoreResult(RestoreStatus.Ok, []);
        var rows = await store.RecoverableAsync(_address, clock.GetUtcNow() - await RecoveryWindowAsync(), wanted);
        if (rows.Count != wanted.Count) return new RestoreResult(RestoreStatus.NotRecoverable, []);
        // The quota counts what the user sees: restored messages count again.
        if (_mailbox.UsedBytes + rows.Sum(r => r.Size) > _mailbox.QuotaBytes) return new RestoreResult(RestoreStatus.OverQuota, []);

        var inbox = _folders.Values.First(f => f.Use == SpecialUse.Inbox);
        var change = NewChange();
        var now = clock.GetUtcNow();
        var targets = new Dictionary<int, (Folder Folder, Folder Next, List<MessageRow> Rows)>();
        var restored = new List<RestoredMessage>();
        foreach (var r in rows.OrderBy(r => r.Id))
        {
            // Its own folder if that still exists (same id and UIDVALIDITY, whatever its name now), else INBOX.
            var f = _folders.TryGetValue(r.FolderId, out var same) && same.UidValidity == r.UidValidity ? same : inbox;
            if (!targets.TryGetValue(f.Id, out var t))
            {
                await MessagesOf(f);
                var next = f.Clone();
                next.HighestModSeq++;
                targets[f.Id] = t = (f, next, []);
            }
            // A new UID (RFC 3501: UIDs are never reused); \Deleted, which the expunge acted on, is gone.
            var row = new MessageRow(f.Id, t.Next.UidNext++, r.BlobDomain, r.BlobHash, r.Size, r.InternalDate,
                r.Flags & ~MessageFlags.Deleted, r.Keywords, t.Next.HighestModSeq, null, now);
            t.Next.Count++;
            t.Next.Unseen += Unseen(row);
            t.Next.Bytes += row.Size;
            change.UsedBytes += row.Size;
            change.Messages++;
            t.Rows.Add(row);
            restored.Add(new RestoredMessage(r.Id, f.Name, f.UidValidity, row.Uid));
        }
        foreach (var t in targets.Values)
        {
            change.Inserted.AddRange(t.Rows);
            change.FolderUpdates.Add(t.Next.ToRow());
        }
        change.Restored.AddRange(wanted);
        // Watchers of the target folders hear of it like any new message (untagged EXISTS).
        var outcome = await CommitAsync(change, () =>
        {
            foreach (var t in targets.Values)
            {
                Apply(t.Folder, t.Next);
                t.Folder.Messages!.AddRange(t.Rows);
            }
        });
        if (outcome != CommitOutcome.Committed) return new RestoreResult(RestoreStatus.NotRecoverable, []);
        return new RestoreResult(RestoreStatus.Ok, restored);
    }

    public async Task<int> PurgeDeleted()
    {
        var purged = 0;
        if (_mailbox is not null)
            purged = await store.PurgeExpungedAsync(_address, clock.GetUtcNow() - await RecoveryWindowAsync());
        if (_mailbox is null || !await store.HasExpungedAsync(_address))
        {
            // Nothing left to purge: the reminder goes until the next removal sets it again.
            if (await this.GetReminder(PurgeReminder) is { } reminder) await this.UnregisterReminder(reminder);
            _purgeReminderSet = false;
        }
        if (purged > 0) logger.LogDebug("Purged {Count} removed messages of {Address}", purged, _address);
        return purged;
    }

    public async Task ReceiveReminder(string reminderName, Orleans.Runtime.TickStatus status)
    {
        if (reminderName == PurgeReminder) await PurgeDeleted();
    }

    /// <summary>
    /// Makes sure the purge reminder exists once this activation has written tombstones (one
    /// registration per activation; a reminder that exists already is simply updated).
    /// </summary>
    private async Task KeepPurgeReminderAsync(bool needed)
    {
        if (!needed || _purgeReminderSet) return;
        try
        {
            await this.RegisterOrUpdateReminder(PurgeReminder, PurgeInterval, PurgeInterval);
            _purgeReminderSet = true;
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // The removal has committed; the next one (or the next activation's) registers it.
            logger.LogWarning(e, "Could not register the purge reminder of {Address}", _address);
        }
    }

    private async Task<TimeSpan> RecoveryWindowAsync() =>
        TimeSpan.FromDays(await store.RecoveryDaysAsync(MailAddress.DomainOf(_address)));
}

using GrainMail.Contracts.Mailboxes;
using GrainMail.Storage.Mailboxes;
using Microsoft.Extensions.Logging;

namespace GrainMail.Grains.Mailboxes;

/// <summary>
/// Watches on the whole folder tree, for IMAP NOTIFY (RFC 5465): after each commit the watchers get
/// one notice naming what happened to each folder touched. Like the folder watches, they live in
/// this activation's memory, expire unless renewed and are asked to register again when it goes.
/// </summary>
public sealed partial class MailboxGrain
{
    private readonly Dictionary<IMailboxTreeObserver, DateTimeOffset> _treeWatchers = [];

    public Task WatchTree(IMailboxTreeObserver observer)
    {
        var now = clock.GetUtcNow();
        foreach (var (o, expires) in _treeWatchers.ToList())
            if (expires < now) _treeWatchers.Remove(o);
        _treeWatchers[observer] = now + WatchLifetime;
        return Task.CompletedTask;
    }

    public Task UnwatchTree(IMailboxTreeObserver observer)
    {
        _treeWatchers.Remove(observer);
        return Task.CompletedTask;
    }

    private void RewatchTreeWatchers()
    {
        var rewatch = new MailboxTreeNotice([], Rewatch: true);
        foreach (var observer in _treeWatchers.Keys) _ = observer.TreeChanged(rewatch);
        _treeWatchers.Clear();
    }

    /// <summary>
    /// The events of <paramref name="change"/>, folder by folder. Called after the commit and before the
    /// in-memory folders take it, so a folder's name before a rename is still there.
    /// </summary>
    private void NotifyTreeWatchers(MailboxChange change)
    {
        if (_treeWatchers.Count == 0) return;
        var events = new List<FolderEvent>();
        foreach (var row in change.NewFolders) events.Add(new FolderEvent(FolderEventKind.Created, row.Name, Status: InfoOf(row)));
        foreach (var id in change.FolderDeletes)
            if (_folders.TryGetValue(id, out var gone)) events.Add(new FolderEvent(FolderEventKind.Deleted, gone.Name));
        foreach (var row in change.FolderUpdates)
        {
            if (change.FolderDeletes.Contains(row.Id)) continue;
            var before = _folders.GetValueOrDefault(row.Id);
            if (before is not null && !string.Equals(before.Name, row.Name, StringComparison.Ordinal))
                events.Add(new FolderEvent(FolderEventKind.Renamed, row.Name, OldName: before.Name, Status: InfoOf(row)));
            var added = change.Inserted.Count(m => m.FolderId == row.Id);
            var expunged = change.Expunged.Count(e => e.Message.FolderId == row.Id) + change.Deleted.Count(d => d.FolderId == row.Id);
            var flags = change.FlagUpdates.Count(u => u.FolderId == row.Id);
            if (added + expunged + flags > 0)
                events.Add(new FolderEvent(FolderEventKind.Messages, row.Name, Status: InfoOf(row), Added: added, Expunged: expunged, FlagChanges: flags));
        }
        foreach (var name in change.Subscribed) events.Add(new FolderEvent(FolderEventKind.Subscribed, name));
        foreach (var name in change.Unsubscribed)
        {
            // A rename moves the subscription: the new name's Subscribed event says enough.
            if (events.Any(e => e.Kind == FolderEventKind.Renamed && e.OldName == name)) continue;
            events.Add(new FolderEvent(FolderEventKind.Unsubscribed, name));
        }
        if (events.Count == 0) return;
        var notice = new MailboxTreeNotice(events);
        foreach (var observer in _treeWatchers.Keys)
        {
            try
            {
                _ = observer.TreeChanged(notice);
            }
            catch (Exception e)
            {
                logger.LogDebug(e, "Could not notify a tree watcher of {Address}", _address);
            }
        }
    }

    private static FolderInfo InfoOf(FolderRow row) =>
        new(row.Name, row.SpecialUse, row.UidValidity, row.UidNext, row.HighestModSeq, row.Messages, row.Unseen, 0, row.Bytes, row.Subscribed, row.Id);
}

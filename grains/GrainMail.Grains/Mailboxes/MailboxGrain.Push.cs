using GrainMail.Contracts.Mailboxes;
using GrainMail.Storage.Mailboxes;
using Microsoft.Extensions.Logging;

namespace GrainMail.Grains.Mailboxes;

/// <summary>
/// Account-wide watches (JMAP push, issue 18): a gateway holds one per account however many push
/// connections it serves, and is told after every committed change to any folder. The notice carries
/// no content: the JMAP state is recomputed by the gateway from ListFolders, coalescing bursts.
/// </summary>
public sealed partial class MailboxGrain
{
    private readonly Dictionary<IMailboxObserver, DateTimeOffset> _accountWatchers = [];

    public Task WatchAll(IMailboxObserver observer)
    {
        var now = clock.GetUtcNow();
        // Drop watches that were not renewed (their gateway went away without saying so).
        foreach (var (o, expires) in _accountWatchers.ToList())
            if (expires < now) _accountWatchers.Remove(o);
        _accountWatchers[observer] = now + WatchLifetime;
        return Task.CompletedTask;
    }

    private void NotifyAccountWatchers(MailboxChange change)
    {
        if (_accountWatchers.Count == 0) return;
        var row = change.FolderUpdates.FirstOrDefault();
        foreach (var observer in _accountWatchers.Keys)
        {
            try
            {
                _ = observer.FolderChanged(row?.Name ?? "", row?.HighestModSeq ?? 0);
            }
            catch (Exception e)
            {
                logger.LogDebug(e, "Could not notify an account watcher of {Address}", _address);
            }
        }
    }

    /// <summary>The activation is going away: the watchers register again with the next one.</summary>
    private void RewatchAccountWatchers()
    {
        foreach (var observer in _accountWatchers.Keys)
        {
            try
            {
                _ = observer.FolderChanged("", MailboxNotices.Rewatch);
            }
            catch (Exception e)
            {
                logger.LogDebug(e, "Could not tell an account watcher of {Address} to watch again", _address);
            }
        }
        _accountWatchers.Clear();
    }
}

using GrainMail.Contracts.Mailboxes;
using GrainMail.Gateways.Imap.Protocol;

namespace GrainMail.Gateways.Imap;

// Keeping the selected folder's view current: the mailbox grain's change notices, GetChanges,
// and the untagged EXISTS / FETCH / EXPUNGE responses; IDLE.
internal sealed partial class ImapSession
{
    /// <summary>Receives the grain's one-way notices; only marks the view stale and wakes IDLE.</summary>
    private sealed class FolderWatcher : IMailboxObserver
    {
        public volatile bool Dirty;
        public volatile bool Rewatch;
        public readonly SemaphoreSlim Signal = new(0, 1);

        public Task FolderChanged(string folder, long highestModSeq)
        {
            if (highestModSeq == MailboxNotices.Rewatch) Rewatch = true;
            Dirty = true;
            if (Signal.CurrentCount == 0)
            {
                try
                {
                    Signal.Release();
                }
                catch (SemaphoreFullException)
                {
                    // Already signalled.
                }
            }
            return Task.CompletedTask;
        }
    }

    private FolderWatcher? _watcher;
    private IMailboxObserver? _watcherRef;
    private DateTimeOffset _watchRenewedAt;

    private async Task StartWatchingAsync()
    {
        if (_watcher is null)
        {
            _watcher = new FolderWatcher();
            _watcherRef = _server.Grains.CreateObjectReference<IMailboxObserver>(_watcher);
        }
        _watcher.Dirty = false;
        _watcher.Rewatch = false;
        await _mailbox!.Watch(_watcherRef!, _selected!.Name);
        _watchRenewedAt = DateTimeOffset.UtcNow;
    }

    private async Task StopWatchingAsync()
    {
        if (_watcherRef is null || _mailbox is null) return;
        try
        {
            await _mailbox.Unwatch(_watcherRef);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // The grain forgets watches that are not renewed anyway.
        }
    }

    /// <summary>At the end of the session: the observer's registration in this process goes too.</summary>
    private void ReleaseWatcher()
    {
        if (_watcherRef is null) return;
        try
        {
            _server.Grains.DeleteObjectReference<IMailboxObserver>(_watcherRef);
        }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException)
        {
            // Already gone.
        }
        _watcherRef = null;
    }

    private async Task RenewWatchIfDueAsync()
    {
        if (_selected is null) return;
        if (!_watcher!.Rewatch && DateTimeOffset.UtcNow - _watchRenewedAt < _options.WatchRenewal) return;
        _watcher.Rewatch = false;
        var highest = await _mailbox!.Watch(_watcherRef!, _selected.Name);
        _watchRenewedAt = DateTimeOffset.UtcNow;
        // A new activation of the grain (after a restart) knows nothing of this session: compare.
        if (highest != _selected.HighestModSeq) _watcher!.Dirty = true;
    }

    /// <summary>
    /// Brings the view up to date and writes the untagged responses. Expunges are held back
    /// unless <paramref name="allowExpunge"/> (not during FETCH/STORE/SEARCH by sequence number).
    /// </summary>
    private async Task SyncAsync(bool allowExpunge, bool force = false)
    {
        var view = _selected;
        if (view is null || _watcher is null) return;
        await RenewWatchIfDueAsync();
        if (!force && !_watcher.Dirty && (view.PendingExpunge.Count == 0 || !allowExpunge)) return;
        _watcher.Dirty = false;
        var changes = await _mailbox!.GetChanges(view.Name, view.HighestModSeq);
        if (changes is null || changes.UidValidity != view.UidValidity)
        {
            // The folder was deleted or replaced under this session: nothing it knows is valid any more.
            _out.Line("* BYE The selected mailbox was deleted or renamed by another session");
            _state = State.Logout;
            return;
        }
        IEnumerable<long> expunged = changes.Expunged
            ?? view.Messages.Select(m => m.Uid).Except(changes.AllUids!).ToList();
        foreach (var uid in expunged)
            if (view.IndexOf(uid) >= 0) view.PendingExpunge.Add(uid);

        var added = new List<MessageMeta>();
        foreach (var m in changes.Changed)
        {
            var i = view.IndexOf(m.Uid);
            if (i >= 0)
            {
                var old = view.Messages[i];
                if (old.ModSeq >= m.ModSeq) continue;
                view.Messages[i] = m;
                if (old.Flags != m.Flags || !old.Keywords.SequenceEqual(m.Keywords))
                {
                    _out.Raw("* ").Number(i + 1).Raw(" FETCH (");
                    WriteFlags(m, view);
                    if (_condstore) _out.Raw(" MODSEQ (").Number(m.ModSeq).Raw(")");
                    _out.Raw(" UID ").Number(m.Uid).Raw(")").Crlf();
                }
            }
            else if (m.Uid >= view.UidNext)
            {
                added.Add(m);
            }
        }
        if (allowExpunge && view.PendingExpunge.Count > 0)
        {
            foreach (var uid in view.PendingExpunge.Order().ToList())
            {
                var i = view.IndexOf(uid);
                if (i < 0) continue;
                view.Messages.RemoveAt(i);
                _out.Raw("* ").Number(i + 1).Line(" EXPUNGE");
            }
            view.PendingExpunge.Clear();
        }
        if (added.Count > 0)
        {
            added.Sort((a, b) => a.Uid.CompareTo(b.Uid));
            view.Messages.AddRange(added);
            view.UidNext = Math.Max(view.UidNext, added[^1].Uid + 1);
            _out.Raw("* ").Number(view.Messages.Count).Line(" EXISTS");
        }
        view.UidNext = Math.Max(view.UidNext, changes.UidNext);
        view.HighestModSeq = Math.Max(view.HighestModSeq, changes.HighestModSeq);
    }

    private void WriteFlags(MessageMeta m, SelectedFolder view)
    {
        _out.Raw("FLAGS (");
        var first = true;
        void Add(string s)
        {
            if (!first) _out.Raw(" ");
            first = false;
            _out.Raw(s);
        }
        if ((m.Flags & MessageFlags.Seen) != 0) Add("\\Seen");
        if ((m.Flags & MessageFlags.Answered) != 0) Add("\\Answered");
        if ((m.Flags & MessageFlags.Flagged) != 0) Add("\\Flagged");
        if ((m.Flags & MessageFlags.Deleted) != 0) Add("\\Deleted");
        if ((m.Flags & MessageFlags.Draft) != 0) Add("\\Draft");
        if (view.IsRecent(m)) Add("\\Recent");
        foreach (var k in m.Keywords) Add(k);
        _out.Raw(")");
    }

    private async Task<bool> IdleAsync(string tag, CancellationToken ct)
    {
        _out.Line("+ idling");
        if (_state == State.Selected) await SyncAsync(allowExpunge: true, force: true);
        await FlushAsync(ct);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(_options.IdleTimeout);
        var read = _reader.ReadLineAsync(timeout.Token);
        ReadStatus status;
        byte[] line;
        GrainMail.Operations.GrainMailMeters.ImapIdle.Add(1);
        try
        {
            while (true)
            {
                var signal = _watcher is { } w && _state == State.Selected
                    ? w.Signal.WaitAsync(_options.WatchRenewal, timeout.Token)
                    : Task.Delay(_options.WatchRenewal, timeout.Token);
                var done = await Task.WhenAny(read, signal);
                if (done == read) break;
                if (timeout.IsCancellationRequested) break;
                if (_state == State.Selected)
                {
                    await SyncAsync(allowExpunge: true);
                    if (_state == State.Logout) return false;
                    await FlushAsync(ct);
                }
            }
            (status, line) = await read;
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            _out.Line("* BYE Autologout; idle for too long");
            return false;
        }
        finally
        {
            GrainMail.Operations.GrainMailMeters.ImapIdle.Add(-1);
        }
        if (status == ReadStatus.Closed) return false;
        if (status != ReadStatus.Command || !System.Text.Encoding.ASCII.GetString(line).Trim().Equals("DONE", StringComparison.OrdinalIgnoreCase))
            return await BadAsync(tag, "Expected DONE");
        return Ok(tag, "IDLE terminated");
    }
}

using System.Collections.Concurrent;
using GrainMail.Contracts.Mailboxes;
using GrainMail.Gateways.Imap.Commands;

namespace GrainMail.Gateways.Imap.Execution;

/// <summary>
/// NOTIFY (RFC 5465) on the same watches IDLE uses: the selected folder's watcher (its notices make
/// EXISTS and FETCH FLAGS) and one watch on the account's whole folder tree (new and expunged
/// messages, flag changes, names and subscriptions of the other mailboxes). The session writes what
/// came in while it waits for the next command (at a command boundary, RFC 5465 3) and during IDLE.
/// For the selected mailbox, <c>selected</c> lets EXPUNGE come between commands too (the client asked
/// for it); <c>selected-delayed</c> keeps RFC 3501 7.4.1's rule, so expunges wait for a command that allows them.
/// </summary>
internal sealed class NotifyCommands(ImapSessionContext session)
{
    /// <summary>Receives the grain's tree notices on Orleans' threads and wakes the session.</summary>
    private sealed class TreeWatcher(NotifyCommands owner, int maxPending) : IMailboxTreeObserver
    {
        private readonly ConcurrentQueue<MailboxTreeNotice> _notices = new();
        private int _pending;

        /// <summary>More events came than the session has written: it stops notifying (RFC 5465 5.8).</summary>
        public volatile bool Overflowed;

        public volatile bool Rewatch;

        public bool HasNotices => !_notices.IsEmpty || Overflowed || Rewatch;

        public Task TreeChanged(MailboxTreeNotice notice)
        {
            if (notice.Rewatch) Rewatch = true;
            else if (Interlocked.Add(ref _pending, notice.Events.Count) > maxPending) Overflowed = true;
            else _notices.Enqueue(notice);
            owner.Wake();
            return Task.CompletedTask;
        }

        public List<FolderEvent> TakeAll()
        {
            var events = new List<FolderEvent>();
            while (_notices.TryDequeue(out var n))
            {
                events.AddRange(n.Events);
                Interlocked.Add(ref _pending, -n.Events.Count);
            }
            return events;
        }
    }

    private NotifyCommand? _set;
    private TreeWatcher? _watcher;
    private IMailboxTreeObserver? _watcherRef;
    private DateTimeOffset _renewedAt;
    private HashSet<string> _subscribed = new(StringComparer.Ordinal);
    private TaskCompletionSource _wake = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>NOTIFY SET is in force.</summary>
    public bool Active => _set is not null;

    /// <summary>The group for the selected mailbox, if the client asked for it.</summary>
    private NotifyGroup? SelectedGroup => _set?.Groups.FirstOrDefault(g => g.Filter is NotifyFilter.Selected or NotifyFilter.SelectedDelayed);

    /// <summary>A mailbox is selected and the client asked for its message events.</summary>
    private bool WatchesSelected => session.State == ImapSessionState.Selected && SelectedGroup is { } g && (g.Events & NotifyEvents.MessageNew) != 0;

    /// <summary>Wakes a session waiting in <see cref="WhenWokenAsync"/>: a tree notice, or a change to the selected folder.</summary>
    public void Wake() => Interlocked.Exchange(ref _wake, new(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult();

    /// <summary>
    /// Whether something waits to be written: at a command boundary, or in IDLE (<paramref name="inIdle"/>),
    /// where IDLE itself answers for the selected folder.
    /// </summary>
    public bool HasPending(bool inIdle) =>
        Active && (_watcher?.HasNotices == true
            || (!inIdle && WatchesSelected && session.Updates.Watcher?.Dirty == true)
            || DateTimeOffset.UtcNow - _renewedAt >= session.Options.WatchRenewal);

    /// <summary>A task that completes at the next wake or after <paramref name="atMost"/>; take it before looking at <see cref="HasPending(bool)"/>.</summary>
    public Task WhenWokenAsync(TimeSpan atMost, CancellationToken ct) => Task.WhenAny(_wake.Task, Task.Delay(atMost, ct));

    public async Task<bool> NotifyAsync(NotifyCommand c)
    {
        if (c.None)
        {
            await StopAsync();
            return session.Ok(c.Tag, "NOTIFY NONE completed");
        }
        if (c.UnsupportedEvents.Count > 0)
            return session.No(c.Tag, "[BADEVENT (MessageNew MessageExpunge FlagChange MailboxName SubscriptionChange)] Not offered: " + string.Join(' ', c.UnsupportedEvents));
        var folders = await session.Mailbox.ListFolders();
        var subscribed = new HashSet<string>(await session.Mailbox.ListSubscriptions(), StringComparer.Ordinal);
        // The limit on what one session watches: the folders its filters cover now (documented in ImapOptions).
        var watched = folders.Count(f => c.Groups.Any(g => g.Filter is not (NotifyFilter.Selected or NotifyFilter.SelectedDelayed) && g.Covers(f.Name, null, subscribed)))
            + c.Groups.Sum(g => g.Filter == NotifyFilter.Mailboxes ? g.Mailboxes.Count(m => folders.All(f => f.Name != m)) : 0);
        if (watched > session.Options.NotifyMaxMailboxes)
            return session.No(c.Tag, $"[LIMIT] NOTIFY would watch {watched} mailboxes; at most {session.Options.NotifyMaxMailboxes} per session");
        await StopAsync();
        _set = c;
        _subscribed = subscribed;
        _watcher = new TreeWatcher(this, session.Options.NotifyMaxPending);
        _watcherRef = session.Server.Grains.CreateObjectReference<IMailboxTreeObserver>(_watcher);
        await session.Mailbox.WatchTree(_watcherRef);
        _renewedAt = DateTimeOffset.UtcNow;
        if (c.Status)
        {
            // NOTIFY SET STATUS: the state of every mailbox the filters cover, so the client starts from it (RFC 5465 3.1).
            foreach (var f in folders)
            {
                var g = NotifyGroup.For(c.Groups, f.Name, session.Selected?.Name, subscribed);
                if (g is not null && (g.Events & NotifyEvents.MessageNew) != 0 && !IsSelected(f.Name)) WriteStatus(f, full: true);
            }
        }
        // A successful NOTIFY SET is also an implicit NOOP (RFC 5465 3.1): what changed in the selected
        // mailbox before it is reported now, as NOOP would, so the client starts from a known view.
        if (session.State == ImapSessionState.Selected) await session.Updates.SyncAsync(allowExpunge: true, force: true);
        return session.Ok(c.Tag, "NOTIFY completed");
    }

    private bool IsSelected(string name) => session.Selected is { } view && view.Name == name;

    /// <summary>Ends NOTIFY (NOTIFY NONE, a new NOTIFY SET, UNAUTHENTICATE, the end of the session).</summary>
    public async Task StopAsync()
    {
        _set = null;
        if (_watcherRef is not { } reference) return;
        _watcherRef = null;
        _watcher = null;
        try
        {
            if (session.MailboxGrain is { } mailbox) await mailbox.UnwatchTree(reference);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // The grain forgets watches that are not renewed anyway.
        }
        ReleaseLater(reference);
    }

    private void ReleaseLater(IMailboxTreeObserver reference)
    {
        var grains = session.Server.Grains;
        // Notices already on their way still find their target for a while (as for the folder watcher).
        _ = Task.Delay(TimeSpan.FromSeconds(30)).ContinueWith(_ =>
        {
            try
            {
                grains.DeleteObjectReference<IMailboxTreeObserver>(reference);
            }
            catch (Exception e) when (e is ArgumentException or InvalidOperationException)
            {
                // Already gone.
            }
        }, TaskScheduler.Default);
    }

    /// <summary>
    /// Writes what came in (outside a command, or in IDLE with <paramref name="inIdle"/>, where IDLE
    /// itself keeps the selected folder current) and renews the tree watch when due.
    /// </summary>
    public async Task WritePendingAsync(bool inIdle)
    {
        if (!Active || _watcher is not { } watcher) return;
        if (watcher.Overflowed)
        {
            // RFC 5465 5.8: the server could not keep up; the client must resynchronise, and NOTIFY is off.
            session.Out.Line("* OK [NOTIFICATIONOVERFLOW] Too many changes to report; NOTIFY is now NONE");
            await StopAsync();
            return;
        }
        if (watcher.Rewatch || DateTimeOffset.UtcNow - _renewedAt >= session.Options.WatchRenewal)
        {
            watcher.Rewatch = false;
            await session.Mailbox.WatchTree(_watcherRef!);
            _renewedAt = DateTimeOffset.UtcNow;
        }
        if (!inIdle && WatchesSelected && session.Updates.Watcher?.Dirty == true)
            await WriteSelectedAsync(SelectedGroup!, inIdle: false, force: false);
        var selectedName = session.Selected?.Name;
        foreach (var e in watcher.TakeAll()) WriteEvent(e, selectedName);
    }

    /// <summary>
    /// The selected mailbox's changes as untagged EXISTS, FETCH FLAGS and (for <c>selected</c>) EXPUNGE or
    /// VANISHED, then the FETCH attributes the client asked to get with MessageNew (RFC 5465 5.2). With
    /// <c>selected-delayed</c> expunges wait for a command that allows them (RFC 5465 6, RFC 3501 7.4.1).
    /// </summary>
    private async Task WriteSelectedAsync(NotifyGroup selected, bool inIdle, bool force)
    {
        var view = session.Selected!;
        var uidNext = view.UidNext;
        // FlagChange not asked for: no FETCH of changed flags on the server's initiative (RFC 5465 5.1, 3.1).
        // IDLE is a command that allows expunges, for selected-delayed too (RFC 5465 6.1, RFC 3501 7.4.1).
        await session.Updates.SyncAsync(allowExpunge: inIdle || selected.Filter == NotifyFilter.Selected, force: force,
            reportFlagChanges: (selected.Events & NotifyEvents.FlagChange) != 0);
        if (session.State != ImapSessionState.Selected || selected.NewMessageFetch is not { } items) return;
        var added = new List<int>();
        for (var i = view.Messages.Count - 1; i >= 0 && view.Messages[i].Uid >= uidNext; i--) added.Insert(0, i);
        if (added.Count == 0) return;
        var list = items.ToList();
        // Fetched on the server's initiative: nothing sets \Seen, whatever PEEK says.
        await new MessageCommands(session).WriteFetchResponsesAsync(view, added, list, []);
    }

    /// <summary>
    /// IDLE with NOTIFY in force: the selected mailbox's changes as NOTIFY asked for them and no more, since
    /// during IDLE the server sends exactly the events NOTIFY set (RFC 5465 4). Without a selected filter
    /// (the same as SELECTED NONE, RFC 5465 3.1) nothing about the selected mailbox is sent; without FlagChange
    /// its flag changes are not (RFC 5465 5). What is held back stays out of the view, so the next command
    /// that reports changes (NOOP, RFC 3501 6.1.2) tells it once; MessageNew's FETCH comes in IDLE as between commands.
    /// </summary>
    public async Task SyncSelectedInIdleAsync(bool force)
    {
        if (!WatchesSelected) return;
        await WriteSelectedAsync(SelectedGroup!, inIdle: true, force: force);
    }

    /// <summary>One tree event as the client asked to hear it: STATUS for messages, LIST for names and subscriptions.</summary>
    private void WriteEvent(FolderEvent e, string? selectedName)
    {
        var groups = _set!.Groups;
        switch (e.Kind)
        {
            case FolderEventKind.Messages:
                {
                    // The selected mailbox is told through its own view, never with STATUS (RFC 5465 5.1).
                    if (e.Name == selectedName || e.Status is not { } status) return;
                    var g = NotifyGroup.For(groups, e.Name, selectedName, _subscribed);
                    if (g is null) return;
                    if ((e.Added > 0 || e.Expunged > 0) && (g.Events & NotifyEvents.MessageNew) != 0) WriteStatus(status, full: false);
                    else if (e.FlagChanges > 0 && (g.Events & NotifyEvents.FlagChange) != 0) WriteFlagStatus(status);
                    return;
                }
            case FolderEventKind.Created:
            case FolderEventKind.Deleted:
            case FolderEventKind.Renamed:
                {
                    var g = NotifyGroup.For(groups, e.Name, selectedName, _subscribed)
                        ?? (e.OldName is { } old ? NotifyGroup.For(groups, old, selectedName, _subscribed) : null);
                    if (g is null || (g.Events & NotifyEvents.MailboxName) == 0) return;
                    var output = session.Out;
                    if (e.Kind == FolderEventKind.Deleted)
                        output.Raw("* LIST (\\NonExistent) \"/\" ").AString(session.EncodeName(e.Name)).Crlf();
                    else if (e.Kind == FolderEventKind.Renamed)
                        output.Raw("* LIST () \"/\" ").AString(session.EncodeName(e.Name)).Raw(" (\"OLDNAME\" (").AString(session.EncodeName(e.OldName!)).Raw("))").Crlf();
                    else
                        output.Raw("* LIST () \"/\" ").AString(session.EncodeName(e.Name)).Crlf();
                    return;
                }
            case FolderEventKind.Subscribed:
            case FolderEventKind.Unsubscribed:
                {
                    var subscribe = e.Kind == FolderEventKind.Subscribed;
                    // The subscribed filter follows the subscriptions (RFC 5465 6).
                    var g = NotifyGroup.For(groups, e.Name, selectedName, subscribe ? _subscribed.Append(e.Name).ToHashSet(StringComparer.Ordinal) : _subscribed);
                    if (subscribe) _subscribed.Add(e.Name);
                    else _subscribed.Remove(e.Name);
                    if (g is null || (g.Events & NotifyEvents.SubscriptionChange) == 0) return;
                    session.Out.Raw(subscribe ? "* LIST (\\Subscribed) \"/\" " : "* LIST () \"/\" ").AString(session.EncodeName(e.Name)).Crlf();
                    return;
                }
        }
    }

    /// <summary>An untagged STATUS for a mailbox that is not selected (RFC 5465 5.1, 5.2).</summary>
    private void WriteStatus(FolderInfo f, bool full)
    {
        var output = session.Out;
        output.Raw("* STATUS ").AString(session.EncodeName(f.Name)).Raw(" (MESSAGES ").Number(f.Messages).Raw(" UIDNEXT ").Number(f.UidNext);
        if (full) output.Raw(" UIDVALIDITY ").Number(f.UidValidity);
        output.Raw(" UNSEEN ").Number(f.Unseen);
        if (session.Condstore) output.Raw(" HIGHESTMODSEQ ").Number(f.HighestModSeq);
        output.Raw(")").Crlf();
    }

    /// <summary>FlagChange in a mailbox that is not selected: what a flag change can change (RFC 5465 5.1).</summary>
    private void WriteFlagStatus(FolderInfo f)
    {
        var output = session.Out;
        output.Raw("* STATUS ").AString(session.EncodeName(f.Name)).Raw(" (UNSEEN ").Number(f.Unseen);
        if (session.Condstore) output.Raw(" HIGHESTMODSEQ ").Number(f.HighestModSeq);
        output.Raw(")").Crlf();
    }
}

using GrainMail.Contracts.Mailboxes;

namespace GrainMail.Gateways.Imap.Execution;

/// <summary>
/// Keeps the selected folder's view current: the watch on the mailbox grain, its one-way change
/// notices, GetChanges, and the untagged EXISTS / FETCH / EXPUNGE responses that tell the client
/// (RFC 3501 5.2, 7.3, 7.4). Also writes FLAGS items, since what a session may show of a message's
/// flags depends on what it has been told.
/// </summary>
internal sealed class SelectedFolderUpdates(ImapSessionContext session)
{
    /// <summary>
    /// Receives the grain's one-way notices: keeps those that carry their change for the session to
    /// apply, marks the view stale and wakes IDLE. Runs on Orleans' threads, apart from the session.
    /// </summary>
    internal sealed class FolderWatcher : IMailboxObserver
    {
        /// <summary>
        /// Messages the kept notices may name together: a session that does not sync for long (no IDLE,
        /// no commands) holds at most this much, and then GetChanges tells it what changed.
        /// </summary>
        private const int MaxQueuedItems = 1000;

        private int _queuedItems;

        public volatile bool Dirty;
        public volatile bool Rewatch;

        /// <summary>A notice without its content came (or one was dropped): only GetChanges can tell what changed.</summary>
        public volatile bool NeedsChanges;

        public readonly SemaphoreSlim Signal = new(0, 1);

        private readonly System.Collections.Concurrent.ConcurrentQueue<FolderNotice> _notices = new();

        private long _latest;

        /// <summary>The highest MODSEQ any notice named: a view below it after the notices were applied is missing one.</summary>
        public long Latest => Interlocked.Read(ref _latest);

        public Task FolderChanged(string folder, long highestModSeq)
        {
            if (highestModSeq == MailboxNotices.Rewatch) Rewatch = true;
            NeedsChanges = true;
            Wake();
            return Task.CompletedTask;
        }

        /// <summary>The folder watched, as the grain names it; a notice about another (one sent before a new SELECT) only marks the view stale.</summary>
        private volatile string _folder = "";

        public Task FolderChangedWith(FolderNotice notice)
        {
            if (!string.Equals(notice.Folder, _folder, StringComparison.Ordinal)) return FolderChanged(notice.Folder, notice.HighestModSeq);
            var items = notice.Added.Count + notice.FlagChanges.Count + notice.Expunged.Count;
            var kept = false;
            // Once GetChanges is due the notices are not needed: none is kept until it has run.
            if (!NeedsChanges)
            {
                if (Interlocked.Add(ref _queuedItems, items) <= MaxQueuedItems)
                {
                    _notices.Enqueue(notice);
                    kept = true;
                }
                else
                {
                    Interlocked.Add(ref _queuedItems, -items);
                }
            }
            if (!kept) NeedsChanges = true;
            long seen;
            while ((seen = Interlocked.Read(ref _latest)) < notice.HighestModSeq && Interlocked.CompareExchange(ref _latest, notice.HighestModSeq, seen) != seen)
            {
                // Another notice raised it meanwhile: look again.
            }
            Wake();
            return Task.CompletedTask;
        }

        /// <summary>Takes every kept notice out, in the order they came.</summary>
        public List<FolderNotice> TakeAll()
        {
            var taken = new List<FolderNotice>();
            while (_notices.TryDequeue(out var notice))
            {
                taken.Add(notice);
                Interlocked.Add(ref _queuedItems, -(notice.Added.Count + notice.FlagChanges.Count + notice.Expunged.Count));
            }
            return taken;
        }

        /// <summary>Forgets everything about the folder watched before (a new SELECT of <paramref name="folder"/>).</summary>
        public void Reset(string folder)
        {
            _folder = folder;
            Dirty = false;
            Rewatch = false;
            NeedsChanges = false;
            TakeAll();
            Interlocked.Exchange(ref _latest, 0);
        }

        /// <summary>Called on every notice, after <see cref="Signal"/>: NOTIFY writes the selected folder's changes between commands.</summary>
        public Action? Woken { get; init; }

        private void Wake()
        {
            Dirty = true;
            Woken?.Invoke();
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
        }
    }

    private FolderWatcher? _watcher;
    private IMailboxObserver? _watcherRef;
    private DateTimeOffset _watchRenewedAt;

    /// <summary>The watcher of the selected folder, for IDLE to wait on; null before the first SELECT.</summary>
    public FolderWatcher? Watcher => _watcher;

    public async Task StartWatchingAsync()
    {
        if (_watcher is null)
        {
            _watcher = new FolderWatcher { Woken = () => { if (session.Notify.Active) session.Notify.Wake(); } };
            _watcherRef = session.Server.Grains.CreateObjectReference<IMailboxObserver>(_watcher);
        }
        _watcher.Reset(session.Selected!.Name);
        var highest = await session.Mailbox.Watch(_watcherRef!, session.Selected!.Name);
        _watchRenewedAt = DateTimeOffset.UtcNow;
        // A change committed between Open and Watch notified the watchers before this one: the next sync asks the grain.
        if (highest is long h && session.Selected is { } view && h != view.HighestModSeq)
        {
            _watcher.NeedsChanges = true;
            _watcher.Dirty = true;
        }
    }

    public async Task StopWatchingAsync()
    {
        if (_watcherRef is null || session.MailboxGrain is not { } mailbox) return;
        try
        {
            await mailbox.Unwatch(_watcherRef);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // The grain forgets watches that are not renewed anyway.
        }
    }

    /// <summary>How long an ended session's observer stays registered, for the notices already on their way.</summary>
    private static readonly TimeSpan ReleaseGrace = TimeSpan.FromSeconds(30);

    /// <summary>
    /// At the end of the session: the observer's registration in this process goes too, a little
    /// later. Notices the grain sent before it processed Unwatch are still on their way; deleting the
    /// reference at once turned each into an "Unexpected target grain" error in the host log.
    /// </summary>
    public void ReleaseWatcher()
    {
        if (_watcherRef is not { } reference) return;
        _watcherRef = null;
        var grains = session.Server.Grains;
        // Orleans holds observers weakly: the watcher is kept alive until its reference is deleted.
        var watcher = _watcher;
        _ = Task.Delay(ReleaseGrace).ContinueWith(_ =>
        {
            GC.KeepAlive(watcher);
            try
            {
                grains.DeleteObjectReference<IMailboxObserver>(reference);
            }
            catch (Exception e) when (e is ArgumentException or InvalidOperationException)
            {
                // Already gone.
            }
        }, TaskScheduler.Default);
    }

    private async Task RenewWatchIfDueAsync()
    {
        if (session.Selected is not { } view) return;
        if (!_watcher!.Rewatch && DateTimeOffset.UtcNow - _watchRenewedAt < session.Options.WatchRenewal) return;
        _watcher.Rewatch = false;
        var highest = await session.Mailbox.Watch(_watcherRef!, view.Name);
        _watchRenewedAt = DateTimeOffset.UtcNow;
        // A new activation of the grain (after a restart) knows nothing of this session: compare.
        if (highest != view.HighestModSeq)
        {
            _watcher!.NeedsChanges = true;
            _watcher.Dirty = true;
        }
    }

    /// <summary>
    /// Brings the view up to date and writes the untagged responses. Expunges are held back
    /// unless <paramref name="allowExpunge"/> (not during FETCH/STORE/SEARCH by sequence number, RFC 3501 7.4.1).
    /// Without <paramref name="reportFlagChanges"/> (NOTIFY without FlagChange for the selected mailbox, RFC 5465
    /// 5.1) flag changes of known messages are held back: the view stays below their MODSEQ, so the next
    /// command that syncs (NOOP, or one after a later change) reports them.
    /// </summary>
    public async Task SyncAsync(bool allowExpunge, bool force = false, bool reportFlagChanges = true)
    {
        var view = session.Selected;
        if (view is null || _watcher is null) return;
        var output = session.Out;
        await RenewWatchIfDueAsync();
        if (!force && !_watcher.Dirty && (view.PendingExpunge.Count == 0 || !allowExpunge)) return;
        _watcher.Dirty = false;
        // Without force the notices that carried their change are enough when they join up from where
        // the view stands to the latest one; a command that must see its own change (APPEND, COPY into
        // the selected mailbox, EXPUNGE, NOOP) asks the grain, as a notice may still be on its way.
        if (!force && !_watcher.NeedsChanges && session.Options.ApplyChangeNotices && TakeNotices(view) is { } fromNotices)
        {
            GrainMail.Operations.GrainMailMeters.ImapViewSyncs.Add(1, FromNotice);
            await ApplyAsync(view, fromNotices, allowExpunge, reportFlagChanges);
            return;
        }
        _watcher.NeedsChanges = false;
        // Every notice kept so far is about a change committed before this call: GetChanges covers it.
        _watcher.TakeAll();
        GrainMail.Operations.GrainMailMeters.ImapViewSyncs.Add(1, FromGrain);
        var changes = await session.Mailbox.GetChanges(view.Name, view.HighestModSeq);
        if (changes is null || changes.UidValidity != view.UidValidity)
        {
            // The folder was deleted or replaced under this session: nothing it knows is valid any more.
            output.Line("* BYE The selected mailbox was deleted or renamed by another session");
            session.State = ImapSessionState.Logout;
            return;
        }
        IReadOnlyList<long> expunged = changes.Expunged
            ?? view.Messages.Select(m => m.Uid).Except(changes.AllUids!).ToList();
        await ApplyAsync(view, new ViewChanges(expunged, changes.Changed, changes.UidNext, changes.HighestModSeq), allowExpunge, reportFlagChanges);
    }

    private static readonly KeyValuePair<string, object?> FromNotice = new("source", "notice");
    private static readonly KeyValuePair<string, object?> FromGrain = new("source", "grain");

    /// <summary>What changed in the folder since the view's MODSEQ, from GetChanges or from notices.</summary>
    private sealed record ViewChanges(IReadOnlyList<long> Expunged, IReadOnlyList<MessageMeta> Changed, long UidNext, long HighestModSeq);

    /// <summary>
    /// The queued notices as one change, when they follow each other from the view's MODSEQ up to the
    /// latest MODSEQ notified; null when one is missing (late, dropped, or the folder changed identity).
    /// Notices the view already went past are dropped: what they carry is in the view.
    /// </summary>
    private ViewChanges? TakeNotices(SelectedFolder view)
    {
        var queued = _watcher!.TakeAll();
        queued.Sort((a, b) => a.FromModSeq.CompareTo(b.FromModSeq));
        var at = view.HighestModSeq;
        var uidNext = view.UidNext;
        var expunged = new List<long>();
        var changed = new Dictionary<long, MessageMeta>();
        foreach (var n in queued)
        {
            if (n.HighestModSeq <= at) continue;
            if (n.FromModSeq != at || n.UidValidity != view.UidValidity) return null;
            foreach (var m in n.Added) changed[m.Uid] = m;
            foreach (var f in n.FlagChanges)
            {
                MessageMeta? current = changed.TryGetValue(f.Uid, out var known) ? known : view.IndexOf(f.Uid) is var i and >= 0 ? view.Messages[i] : null;
                if (current is not null && current.ModSeq < f.ModSeq) changed[f.Uid] = current with { Flags = f.Flags, Keywords = f.Keywords, ModSeq = f.ModSeq };
            }
            expunged.AddRange(n.Expunged);
            uidNext = Math.Max(uidNext, n.UidNext);
            at = n.HighestModSeq;
        }
        if (at < _watcher.Latest) return null;
        // As from GetChanges: an expunged message is not among the changed ones.
        foreach (var uid in expunged) changed.Remove(uid);
        return new ViewChanges(expunged, [.. changed.Values], uidNext, at);
    }

    /// <summary>Takes changes into the view and writes the untagged responses that tell the client of them.</summary>
    private async Task ApplyAsync(SelectedFolder view, ViewChanges changes, bool allowExpunge, bool reportFlagChanges)
    {
        var output = session.Out;
        long? heldBackFrom = null;
        foreach (var uid in changes.Expunged)
            if (view.IndexOf(uid) >= 0) view.PendingExpunge.Add(uid);

        // New keywords are announced before any FETCH that shows them (RFC 3501 7.2.6).
        AnnounceKeywords(reportFlagChanges ? changes.Changed : changes.Changed.Where(m => view.IndexOf(m.Uid) < 0));
        var added = new List<MessageMeta>();
        foreach (var m in changes.Changed)
        {
            var i = view.IndexOf(m.Uid);
            if (i >= 0)
            {
                var old = view.Messages[i];
                if (old.ModSeq >= m.ModSeq) continue;
                if (!reportFlagChanges)
                {
                    // Not taken into the view: GetChanges from below this MODSEQ brings it again later.
                    heldBackFrom = Math.Min(heldBackFrom ?? long.MaxValue, m.ModSeq);
                    continue;
                }
                view.Messages[i] = m;
                if (old.Flags != m.Flags || !old.Keywords.SequenceEqual(m.Keywords))
                {
                    output.Raw("* ").Number(i + 1).Raw(" FETCH (");
                    WriteFlags(m, view);
                    if (session.Condstore) output.Raw(" MODSEQ (").Number(m.ModSeq).Raw(")");
                    output.Raw(" UID ").Number(m.Uid).Raw(")").Crlf();
                }
            }
            else if (m.Uid >= view.UidNext)
            {
                added.Add(m);
            }
        }
        if (allowExpunge && view.PendingExpunge.Count > 0)
        {
            RemoveAndReport(view.PendingExpunge.Order().ToList());
            view.PendingExpunge.Clear();
        }
        if (added.Count > 0)
        {
            added.Sort((a, b) => a.Uid.CompareTo(b.Uid));
            view.Messages.AddRange(added);
            view.UidNext = Math.Max(view.UidNext, added[^1].Uid + 1);
            output.Raw("* ").Number(view.Messages.Count).Line(" EXISTS");
            // The first session told of a new message holds its \Recent (RFC 3501 2.3.2, 7.3.2). IMAP4rev2
            // has neither \Recent nor RECENT (RFC 9051 E.1): a rev2 session claims nothing, so a rev1 one still can.
            if (!session.Rev2)
            {
                if (!view.ReadOnly) view.AddRecent(await session.Mailbox.TakeRecent(view.Name, added[^1].Uid), added[^1].Uid);
                output.Raw("* ").Number(view.RecentCount).Line(" RECENT");
            }
        }
        view.UidNext = Math.Max(view.UidNext, changes.UidNext);
        view.HighestModSeq = Math.Max(view.HighestModSeq, heldBackFrom is long from ? Math.Min(changes.HighestModSeq, from - 1) : changes.HighestModSeq);
        // Notices join up from the view's MODSEQ only; after a hold-back the next sync asks the grain.
        if (heldBackFrom is not null) _watcher!.NeedsChanges = true;
    }

    /// <summary>
    /// Takes expunged messages out of the view and tells the client: one EXPUNGE per message, or
    /// after ENABLE QRESYNC one VANISHED with their UIDs (RFC 7162 3.2.10, which replaces EXPUNGE).
    /// </summary>
    public void RemoveAndReport(IReadOnlyList<long> uids)
    {
        var view = session.Selected!;
        var output = session.Out;
        var removed = new List<long>();
        foreach (var uid in uids)
        {
            var i = view.IndexOf(uid);
            if (i < 0) continue;
            view.Messages.RemoveAt(i);
            view.PendingExpunge.Remove(uid);
            session.SavedResult.Remove(uid);
            removed.Add(uid);
            if (!session.Qresync) output.Raw("* ").Number(i + 1).Line(" EXPUNGE");
        }
        if (session.Qresync && removed.Count > 0) output.Line("* VANISHED " + Protocol.SequenceSet.Format(removed.Order()));
    }

    /// <summary>
    /// UIDs expunged from the folder after <paramref name="sinceModSeq"/> among those
    /// <paramref name="inRange"/> accepts (RFC 7162 VANISHED (EARLIER)). When the grain's log does not
    /// reach back that far, every UID below UIDNEXT that is not in the folder is reported: RFC 7162
    /// 3.2.5.1 lets a server that keeps no older expunges say so, and clients ignore UIDs they never had.
    /// </summary>
    public async Task<List<long>> VanishedSinceAsync(long sinceModSeq, Func<long, long, bool> inRange)
    {
        var view = session.Selected!;
        var changes = await session.Mailbox.GetChanges(view.Name, sinceModSeq);
        if (changes is null) return [];
        var largest = Math.Max(0, changes.UidNext - 1);
        if (changes.Expunged is { } expunged)
            return [.. expunged.Where(u => inRange(u, largest) && view.IndexOf(u) < 0).Distinct().Order()];
        var present = changes.AllUids!.ToHashSet();
        var result = new List<long>();
        for (long u = 1; u <= largest; u++)
            if (!present.Contains(u) && inRange(u, largest)) result.Add(u);
        return result;
    }

    /// <summary>
    /// SELECT/EXAMINE (QRESYNC …) with the UIDVALIDITY the client knew (RFC 7162 3.2.5): what
    /// vanished since its MODSEQ, then the flags of every message changed since.
    /// </summary>
    public async Task ResynchroniseAsync(Commands.QresyncParameters q)
    {
        var view = session.Selected!;
        var output = session.Out;
        var vanished = await VanishedSinceAsync(q.ModSeq, (u, largest) => q.KnownUids?.Contains(u, largest) ?? true);
        if (vanished.Count > 0) output.Line("* VANISHED (EARLIER) " + Protocol.SequenceSet.Format(vanished));
        for (var i = 0; i < view.Messages.Count; i++)
        {
            var m = view.Messages[i];
            if (m.ModSeq <= q.ModSeq) continue;
            output.Raw("* ").Number(i + 1).Raw(" FETCH (UID ").Number(m.Uid).Raw(" ");
            WriteFlags(m, view);
            output.Raw(" MODSEQ (").Number(m.ModSeq).Raw(")").Raw(")").Crlf();
        }
    }

    /// <summary>
    /// The untagged FLAGS and PERMANENTFLAGS of the selected folder (RFC 3501 7.2.6, 7.1): the
    /// system flags and every keyword this session has been told of; \* because any new keyword
    /// may be stored (none on a read-only view).
    /// </summary>
    public void WriteFlagLists(SelectedFolder view)
    {
        var keywords = string.Concat(view.AnnouncedKeywords.Order(StringComparer.Ordinal).Select(k => " " + k));
        session.Out.Line("* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft" + keywords + ")");
        session.Out.Line(view.ReadOnly
            ? "* OK [PERMANENTFLAGS ()] Read-only mailbox"
            : "* OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft" + keywords + " \\*)] Flags permitted");
    }

    /// <summary>
    /// Sends FLAGS again when <paramref name="messages"/> carry a keyword this session has not been
    /// told of: a client may only see keywords in FETCH FLAGS that an untagged FLAGS listed first.
    /// </summary>
    public void AnnounceKeywords(IEnumerable<MessageMeta> messages)
    {
        if (session.Selected is not { } view) return;
        var grew = false;
        foreach (var m in messages)
            foreach (var k in m.Keywords)
                grew |= view.AnnouncedKeywords.Add(k);
        if (grew) WriteFlagLists(view);
    }

    /// <summary>A FETCH response's FLAGS item for a message of the view (RFC 3501 7.4.2).</summary>
    public void WriteFlags(MessageMeta m, SelectedFolder view)
    {
        var output = session.Out;
        output.Raw("FLAGS (");
        var first = true;
        void Add(string s)
        {
            if (!first) output.Raw(" ");
            first = false;
            output.Raw(s);
        }
        if ((m.Flags & MessageFlags.Seen) != 0) Add("\\Seen");
        if ((m.Flags & MessageFlags.Answered) != 0) Add("\\Answered");
        if ((m.Flags & MessageFlags.Flagged) != 0) Add("\\Flagged");
        if ((m.Flags & MessageFlags.Deleted) != 0) Add("\\Deleted");
        if ((m.Flags & MessageFlags.Draft) != 0) Add("\\Draft");
        if (view.IsRecent(m) && !session.Rev2) Add("\\Recent");
        foreach (var k in m.Keywords) Add(k);
        output.Raw(")");
    }
}

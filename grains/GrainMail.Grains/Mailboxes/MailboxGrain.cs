using GrainMail.Contracts;
using GrainMail.Contracts.Delivery;
using GrainMail.Contracts.Mailboxes;
using GrainMail.Grains.Regions;
using GrainMail.Storage.Blobs;
using GrainMail.Storage.Mailboxes;
using GrainMail.Storage.Streams;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Orleans.Streams;
using Orleans.Streams.Core;

namespace GrainMail.Grains.Mailboxes;

/// <summary>
/// The single writer of one mailbox. Folder counters and (once a folder is used) its message
/// index are held in memory; every change is one PostgreSQL transaction guarded by the mailbox
/// version, applied to memory only after it commits. Consumes the inbound delivery stream by
/// implicit subscription: a delivery and the removal of its queue row commit together, so a
/// redelivered event changes nothing.
/// <para>
/// Concurrency. Writes (every method not marked <c>[AlwaysInterleave]</c> on <see cref="IMailboxGrain"/>) run one
/// at a time, as Orleans runs any non-reentrant call. Read-only calls (folder info, message lists, changes,
/// \Recent claims, watches) are <c>[AlwaysInterleave]</c>: they run while a write waits on PostgreSQL, so
/// NOOP, STATUS, LIST and FETCH need not queue behind other sessions' commits. What makes that safe:
/// <list type="number">
/// <item>A write changes memory only after its commit, inside <see cref="CommitAsync"/>'s callback, in one
/// turn with no await; at every await of a write, memory is the last committed state (the changes it is
/// preparing live in clones and a <see cref="MailboxChange"/>).</item>
/// <item>A read computes its answer in one turn after its last await, from memory as it then is; a read that
/// awaits between two looks at memory (GetChanges and the tombstones) checks that no commit came between.</item>
/// <item>The lazy message-list load neither misses nor doubles a change (see <see cref="MessagesOf"/>).</item>
/// <item>Reads change only what no commit writes from memory: the \Recent mark (a claim made during a commit
/// stays unsaved until the next one) and the watcher tables.</item>
/// <item>Writes may start while a read awaits (an interleaved call does not block others); rule 2 covers it.</item>
/// </list>
/// </para>
/// </summary>
[ImplicitStreamSubscription(DeliveryStreams.Inbound)]
[HomeRegionPlacement]
public sealed partial class MailboxGrain(
    MailboxStore store,
    StreamQueueStore queue,
    GrainMail.Storage.Blobs.BlobStore blobs,
    GrainMail.Grains.Delivery.DeliveryReports reports,
    GrainMail.Grains.Domains.DirectoryOptions directory,
    TimeProvider clock,
    ILogger<MailboxGrain> logger,
    HomeRegionKeeper keeper) : Grain, IMailboxGrain, IStreamSubscriptionObserver, IAsyncBatchObserver<DeliveryEvent>, IRemindable
{
    private sealed class Folder(FolderRow row)
    {
        public int Id = row.Id;
        public string Name = row.Name;
        public SpecialUse Use = row.SpecialUse;
        public long UidValidity = row.UidValidity;
        public long UidNext = row.UidNext;
        public long HighestModSeq = row.HighestModSeq;
        public bool Subscribed = row.Subscribed;
        public long RecentFrom = row.RecentFrom;
        public int Count = row.Messages;
        public int Unseen = row.Unseen;
        public long Bytes = row.Bytes;

        /// <summary>Messages in UID order; null until first needed.</summary>
        public List<MessageRow>? Messages;

        /// <summary>The load of <see cref="Messages"/> on its way, shared by every caller that needs it.</summary>
        public Task? Loading;

        /// <summary>UIDs expunged by this activation with the MODSEQ of their removal (for GetChanges).</summary>
        public List<(long ModSeq, long Uid)> ExpungeLog = [];

        /// <summary>Expunges at or below this MODSEQ are not in the log (before this activation, or trimmed).</summary>
        public long ExpungeHorizon = row.HighestModSeq;

        public FolderRow ToRow() => new(Id, Name, Use, UidValidity, UidNext, HighestModSeq, Subscribed, RecentFrom, Count, Unseen, Bytes);

        public Folder Clone() => (Folder)MemberwiseClone();
    }

    private const int MaxExpungeLog = 20_000;
    private static readonly TimeSpan WatchLifetime = TimeSpan.FromMinutes(3);

    private string _address = "";
    private readonly Dictionary<IMailboxObserver, (int FolderId, DateTimeOffset Expires)> _watchers = [];
    private MailboxRow? _mailbox;
    private Dictionary<int, Folder> _folders = [];

    /// <summary>Subscribed names (RFC 3501 6.3.6): kept apart from folders, which they may outlive.</summary>
    private HashSet<string> _subscriptions = new(StringComparer.Ordinal);

    public Task<GrainMail.Contracts.Regions.GrainLocation> Locate() => Task.FromResult(keeper.Here());

    public override async Task OnActivateAsync(CancellationToken cancellationToken)
    {
        _address = this.GetPrimaryKeyString();
        await StorageFailureFilter.Activating(() => LoadAsync(cancellationToken));
        keeper.Watch(this, _address);
    }

    public override async Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken)
    {
        await SaveRecentClaimsAsync();
        // Watches live in this activation's memory: tell the sessions to register again with
        // the next one (a migration home, an idle collection), instead of waiting for renewal.
        foreach (var (observer, (folderId, _)) in _watchers)
        {
            if (_folders.TryGetValue(folderId, out var f)) _ = observer.FolderChanged(f.Name, MailboxNotices.Rewatch);
        }
        _watchers.Clear();
        RewatchTreeWatchers();
    }

    private async Task LoadAsync(CancellationToken ct)
    {
        var loaded = await store.LoadAsync(_address, ct);
        _mailbox = loaded?.Mailbox;
        _folders = loaded?.Folders.ToDictionary(f => f.Id, f => new Folder(f)) ?? [];
        _subscriptions = loaded is null ? new(StringComparer.Ordinal) : new(await store.LoadSubscriptionsAsync(_address, ct), StringComparer.Ordinal);
        // A mailbox that starts near its quota (or one loaded after its domain forgot) says so now.
        ReportUsage();
    }

    // ---- lifecycle -------------------------------------------------------------------------

    public async Task Provision(long quotaBytes)
    {
        if (_mailbox is not null) return;
        var uv = NextUidValidity(0);
        var rows = FolderNames.Defaults.Select((d, i) => new FolderRow(i + 1, d.Name, d.Use, uv, 1, 1, true, 1, 0, 0, 0)).ToList();
        await store.ProvisionAsync(_address, quotaBytes, rows);
        await LoadAsync(CancellationToken.None);
    }

    public async Task Destroy()
    {
        if (_mailbox is null) return;
        await store.DestroyAsync(_address);
        await ServiceProvider.GetRequiredService<GrainMail.Storage.Sieve.SieveStore>().DeleteAccountAsync(_address);
        _mailbox = null;
        _folders = [];
        DeactivateOnIdle();
    }

    public Task<bool> Exists() => Task.FromResult(_mailbox is not null);

    public async Task SetQuota(long quotaBytes)
    {
        if (_mailbox is null) return;
        await store.SetQuotaAsync(_address, quotaBytes);
        _mailbox = _mailbox with { QuotaBytes = quotaBytes };
        ReportUsage();
    }

    public Task<QuotaInfo> GetQuota() => Task.FromResult(_mailbox is null
        ? new QuotaInfo(0, 0, 0)
        : new QuotaInfo(_mailbox.QuotaBytes, _mailbox.UsedBytes, _mailbox.Messages));

    // ---- folders ---------------------------------------------------------------------------

    public Task<IReadOnlyList<FolderInfo>> ListFolders() =>
        Task.FromResult<IReadOnlyList<FolderInfo>>(_folders.Values.OrderBy(f => f.Id).Select(Info).ToList());

    public Task<FolderInfo?> GetFolder(string name) =>
        Task.FromResult(Find(name) is { } f ? Info(f) : null);

    public async Task<MailboxOpResult> CreateFolder(string name)
    {
        if (_mailbox is null) return new MailboxOpResult(MailboxOpStatus.NoSuchMailbox);
        var n = FolderNames.Normalize(name);
        if (n is null) return new MailboxOpResult(MailboxOpStatus.InvalidName);
        if (Find(n) is not null) return new MailboxOpResult(MailboxOpStatus.FolderExists);
        var change = NewChange();
        var nextId = _folders.Count == 0 ? 1 : _folders.Keys.Max() + 1;
        var created = new List<Folder>();
        foreach (var name2 in FolderNames.Parents(n).Append(n))
        {
            if (Find(name2) is not null) continue;
            var uv = NextUidValidity(change.LastUidValidity);
            change.LastUidValidity = uv;
            var f = new Folder(new FolderRow(nextId++, name2, SpecialUse.None, uv, 1, 1, true, 1, 0, 0, 0)) { Messages = [] };
            change.NewFolders.Add(f.ToRow());
            // New folders start subscribed, as they always have here.
            if (!_subscriptions.Contains(name2)) change.Subscribed.Add(name2);
            created.Add(f);
        }
        await CommitAsync(change, () =>
        {
            foreach (var f in created) _folders[f.Id] = f;
            _subscriptions.UnionWith(change.Subscribed);
        });
        return MailboxOpResult.Ok;
    }

    public async Task<MailboxOpResult> RenameFolder(string from, string to)
    {
        if (_mailbox is null) return new MailboxOpResult(MailboxOpStatus.NoSuchMailbox);
        var src = Find(from);
        var target = FolderNames.Normalize(to);
        if (src is null) return new MailboxOpResult(MailboxOpStatus.NoSuchFolder);
        if (target is null) return new MailboxOpResult(MailboxOpStatus.InvalidName);
        // Renaming INBOX (which RFC 3501 turns into moving its messages) is not offered.
        if (src.Use == SpecialUse.Inbox || target == "INBOX" || FolderNames.IsInside(target, src.Name))
            return new MailboxOpResult(MailboxOpStatus.NotAllowed);
        if (Find(target) is not null) return new MailboxOpResult(MailboxOpStatus.FolderExists);

        var change = NewChange();
        var renamed = new List<(Folder F, string NewName)>();
        foreach (var f in _folders.Values)
        {
            if (f == src) renamed.Add((f, target));
            else if (FolderNames.IsInside(f.Name, src.Name)) renamed.Add((f, target + f.Name[src.Name.Length..]));
        }
        foreach (var (f, newName) in renamed)
        {
            var c = f.Clone();
            c.Name = newName;
            change.FolderUpdates.Add(c.ToRow());
            // A subscription follows its folder to the new name.
            if (_subscriptions.Contains(f.Name))
            {
                change.Unsubscribed.Add(f.Name);
                change.Subscribed.Add(newName);
            }
        }
        // Superiors of the new name that do not exist are created, as CREATE would (RFC 3501 6.3.5, RFC 9051 6.3.6).
        var created = new List<Folder>();
        var nextId = _folders.Keys.Max() + 1;
        foreach (var parent in FolderNames.Parents(target))
        {
            if (Find(parent) is not null) continue;
            var uv = NextUidValidity(change.LastUidValidity);
            change.LastUidValidity = uv;
            var nf = new Folder(new FolderRow(nextId++, parent, SpecialUse.None, uv, 1, 1, true, 1, 0, 0, 0)) { Messages = [] };
            change.NewFolders.Add(nf.ToRow());
            if (!_subscriptions.Contains(parent)) change.Subscribed.Add(parent);
            created.Add(nf);
        }
        await CommitAsync(change, () =>
        {
            foreach (var f in created) _folders[f.Id] = f;
            foreach (var (f, newName) in renamed) f.Name = newName;
            _subscriptions.ExceptWith(change.Unsubscribed);
            _subscriptions.UnionWith(change.Subscribed);
        });
        return MailboxOpResult.Ok;
    }

    public async Task<MailboxOpResult> DeleteFolder(string name)
    {
        if (_mailbox is null) return new MailboxOpResult(MailboxOpStatus.NoSuchMailbox);
        var f = Find(name);
        if (f is null) return new MailboxOpResult(MailboxOpStatus.NoSuchFolder);
        // INBOX cannot go; a folder with subfolders is refused rather than turned into a \Noselect shell.
        if (f.Use == SpecialUse.Inbox || _folders.Values.Any(o => FolderNames.IsInside(o.Name, f.Name)))
            return new MailboxOpResult(MailboxOpStatus.NotAllowed);
        var messages = await MessagesOf(f);
        var change = NewChange();
        // Its messages stay recoverable (deleted-mail recovery): their blob references move to
        // tombstones, which the folder's own deletion leaves alone.
        var now = clock.GetUtcNow();
        foreach (var m in messages) change.Expunged.Add(new ExpungedMessage(m, f.UidValidity, f.HighestModSeq + 1, f.Name, Recoverable: true, now));
        change.FolderDeletes.Add(f.Id);
        change.UsedBytes -= f.Bytes;
        change.Messages -= f.Count;
        await CommitAsync(change, () => _folders.Remove(f.Id));
        await KeepPurgeReminderAsync(messages.Count > 0);
        return MailboxOpResult.Ok;
    }

    public async Task<MailboxOpResult> Subscribe(string name, bool subscribed)
    {
        if (_mailbox is null) return new MailboxOpResult(MailboxOpStatus.NoSuchMailbox);
        var n = FolderNames.Normalize(name);
        if (n is null) return new MailboxOpResult(MailboxOpStatus.InvalidName);
        // A name may be subscribed whether a folder has it or not (RFC 3501 6.3.6).
        var f = Find(n);
        var change = NewChange();
        if (subscribed) change.Subscribed.Add(n);
        else change.Unsubscribed.Add(n);
        if (f is not null)
        {
            var c = f.Clone();
            c.Subscribed = subscribed;
            change.FolderUpdates.Add(c.ToRow());
        }
        await CommitAsync(change, () =>
        {
            if (f is not null) f.Subscribed = subscribed;
            if (subscribed) _subscriptions.Add(n);
            else _subscriptions.Remove(n);
        });
        return MailboxOpResult.Ok;
    }

    public Task<IReadOnlyList<string>> ListSubscriptions() =>
        Task.FromResult<IReadOnlyList<string>>(_subscriptions.Order(StringComparer.Ordinal).ToList());

    // ---- messages --------------------------------------------------------------------------

    public async Task<AppendResult> Append(string folder, byte[] raw, MessageFlags flags, IReadOnlyList<string> keywords, DateTimeOffset? internalDate)
    {
        if (_mailbox is null) return new AppendResult(MailboxOpStatus.NoSuchMailbox, 0, 0);
        var f = Find(folder);
        if (f is null) return new AppendResult(MailboxOpStatus.NoSuchFolder, 0, 0);
        if (_mailbox.UsedBytes + raw.Length > _mailbox.QuotaBytes) return new AppendResult(MailboxOpStatus.OverQuota, 0, 0);
        var domain = MailAddress.DomainOf(_address);
        var hash = BlobStore.Hash(raw);
        // Found by the domain-wide search like delivered mail (issue 17, 4.2.18); the thread id is stored with the message.
        var summary = await GrainMail.Storage.Governance.MessageIndex.SummarizeAsync(raw, hash);
        // INTERNALDATE as given, in its zone; else now in the server's zone (RFC 3501 6.3.11).
        var row = new MessageRow(f.Id, f.UidNext, domain, hash, raw.Length, internalDate ?? clock.GetLocalNow(), flags,
            NormalizeKeywords(keywords), f.HighestModSeq + 1, null, clock.GetUtcNow(), summary.ThreadId);
        var change = NewChange();
        change.NewBlob = (domain, hash, raw, 1);
        change.NewBlobSummary = summary;
        QueueNewMessageVerdicts(change, [row]);
        if (await InsertAsync(f, change, [row]) == CommitOutcome.Committed) Teach(change);
        return new AppendResult(MailboxOpStatus.Ok, f.UidValidity, row.Uid);
    }

    public async Task<IReadOnlyList<MessageMeta>> GetMessages(string folder, long firstUid, long lastUid)
    {
        var f = Find(folder);
        if (f is null) return [];
        var messages = await MessagesOf(f);
        var result = new List<MessageMeta>();
        for (var i = LowerBound(messages, firstUid); i < messages.Count && messages[i].Uid <= lastUid; i++)
            result.Add(Meta(messages[i]));
        return result;
    }

    public async Task<StoreResult> StoreFlags(string folder, IReadOnlyList<long> uids, FlagChange change)
    {
        var f = Find(folder);
        if (_mailbox is null || f is null) return new StoreResult(MailboxOpStatus.NoSuchFolder, [], []);
        var messages = await MessagesOf(f);
        var modseq = f.HighestModSeq + 1;
        var keywords = NormalizeKeywords(change.Keywords);
        var updates = new List<(int Index, MessageRow Row)>();
        var failed = new List<long>();
        var gone = new List<long>();
        foreach (var uid in uids.Distinct())
        {
            var i = IndexOf(messages, uid);
            if (i < 0)
            {
                // Expunged by another session that this caller has not heard from yet: it must not
                // answer from its own (stale) copy of the message.
                gone.Add(uid);
                continue;
            }
            var m = messages[i];
            if (change.UnchangedSince is long since && m.ModSeq > since)
            {
                failed.Add(uid);
                continue;
            }
            var (newFlags, newKeywords) = change.Mode switch
            {
                FlagChangeMode.Add => (m.Flags | change.Flags, m.Keywords.Union(keywords, StringComparer.OrdinalIgnoreCase).ToArray()),
                FlagChangeMode.Remove => (m.Flags & ~change.Flags, m.Keywords.Except(keywords, StringComparer.OrdinalIgnoreCase).ToArray()),
                _ => (change.Flags, keywords),
            };
            if (newFlags == m.Flags && newKeywords.SequenceEqual(m.Keywords)) continue;
            updates.Add((i, m with { Flags = newFlags, Keywords = newKeywords, ModSeq = modseq }));
        }
        if (updates.Count == 0) return new StoreResult(MailboxOpStatus.Ok, [], failed, gone);

        var c = f.Clone();
        c.HighestModSeq = modseq;
        c.Unseen += updates.Sum(u => Unseen(u.Row) - Unseen(messages[u.Index]));
        var tx = NewChange();
        tx.FolderUpdates.Add(c.ToRow());
        foreach (var (_, row) in updates) tx.FlagUpdates.Add((f.Id, row.Uid, row.Flags, row.Keywords, modseq));
        // The indexes stay valid across the await: only a write changes a loaded list, and writes run one at a time.
        // The verdicts are taken before the callback replaces the rows, and committed with the flags.
        QueueKeywordVerdicts(tx, updates.Select(u => (messages[u.Index], u.Row)));
        await CommitAsync(tx, () =>
        {
            f.HighestModSeq = c.HighestModSeq;
            f.Unseen = c.Unseen;
            foreach (var (i, row) in updates) messages[i] = row;
        });
        Teach(tx);
        return new StoreResult(MailboxOpStatus.Ok, updates.Select(u => Meta(u.Row)).ToList(), failed, gone);
    }

    public Task<CopyResult> Copy(string folder, IReadOnlyList<long> uids, string target) => Transfer(folder, uids, target, move: false);

    public Task<CopyResult> Move(string folder, IReadOnlyList<long> uids, string target) => Transfer(folder, uids, target, move: true);

    public async Task<ExpungeResult> Expunge(string folder, IReadOnlyList<long>? uids)
    {
        var f = Find(folder);
        if (_mailbox is null || f is null) return new ExpungeResult(MailboxOpStatus.NoSuchFolder, []);
        var messages = await MessagesOf(f);
        var only = uids is null ? null : new HashSet<long>(uids);
        var gone = messages.Where(m => (m.Flags & MessageFlags.Deleted) != 0 && (only is null || only.Contains(m.Uid))).ToList();
        if (gone.Count == 0) return new ExpungeResult(MailboxOpStatus.Ok, []);
        var c = f.Clone();
        c.HighestModSeq++;
        var change = NewChange();
        // The user removed them: recoverable for the domain's window, and the blob references go with them.
        RemoveFrom(c, gone, change, recoverable: true, clock.GetUtcNow());
        change.FolderUpdates.Add(c.ToRow());
        var goneSet = gone.Select(m => m.Uid).ToHashSet();
        await CommitAsync(change, () =>
        {
            Apply(f, c);
            messages.RemoveAll(m => goneSet.Contains(m.Uid));
            LogExpunged(f, goneSet);
        });
        await KeepPurgeReminderAsync(true);
        return new ExpungeResult(MailboxOpStatus.Ok, gone.Select(m => m.Uid).ToList());
    }

    private async Task<CopyResult> Transfer(string folder, IReadOnlyList<long> uids, string target, bool move)
    {
        var src = Find(folder);
        var dst = Find(target);
        if (_mailbox is null || src is null || dst is null) return new CopyResult(MailboxOpStatus.NoSuchFolder, 0, [], []);
        var srcMessages = await MessagesOf(src);
        var selected = uids.Distinct().Order().Select(u => IndexOf(srcMessages, u)).Where(i => i >= 0).Select(i => srcMessages[i]).ToList();
        if (selected.Count == 0) return new CopyResult(MailboxOpStatus.Ok, dst.UidValidity, [], []);
        if (src == dst && move) return await MoveWithinAsync(src, srcMessages, selected);
        var added = selected.Sum(m => m.Size);
        if (!move && _mailbox.UsedBytes + added > _mailbox.QuotaBytes)
            return new CopyResult(MailboxOpStatus.OverQuota, 0, [], []);

        await MessagesOf(dst);
        var change = NewChange();
        var d = dst.Clone();
        d.HighestModSeq++;
        var newRows = new List<MessageRow>();
        var now = clock.GetUtcNow();
        foreach (var m in selected)
        {
            // A moved message keeps its delivery id (it is still that delivery); a copy is a new message.
            newRows.Add(m with { FolderId = dst.Id, Uid = d.UidNext++, ModSeq = d.HighestModSeq, DeliveryId = move ? m.DeliveryId : null, SaveDate = now });
        }
        d.Count += newRows.Count;
        d.Unseen += newRows.Count(m => Unseen(m) == 1);
        d.Bytes += added;
        change.Inserted.AddRange(newRows);
        change.FolderUpdates.Add(d.ToRow());
        Folder? s = null;
        if (move)
        {
            s = src.Clone();
            s.HighestModSeq++;
            // Moved, not deleted: the old UIDs leave tombstones (VANISHED), the message lives on elsewhere.
            RemoveFrom(s, selected, change, recoverable: false, now);
            change.FolderUpdates.Add(s.ToRow());
        }
        else
        {
            foreach (var m in selected) change.BlobDeltas.Add((m.BlobDomain, m.BlobHash, 1));
        }
        // The new rows count in both cases; a move also removed the originals above.
        change.UsedBytes += added;
        change.Messages += newRows.Count;
        QueueTransferVerdicts(change, src, dst, selected);
        await CommitAsync(change, () =>
        {
            Apply(dst, d);
            dst.Messages!.AddRange(newRows);
            if (s is null) return;
            Apply(src, s);
            var goneSet = selected.Select(m => m.Uid).ToHashSet();
            srcMessages.RemoveAll(m => goneSet.Contains(m.Uid));
            LogExpunged(src, goneSet);
        });
        if (s is not null) await KeepPurgeReminderAsync(true);
        Teach(change);
        return new CopyResult(MailboxOpStatus.Ok, dst.UidValidity, selected.Select(m => m.Uid).ToList(), newRows.Select(m => m.Uid).ToList());
    }

    /// <summary>
    /// MOVE into the folder the messages are in (RFC 6851 allows it): they take new UIDs, the old
    /// ones are expunged, in one change. Blob references do not change.
    /// </summary>
    private async Task<CopyResult> MoveWithinAsync(Folder f, List<MessageRow> messages, List<MessageRow> selected)
    {
        var c = f.Clone();
        c.HighestModSeq++;
        var change = NewChange();
        RemoveFrom(c, selected, change, recoverable: false, clock.GetUtcNow());
        var newRows = selected.Select(m => m with { Uid = c.UidNext++, ModSeq = c.HighestModSeq }).ToList();
        c.Count += newRows.Count;
        c.Unseen += newRows.Sum(Unseen);
        c.Bytes += newRows.Sum(m => m.Size);
        change.UsedBytes += newRows.Sum(m => m.Size);
        change.Messages += newRows.Count;
        change.Inserted.AddRange(newRows);
        change.FolderUpdates.Add(c.ToRow());
        var goneSet = selected.Select(m => m.Uid).ToHashSet();
        await CommitAsync(change, () =>
        {
            Apply(f, c);
            messages.RemoveAll(m => goneSet.Contains(m.Uid));
            messages.AddRange(newRows);
            LogExpunged(f, goneSet);
        });
        await KeepPurgeReminderAsync(true);
        return new CopyResult(MailboxOpStatus.Ok, f.UidValidity, selected.Select(m => m.Uid).ToList(), newRows.Select(m => m.Uid).ToList());
    }

    // ---- sessions ----------------------------------------------------------------------------

    public async Task<FolderSnapshot?> Open(string folder, bool claimRecent)
    {
        var f = Find(folder);
        if (_mailbox is null || f is null) return null;
        var messages = await MessagesOf(f);
        var recentFrom = f.RecentFrom;
        if (claimRecent && f.RecentFrom < f.UidNext) ClaimRecent(f, f.UidNext);
        return new FolderSnapshot(Info(f), messages.Select(Meta).ToList(), recentFrom);
    }

    public Task<long> TakeRecent(string folder, long throughUid)
    {
        var f = Find(folder);
        if (_mailbox is null || f is null) return Task.FromResult(long.MaxValue);
        var from = f.RecentFrom;
        var upTo = Math.Min(throughUid + 1, f.UidNext);
        if (upTo > from) ClaimRecent(f, upTo);
        return Task.FromResult(from);
    }

    /// <summary>
    /// Moves the folder's \Recent mark in memory. It is written with the folder's next change (every
    /// commit writes the whole folder row) or when the activation goes, not on its own: a claim is
    /// advice to clients (RFC 3501 2.3.2), and a durable commit of its own made every APPEND and
    /// every new message seen by a session wait for a second WAL flush. After a crash a claim not
    /// yet written makes those messages recent once more, to the next session that opens the folder.
    /// </summary>
    private void ClaimRecent(Folder f, long upTo)
    {
        f.RecentFrom = upTo;
        _recentUnsaved.Add(f.Id);
    }

    private readonly HashSet<int> _recentUnsaved = [];

    /// <summary>Writes \Recent claims no commit has carried yet (the activation is going away).</summary>
    private async Task SaveRecentClaimsAsync()
    {
        if (_mailbox is null || _recentUnsaved.Count == 0) return;
        var change = NewChange();
        foreach (var id in _recentUnsaved)
            if (_folders.TryGetValue(id, out var f)) change.FolderUpdates.Add(f.ToRow());
        if (change.FolderUpdates.Count == 0) return;
        try
        {
            await CommitAsync(change, notify: false);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            logger.LogDebug(e, "Could not save the \\Recent claims of {Address}", _address);
        }
    }

    public async Task<FolderChanges?> GetChanges(string folder, long sinceModSeq)
    {
        while (true)
        {
            var f = Find(folder);
            if (_mailbox is null || f is null) return null;
            var messages = await MessagesOf(f);
            var highest = f.HighestModSeq;
            var answer = await ChangesSinceAsync(f, messages, sinceModSeq);
            // The tombstone query awaits: a write that committed meanwhile makes the answer a mix of two states.
            if (f.HighestModSeq == highest) return answer;
        }
    }

    private async Task<FolderChanges?> ChangesSinceAsync(Folder f, List<MessageRow> messages, long sinceModSeq)
    {
        var changed = new List<MessageMeta>();
        foreach (var m in messages)
            if (m.ModSeq > sinceModSeq) changed.Add(Meta(m));
        if (sinceModSeq >= f.ExpungeHorizon)
        {
            var expunged = f.ExpungeLog.Where(e => e.ModSeq > sinceModSeq).Select(e => e.Uid).ToList();
            return new FolderChanges(f.UidValidity, f.HighestModSeq, f.UidNext, changed, expunged, null);
        }
        // Older than this activation's log (a restart, QRESYNC from last week): the tombstones know,
        // unless the purge has passed that MODSEQ (RFC 7162 3.2.5.1 then allows the full diff).
        if (sinceModSeq < f.HighestModSeq && await store.ExpungedSinceAsync(_address, f.Id, f.UidValidity, sinceModSeq) is { } stored)
            return new FolderChanges(f.UidValidity, f.HighestModSeq, f.UidNext, changed, stored, null);
        if (sinceModSeq >= f.HighestModSeq) return new FolderChanges(f.UidValidity, f.HighestModSeq, f.UidNext, changed, [], null);
        return new FolderChanges(f.UidValidity, f.HighestModSeq, f.UidNext, changed, null, messages.Select(m => m.Uid).ToList());
    }

    public Task<long?> Watch(IMailboxObserver observer, string folder)
    {
        var f = Find(folder);
        if (f is null) return Task.FromResult<long?>(null);
        var now = clock.GetUtcNow();
        // Drop watches that were not renewed (their session went away without saying so).
        foreach (var (o, w) in _watchers.ToList())
            if (w.Expires < now) _watchers.Remove(o);
        _watchers[observer] = (f.Id, now + WatchLifetime);
        return Task.FromResult<long?>(f.HighestModSeq);
    }

    public Task Unwatch(IMailboxObserver observer)
    {
        _watchers.Remove(observer);
        return Task.CompletedTask;
    }

    private void LogExpunged(Folder f, IEnumerable<long> uids)
    {
        foreach (var uid in uids) f.ExpungeLog.Add((f.HighestModSeq, uid));
        if (f.ExpungeLog.Count > MaxExpungeLog)
        {
            // Older sessions then resynchronise from the full UID list instead.
            var drop = f.ExpungeLog.Count - MaxExpungeLog / 2;
            f.ExpungeHorizon = f.ExpungeLog[drop - 1].ModSeq;
            f.ExpungeLog.RemoveRange(0, drop);
        }
    }

    private void NotifyWatchers(MailboxChange change)
    {
        if (_watchers.Count == 0) return;
        var touched = change.FolderUpdates.Select(r => r.Id).Concat(change.FolderDeletes).ToHashSet();
        var notices = new Dictionary<int, FolderNotice?>();
        foreach (var (observer, w) in _watchers)
        {
            if (!touched.Contains(w.FolderId)) continue;
            var row = change.FolderUpdates.FirstOrDefault(r => r.Id == w.FolderId);
            if (!notices.TryGetValue(w.FolderId, out var notice))
                notices[w.FolderId] = notice = row is null || change.FolderDeletes.Contains(w.FolderId) ? null : NoticeOf(change, row);
            try
            {
                // The change itself when small (the session needs no GetChanges), else only that there was one.
                _ = notice is not null ? observer.FolderChangedWith(notice) : observer.FolderChanged(row?.Name ?? "", row?.HighestModSeq ?? 0);
            }
            catch (Exception e)
            {
                logger.LogDebug(e, "Could not notify a watcher of {Address}", _address);
            }
        }
    }

    /// <summary>
    /// What <paramref name="change"/> did to the folder of <paramref name="row"/>, for its watchers; null
    /// when it is too large to carry or changes what the folder is (a new UIDVALIDITY). Called after the
    /// commit and before the in-memory folder takes the change, so that folder still holds the MODSEQ before it.
    /// </summary>
    private FolderNotice? NoticeOf(MailboxChange change, FolderRow row)
    {
        if (!_folders.TryGetValue(row.Id, out var before) || before.UidValidity != row.UidValidity) return null;
        var added = change.Inserted.Where(m => m.FolderId == row.Id).ToList();
        var flags = change.FlagUpdates.Where(u => u.FolderId == row.Id).ToList();
        var expunged = change.Expunged.Where(e => e.Message.FolderId == row.Id).ToList();
        if (added.Count + flags.Count + expunged.Count > FolderNotice.MaxItems) return null;
        return new FolderNotice(row.Name, row.UidValidity, before.HighestModSeq, row.HighestModSeq, row.UidNext,
            added.Select(Meta).ToList(), flags.Select(u => new FlagNotice(u.Uid, u.Flags, u.Keywords, u.ModSeq)).ToList(),
            expunged.Select(e => e.Message.Uid).ToList());
    }

    // ---- delivery stream -------------------------------------------------------------------

    public async Task OnSubscribed(IStreamSubscriptionHandleFactory handleFactory)
    {
        await handleFactory.Create<DeliveryEvent>().ResumeAsync(this);
    }

    /// <summary>
    /// Events queued for this mailbox arrive together when it has fallen behind (the pulling
    /// agent hands over up to 32 at once). Those that all fit are placed in one transaction; if
    /// that cannot commit as a whole (a redelivered event among them, a refusal, no room for all),
    /// each is placed on its own, which sorts out the exceptions exactly as a single event would.
    /// </summary>
    public async Task OnNextAsync(IList<SequentialItem<DeliveryEvent>> items)
    {
        if (items.Count > 1 && await DeliverTogetherAsync(items)) return;
        foreach (var item in items) await DeliverAsync(item.Item);
    }

    private async Task<bool> DeliverTogetherAsync(IList<SequentialItem<DeliveryEvent>> items)
    {
        var first = items[0].Item;
        using var activity = GrainMail.Operations.GrainMailTracing.Source.StartActivity(
            "grainmail.deliver", System.Diagnostics.ActivityKind.Consumer, first.TraceParent,
            links: items.Skip(1).Select(i => i.Item.TraceParent)
                .Where(t => t is not null && System.Diagnostics.ActivityContext.TryParse(t, null, out _))
                .Select(t => new System.Diagnostics.ActivityLink(System.Diagnostics.ActivityContext.Parse(t!, null))));
        activity?.SetTag("grainmail.mailbox", _address);
        activity?.SetTag("grainmail.batch", items.Count);
        if (_mailbox is null) await LoadAsync(CancellationToken.None);
        if (_mailbox is null) return false;
        // The account's Sieve script decides each message's place: one at a time.
        if (await HasActiveSieveAsync()) return false;
        var ids = items.Select(i => i.Item.QueueRowId).ToList();
        var size = items.Sum(i => i.Item.Size);
        if (ids.Distinct().Count() != ids.Count || items.Select(i => i.Item.DeliveryId).Distinct().Count() != ids.Count) return false;
        // Copies judged spam go to Junk one by one (another folder than the rest).
        if (items.Any(i => i.Item.Junk)) return false;
        // The recipient policy is about this mailbox, not about each message: one call decides
        // for all, and the quota must hold for all of them together.
        if (await RefusalAsync(first with { Size = size }) is not null) return false;
        var inbox = _folders.Values.First(f => f.Use == SpecialUse.Inbox);
        var now = clock.GetUtcNow();
        var rows = items.Select((i, n) => new MessageRow(inbox.Id, inbox.UidNext + n, i.Item.BlobDomain, i.Item.BlobHash, i.Item.Size,
            MailboxStore.InZone(i.Item.ReceivedAt, null), MessageFlags.None, [], inbox.HighestModSeq + 1 + n, i.Item.DeliveryId, now, i.Item.ThreadId)).ToList();
        var change = NewChange();
        change.ConsumeQueueRows = ids;
        if (await InsertAsync(inbox, change, rows) != CommitOutcome.Committed) return false;
        GrainMail.Operations.GrainMailMeters.Delivered.Add(items.Count);
        foreach (var item in items.Select(i => i.Item))
        {
            // NOTIFY=SUCCESS (RFC 3461): the sender asked to hear of the final delivery.
            if (item.Dsn is not null && DsnRequest.Parse(item.Dsn).Default.Wants(DsnNotify.Success))
                await ReportAsync(item, new GrainMail.Outbound.RecipientResult(_address, GrainMail.Outbound.RecipientOutcome.Delivered, "250 2.0.0 Delivered", null));
        }
        return true;
    }

    private async Task DeliverAsync(DeliveryEvent item)
    {
        // A child of the span that committed the message, wherever and whenever that was.
        using var activity = GrainMail.Operations.GrainMailTracing.Source.StartActivity(
            "grainmail.deliver", System.Diagnostics.ActivityKind.Consumer, item.TraceParent);
        activity?.SetTag("grainmail.mailbox", _address);
        if (_mailbox is null)
        {
            // The account may have been created since this activation loaded.
            await LoadAsync(CancellationToken.None);
        }
        // Accepted with a 250 earlier, but things change: the same recipient policy as at RCPT
        // decides, and mail that cannot be placed goes back to its sender as a DSN.
        var refusal = await RefusalAsync(item);
        if (refusal is not null)
        {
            await RefuseAsync(item, refusal.Value.Reply, refusal.Value.Reason);
            return;
        }
        if (await DeliverThroughSieveAsync(item)) return;
        // Spam goes to the \Junk folder (RFC 6154) when the mailbox has one; else to INBOX, where the
        // X-Spam-Status header still says what the checks found.
        var inbox = (item.Junk ? _folders.Values.FirstOrDefault(f => f.Use == SpecialUse.Junk) : null)
            ?? _folders.Values.First(f => f.Use == SpecialUse.Inbox);
        // A delivery's INTERNALDATE is in the server's zone (as it reads back from storage).
        var row = new MessageRow(inbox.Id, inbox.UidNext, item.BlobDomain, item.BlobHash, item.Size, MailboxStore.InZone(item.ReceivedAt, null),
            MessageFlags.None, [], inbox.HighestModSeq + 1, item.DeliveryId, clock.GetUtcNow(), item.ThreadId);
        var change = NewChange();
        change.ConsumeQueueRow = item.QueueRowId;
        change.ConsumedReference = (item.BlobDomain, item.BlobHash);
        var outcome = await InsertAsync(inbox, change, [row]);
        if (outcome == CommitOutcome.Committed)
        {
            GrainMail.Operations.GrainMailMeters.Delivered.Add(1);
            // NOTIFY=SUCCESS (RFC 3461): the sender asked to hear of the final delivery.
            if (item.Dsn is not null && DsnRequest.Parse(item.Dsn).Default.Wants(DsnNotify.Success))
                await ReportAsync(item, new GrainMail.Outbound.RecipientResult(_address, GrainMail.Outbound.RecipientOutcome.Delivered, "250 2.0.0 Delivered", null));
        }
        if (outcome != CommitOutcome.Committed)
            logger.LogDebug("Delivery {Id} to {Address} was a duplicate ({Outcome})", item.DeliveryId, _address, outcome);
    }

    /// <summary>Why <paramref name="item"/> cannot be placed here (an SMTP reply and a short reason), or null.</summary>
    private async Task<(string Reply, string Reason)?> RefusalAsync(DeliveryEvent item)
    {
        if (_mailbox is null) return ("550 5.1.1 The recipient's mailbox no longer exists", "no_mailbox");
        var verdict = await GrainFactory.GetGrain<GrainMail.Contracts.Domains.IDomainGrain>(MailAddress.DomainOf(_address))
            .Resolve(MailAddress.LocalPartOf(_address), 0);
        if (verdict.Status == GrainMail.Contracts.Domains.RecipientStatus.Disabled)
            return ("550 5.2.1 The recipient's mailbox is disabled", "disabled");
        if (!verdict.Mailboxes.Contains(_address) && verdict.Status != GrainMail.Contracts.Domains.RecipientStatus.MailboxFull)
            return ("550 5.1.1 The recipient's account no longer exists", "no_account");
        // The mailbox's own count is the exact one.
        if (_mailbox.UsedBytes + item.Size > _mailbox.QuotaBytes)
            return ("552 5.2.2 The recipient's mailbox is full", "over_quota");
        return null;
    }

    /// <summary>
    /// The sender hears why (unless NOTIFY says not to), then the event becomes a dead letter that
    /// an operator can redeliver once the cause is mended. A report committed twice (a crash between
    /// the two steps) is the price of never losing one.
    /// </summary>
    private async Task RefuseAsync(DeliveryEvent item, string reply, string reason)
    {
        await ReportAsync(item, new GrainMail.Outbound.RecipientResult(_address, GrainMail.Outbound.RecipientOutcome.Failed, reply, null));
        await queue.DeadLetterAsync(item.QueueRowId, reply[4..]);
        GrainMail.Operations.GrainMailMeters.DeadLetters.Add(1, new KeyValuePair<string, object?>("reason", reason));
        logger.LogWarning("Delivery {Id} to {Address}: {Reply}; reported to the sender, dead-lettered", item.DeliveryId, _address, reply);
    }

    private async Task ReportAsync(DeliveryEvent item, GrainMail.Outbound.RecipientResult result)
    {
        var original = await blobs.ReadAsync(item.BlobDomain, item.BlobHash) ?? [];
        await reports.SendAsync(GrainFactory, item.Sender, item.Dsn, [result], original, item.ReceivedAt, MailAddress.DomainOf(_address));
    }

    public Task OnErrorAsync(Exception ex)
    {
        logger.LogWarning(ex, "Inbound stream error for {Address}", _address);
        return Task.CompletedTask;
    }

    // ---- helpers ---------------------------------------------------------------------------

    private async Task<CommitOutcome> InsertAsync(Folder f, MailboxChange change, IReadOnlyList<MessageRow> rows)
    {
        var c = f.Clone();
        foreach (var r in rows)
        {
            c.UidNext = Math.Max(c.UidNext, r.Uid + 1);
            c.HighestModSeq = Math.Max(c.HighestModSeq, r.ModSeq);
            c.Count++;
            c.Unseen += Unseen(r);
            c.Bytes += r.Size;
            change.UsedBytes += r.Size;
            change.Messages++;
        }
        change.Inserted.AddRange(rows);
        change.FolderUpdates.Add(c.ToRow());
        return await CommitAsync(change, () =>
        {
            Apply(f, c);
            f.Messages?.AddRange(rows);
        });
    }

    /// <summary>
    /// Takes messages out of a folder, leaving a tombstone each with the removal's MODSEQ (the
    /// folder's new one, in <paramref name="c"/>): QRESYNC reports them VANISHED after restarts too.
    /// </summary>
    private static void RemoveFrom(Folder c, List<MessageRow> gone, MailboxChange change, bool recoverable, DateTimeOffset now)
    {
        foreach (var m in gone)
        {
            change.Expunged.Add(new ExpungedMessage(m, c.UidValidity, c.HighestModSeq, c.Name, recoverable, now));
            c.Count--;
            c.Unseen -= Unseen(m);
            c.Bytes -= m.Size;
            change.UsedBytes -= m.Size;
            change.Messages--;
        }
    }

    private MailboxChange NewChange() => new()
    {
        UsedBytes = _mailbox!.UsedBytes,
        Messages = _mailbox.Messages,
        LastUidValidity = _mailbox.LastUidValidity,
    };

    /// <summary>
    /// Commits <paramref name="change"/> and, only when it committed, runs <paramref name="applied"/> (the
    /// caller's update of the in-memory state) in the same turn as the mailbox's own bookkeeping: read-only
    /// calls interleaved with this write (see the class comment) see memory either wholly
    /// before or wholly after the change, never half of it.
    /// </summary>
    private async Task<CommitOutcome> CommitAsync(MailboxChange change, Action? applied = null, bool notify = true)
    {
        // A message list being loaded must not race a commit (it could hold the change or not): let it finish first.
        while (_loads.Count > 0) await Task.WhenAll(_loads.ToArray()).ContinueWith(_ => { }, TaskScheduler.Current);
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _committing = done.Task;
        CommitOutcome outcome;
        try
        {
            try
            {
                outcome = await store.CommitAsync(_address, _mailbox!.Version, change);
            }
            catch (Exception)
            {
                // Fenced (another activation wrote: split brain or a stale activation), or the outcome is unknown:
                // the database went away with the COMMIT in flight, and a synchronous standby that has it may be
                // promoted. Either way this activation's version, UIDs and counts may be behind the database, so it
                // steps down; the caller sees an error and the next call activates afresh from the database. Without
                // this, a commit that landed unseen left the activation a version behind for good: its next insert
                // collided on a UID (mailbox_message_pkey) before the fence could say so, at every redelivery, and
                // the mailbox's deliveries stalled (the failover drill in session 13's CI: 633 messages).
                DeactivateOnIdle();
                throw;
            }
            if (outcome == CommitOutcome.Committed)
            {
                _mailbox = _mailbox with
                {
                    Version = _mailbox.Version + 1,
                    UsedBytes = change.UsedBytes,
                    Messages = change.Messages,
                    LastUidValidity = change.LastUidValidity,
                };
                // A \Recent claim made by a session while this commit was on its way is not in the row written.
                foreach (var row in change.FolderUpdates)
                    if (!_folders.TryGetValue(row.Id, out var f) || f.RecentFrom == row.RecentFrom) _recentUnsaved.Remove(row.Id);
                // The notices are worked out from the state before the change (NoticeOf, NotifyTreeWatchers) and
                // only sent here; a watcher's call back (GetChanges) is a new request that runs after this turn.
                if (notify) NotifyWatchers(change);
                if (notify) NotifyTreeWatchers(change);
                applied?.Invoke();
                ReportUsage();
            }
        }
        finally
        {
            _committing = null;
            done.SetResult();
        }
        return outcome;
    }

    private bool _reportedNearFull;

    /// <summary>
    /// Near its quota (or back from it) the mailbox tells its domain, one way, so that RCPT can
    /// refuse what will not fit; far from it, it says nothing and costs nothing.
    /// </summary>
    private void ReportUsage()
    {
        if (_mailbox is null) return;
        var near = _mailbox.QuotaBytes - _mailbox.UsedBytes < directory.NearFullMargin;
        if (!near && !_reportedNearFull) return;
        _reportedNearFull = near;
        GrainFactory.GetGrain<GrainMail.Contracts.Domains.IDomainGrain>(MailAddress.DomainOf(_address))
            .ReportUsage(MailAddress.LocalPartOf(_address), _mailbox.UsedBytes, _mailbox.QuotaBytes).Ignore();
    }

    private static void Apply(Folder f, Folder c)
    {
        f.UidNext = c.UidNext;
        f.HighestModSeq = c.HighestModSeq;
        f.Count = c.Count;
        f.Unseen = c.Unseen;
        f.Bytes = c.Bytes;
        f.Subscribed = c.Subscribed;
        f.Name = c.Name;
    }

    private long NextUidValidity(long last)
    {
        var now = clock.GetUtcNow().ToUnixTimeSeconds();
        var floor = Math.Max(last, _mailbox?.LastUidValidity ?? 0);
        return Math.Max(now, floor + 1);
    }

    private Folder? Find(string name)
    {
        var n = FolderNames.Normalize(name);
        return n is null ? null : _folders.Values.FirstOrDefault(f => f.Name == n);
    }

    /// <summary>
    /// The folder's message list, loaded on first use. Under interleaving (see the class comment)
    /// the load must neither miss nor double a change: it never starts while a commit is on its way (it waits
    /// for that commit and its in-memory update), and no commit starts while a load runs (CommitAsync waits
    /// for <see cref="_loads"/>). So the loaded rows are exactly the committed state that memory describes, and
    /// later writes add to the installed list. Concurrent callers share one load.
    /// </summary>
    private async Task<List<MessageRow>> MessagesOf(Folder f)
    {
        while (f.Messages is null)
        {
            if (_committing is { } committing)
            {
                await committing;
                continue;
            }
            var loading = f.Loading ??= LoadMessagesAsync(f);
            try
            {
                await loading;
            }
            finally
            {
                // A load that failed is not kept: the next caller tries again.
                if (ReferenceEquals(f.Loading, loading) && loading.IsCompleted) f.Loading = null;
            }
        }
        return f.Messages;
    }

    private async Task LoadMessagesAsync(Folder f)
    {
        var load = store.LoadMessagesAsync(_address, f.Id);
        _loads.Add(load);
        try
        {
            f.Messages ??= await load;
        }
        finally
        {
            _loads.Remove(load);
            f.Loading = null;
        }
    }

    /// <summary>Set while a commit is on its way to PostgreSQL; completes after its in-memory update.</summary>
    private Task? _committing;

    /// <summary>Message-list loads on their way; no commit starts until they are in.</summary>
    private readonly HashSet<Task> _loads = [];

    private static int Unseen(MessageRow m) => (m.Flags & MessageFlags.Seen) == 0 ? 1 : 0;

    private static string[] NormalizeKeywords(IReadOnlyList<string> keywords) =>
        keywords.Where(k => !string.IsNullOrWhiteSpace(k)).Distinct(StringComparer.OrdinalIgnoreCase).ToArray();

    private static int LowerBound(List<MessageRow> list, long uid)
    {
        int lo = 0, hi = list.Count;
        while (lo < hi)
        {
            var mid = (lo + hi) >>> 1;
            if (list[mid].Uid < uid) lo = mid + 1;
            else hi = mid;
        }
        return lo;
    }

    private static int IndexOf(List<MessageRow> list, long uid)
    {
        var i = LowerBound(list, uid);
        return i < list.Count && list[i].Uid == uid ? i : -1;
    }

    private static MessageMeta Meta(MessageRow m) => m.Meta;

    private static FolderInfo Info(Folder f) =>
        new(f.Name, f.Use, f.UidValidity, f.UidNext, f.HighestModSeq, f.Count, f.Unseen,
            // The list is in UID order, so the recent ones are found by a binary search: ListFolders walked the folder for
            // them, and every JMAP method call's view refresh asks for ListFolders (issue 18, session 9: most of a refresh
            // on a 100,000-message INBOX).
            f.Messages is null ? (int)Math.Clamp(f.UidNext - f.RecentFrom, 0, f.Count) : f.Messages.Count - LowerBound(f.Messages, f.RecentFrom),
            f.Bytes, f.Subscribed, f.Id);
}

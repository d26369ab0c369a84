using GrainMail.Contracts.Mailboxes;
using Microsoft.Extensions.Caching.Memory;
using GrainMail.Gateways.Common.Objects;

namespace GrainMail.Gateways.Jmap.Mail;

/// <summary>One copy of a message: a folder's UID with its flags, and the Email id (RFC 8474 EMAILID) it shares with its other copies.</summary>
public sealed record EmailCopy(string EmailId, int FolderId, MessageMeta Meta);

/// <summary>A folder as the view holds it: its info, its copies by UID, and what left it since the view began watching.</summary>
public sealed class FolderView(FolderInfo info, string mailboxId, long baseline)
{
    public FolderInfo Info { get; set; } = info;
    public string MailboxId => mailboxId;

    /// <summary>The modseq from which <see cref="Removed"/> is complete.</summary>
    public long Baseline => baseline;

    public SortedDictionary<long, EmailCopy> ByUid { get; } = [];

    /// <summary>Email ids that left this folder, with the modseq the view first saw them gone at and their stored thread id.</summary>
    public List<(long ModSeq, string EmailId, string? ThreadId)> Removed { get; } = [];

    // Mailbox/get's counts (RFC 8621 2), kept as copies come and go so that a read does not walk the folder
    // (issue 18: counting 100,000 copies per request took over 100 ms). Threads by stored thread id.
    private readonly Dictionary<string, (int Copies, int Unread)> _threads = new(StringComparer.Ordinal);

    /// <summary>Copies without the \Seen flag (IMAP's UNSEEN, JMAP's unreadEmails).</summary>
    public int UnreadEmails { get; private set; }

    /// <summary>Threads with a copy in this folder, when <see cref="ThreadCountsExact"/>.</summary>
    public int TotalThreads => _threads.Count;

    /// <summary>Threads with an unread copy in this folder, when <see cref="ThreadCountsExact"/>.</summary>
    public int UnreadThreads { get; private set; }

    /// <summary>Copies stored without a thread id (not yet backfilled): the thread counts then need the headers.</summary>
    public int CopiesWithoutThreadId { get; private set; }

    public bool ThreadCountsExact => CopiesWithoutThreadId == 0;

    internal void Counted(EmailCopy copy, int sign)
    {
        var unread = (copy.Meta.Flags & MessageFlags.Seen) == 0 ? 1 : 0;
        UnreadEmails += sign * unread;
        if (copy.Meta.ThreadId is not { } thread)
        {
            CopiesWithoutThreadId += sign;
            return;
        }
        var (copies, unreadCopies) = _threads.GetValueOrDefault(thread);
        var wasUnread = unreadCopies > 0;
        copies += sign;
        unreadCopies += sign * unread;
        if (copies <= 0) _threads.Remove(thread);
        else _threads[thread] = (copies, unreadCopies);
        var isUnread = copies > 0 && unreadCopies > 0;
        if (isUnread != wasUnread) UnreadThreads += isUnread ? 1 : -1;
    }
}

/// <summary>
/// The gateway's picture of one account's mailbox for JMAP: every folder's messages (UID, blob,
/// flags, modseq) kept current from the mailbox grain by modseq (GetChanges), as an IMAP session
/// keeps its selected folder. Queries, /get and /changes read it instead of fetching 100,000 metas
/// per call; the grain stays the one writer and the one source of the state.
/// </summary>
public sealed class MailView(string address)
{
    private readonly SemaphoreSlim _lock = new(1, 1);
    private readonly Dictionary<int, FolderView> _folders = [];
    private readonly Dictionary<string, List<EmailCopy>> _byEmail = new(StringComparer.Ordinal);
    private readonly List<(FolderMark Mark, List<string> EmailIds, Dictionary<string, string> Threads)> _droppedFolders = [];
    private readonly Dictionary<string, IReadOnlyList<string>> _queryCache = new(StringComparer.Ordinal);

    // Emails by their stored thread id (issue 18): Thread/get and collapseThreads read no message.
    private readonly Dictionary<string, HashSet<string>> _byThread = new(StringComparer.Ordinal);
    private int _copiesWithoutThreadId;

    public string Address => address;

    public string State { get; private set; } = "";

    public IReadOnlyCollection<FolderView> Folders => _folders.Values;

    public FolderView? Folder(int id) => _folders.GetValueOrDefault(id);

    public FolderView? FolderByMailboxId(string mailboxId) => _folders.Values.FirstOrDefault(f => f.MailboxId == mailboxId);

    public IReadOnlyList<EmailCopy> Copies(string emailId) => _byEmail.TryGetValue(emailId, out var l) ? l : [];

    public IEnumerable<string> EmailIds => _byEmail.Keys;

    public int EmailCount => _byEmail.Count;

    /// <summary>Folders deleted while watched: their mark, the Email ids they held and those Emails' stored thread ids.</summary>
    public IReadOnlyList<(FolderMark Mark, List<string> EmailIds, Dictionary<string, string> Threads)> DroppedFolders => _droppedFolders;

    /// <summary>A query's ids cached for the current state (cleared on every change).</summary>
    public IReadOnlyList<string>? CachedQuery(string key) => _queryCache.GetValueOrDefault(key);

    /// <summary>
    /// Whether every message in the view has its thread id stored (a mailbox not yet backfilled
    /// has some without): then <see cref="ThreadMembers"/> is complete.
    /// </summary>
    public bool ThreadsStored => _copiesWithoutThreadId == 0;

    /// <summary>The Email ids of a thread, by the stored thread ids; null when none has it.</summary>
    public IReadOnlyCollection<string>? ThreadMembers(string threadId) => _byThread.GetValueOrDefault(threadId);

    /// <summary>Every thread id with its Email ids (only complete when <see cref="ThreadsStored"/>).</summary>
    public IEnumerable<KeyValuePair<string, HashSet<string>>> StoredThreads => _byThread;

    /// <summary>The account's threads built for the current state (cleared on every change, like the query cache).</summary>
    public object? CachedThreads { get; set; }

    public void CacheQuery(string key, IReadOnlyList<string> ids)
    {
        if (_queryCache.Count >= 16) _queryCache.Clear();
        _queryCache[key] = ids;
    }

    public async Task<IDisposable> LockAsync(CancellationToken ct)
    {
        await _lock.WaitAsync(ct);
        return new Releaser(_lock);
    }

    /// <summary>Brings the view up to the grain's current state: one ListFolders, then GetChanges for the folders whose modseq moved.</summary>
    public async Task RefreshAsync(IMailboxGrain grain)
    {
        var folders = await grain.ListFolders();
        var seen = new HashSet<int>();
        var changed = false;
        foreach (var info in folders)
        {
            seen.Add(info.FolderId);
            if (_folders.TryGetValue(info.FolderId, out var view) && view.Info.UidValidity == info.UidValidity)
            {
                if (view.Info.HighestModSeq != info.HighestModSeq || view.Info.UidNext != info.UidNext)
                {
                    await ApplyChangesAsync(grain, view, info);
                    changed = true;
                }
                if (view.Info != info) changed = true;
                view.Info = info;
                continue;
            }
            if (view is not null) Drop(view);
            var snapshot = await grain.Open(info.Name, claimRecent: false);
            var fresh = new FolderView(snapshot?.Info ?? info, ObjectIds.MailboxId(address, info), (snapshot?.Info ?? info).HighestModSeq);
            _folders[info.FolderId] = fresh;
            foreach (var m in snapshot?.Messages ?? []) Add(fresh, m);
            changed = true;
        }
        foreach (var gone in _folders.Values.Where(f => !seen.Contains(f.Info.FolderId)).ToList())
        {
            Drop(gone);
            changed = true;
        }
        if (changed || State.Length == 0)
        {
            _queryCache.Clear();
            CachedThreads = null;
            State = MailState.Of(_folders.Values.Select(f => f.Info));
        }
    }

    private async Task ApplyChangesAsync(IMailboxGrain grain, FolderView view, FolderInfo info)
    {
        var changes = await grain.GetChanges(info.Name, view.Info.HighestModSeq);
        if (changes is null) return;
        var at = changes.HighestModSeq;
        if (changes.Expunged is { } expunged)
            foreach (var uid in expunged) Remove(view, uid, at);
        if (changes.AllUids is { } all)
        {
            var keep = all.ToHashSet();
            foreach (var uid in view.ByUid.Keys.Where(u => !keep.Contains(u)).ToList()) Remove(view, uid, at);
        }
        foreach (var m in changes.Changed)
        {
            if (view.ByUid.ContainsKey(m.Uid)) Remove(view, m.Uid, null);
            Add(view, m);
        }
    }

    private void Add(FolderView view, MessageMeta meta)
    {
        var copy = new EmailCopy(ObjectIds.EmailId(meta.Blob), view.Info.FolderId, meta);
        if (view.ByUid.TryGetValue(meta.Uid, out var replaced)) view.Counted(replaced, -1);
        view.ByUid[meta.Uid] = copy;
        view.Counted(copy, +1);
        if (!_byEmail.TryGetValue(copy.EmailId, out var list)) _byEmail[copy.EmailId] = list = [];
        list.Add(copy);
        if (meta.ThreadId is { } thread)
        {
            if (!_byThread.TryGetValue(thread, out var members)) _byThread[thread] = members = new(StringComparer.Ordinal);
            members.Add(copy.EmailId);
        }
        else _copiesWithoutThreadId++;
    }

    private void Remove(FolderView view, long uid, long? removedAt)
    {
        if (!view.ByUid.Remove(uid, out var copy)) return;
        view.Counted(copy, -1);
        if (_byEmail.TryGetValue(copy.EmailId, out var list))
        {
            list.RemoveAll(c => c.FolderId == copy.FolderId && c.Meta.Uid == uid);
            if (list.Count == 0) _byEmail.Remove(copy.EmailId);
        }
        if (copy.Meta.ThreadId is not { } thread) _copiesWithoutThreadId--;
        else if (!_byEmail.ContainsKey(copy.EmailId) && _byThread.TryGetValue(thread, out var members))
        {
            members.Remove(copy.EmailId);
            if (members.Count == 0) _byThread.Remove(thread);
        }
        if (removedAt is long at) view.Removed.Add((at, copy.EmailId, copy.Meta.ThreadId));
    }

    private void Drop(FolderView view)
    {
        var ids = view.ByUid.Values.Select(c => c.EmailId).ToList();
        var threads = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var c in view.ByUid.Values)
            if (c.Meta.ThreadId is { } t) threads[c.EmailId] = t;
        foreach (var uid in view.ByUid.Keys.ToList()) Remove(view, uid, null);
        _folders.Remove(view.Info.FolderId);
        _droppedFolders.Add((MailState.Mark(view.Info), ids, threads));
        if (_droppedFolders.Count > 64) _droppedFolders.RemoveAt(0);
    }

    private sealed class Releaser(SemaphoreSlim s) : IDisposable
    {
        public void Dispose() => s.Release();
    }
}

/// <summary>The views of this gateway process, one per account, dropped after a while unused.</summary>
public sealed class MailViews : IDisposable
{
    private readonly MemoryCache _views = new(new MemoryCacheOptions());

    public MailView Of(string address) =>
        _views.GetOrCreate(address, e =>
        {
            e.SlidingExpiration = TimeSpan.FromMinutes(15);
            return new MailView(address);
        })!;

    public void Dispose() => _views.Dispose();
}

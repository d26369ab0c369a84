namespace GrainMail.Contracts.Mailboxes;

/// <summary>
/// A user's mail store, keyed by the normalised address: folders, UIDs, flags, MODSEQ,
/// quota. The single writer of that state; every change is committed to PostgreSQL
/// before the call returns. Bodies live in the blob store and are referenced by id.
/// </summary>
/// <remarks>
/// Methods marked <c>[AlwaysInterleave]</c> only read (or touch in-memory session marks): they run while a
/// write waits on PostgreSQL. The grain's class comment lists the invariants that make this safe; a new
/// read method may take the attribute only if it answers from memory in one turn after its last await.
/// </remarks>
public interface IMailboxGrain : GrainMail.Contracts.Regions.ILocatableGrain
{
    /// <summary>The account's Sieve scripts changed: read them again before the next delivery.</summary>
    [Orleans.Concurrency.OneWay]
    Task SieveChanged();

    /// <summary>Creates the mailbox with its special-use folders; idempotent.</summary>
    Task Provision(long quotaBytes);

    /// <summary>Removes the mailbox, its folders and its references to blobs.</summary>
    Task Destroy();

    [Retryable, Orleans.ResponseTimeout(CallTimeouts.LoginRead)]
    [Orleans.Concurrency.AlwaysInterleave]
    Task<bool> Exists();

    Task SetQuota(long quotaBytes);

    [Retryable]
    [Orleans.Concurrency.AlwaysInterleave]
    Task<QuotaInfo> GetQuota();

    [Retryable]
    [Orleans.Concurrency.AlwaysInterleave]
    Task<IReadOnlyList<FolderInfo>> ListFolders();

    [Retryable]
    [Orleans.Concurrency.AlwaysInterleave]
    Task<FolderInfo?> GetFolder(string name);

    Task<MailboxOpResult> CreateFolder(string name);

    Task<MailboxOpResult> RenameFolder(string from, string to);

    Task<MailboxOpResult> DeleteFolder(string name);

    /// <summary>Subscribes or unsubscribes a name, whether a folder has it or not (RFC 3501 6.3.6).</summary>
    Task<MailboxOpResult> Subscribe(string name, bool subscribed);

    /// <summary>Every subscribed name, existing as a folder or not (LSUB, LIST (SUBSCRIBED)).</summary>
    [Retryable]
    [Orleans.Concurrency.AlwaysInterleave]
    Task<IReadOnlyList<string>> ListSubscriptions();

    /// <summary>Stores a message (IMAP APPEND, saving to Sent): blob and index in one transaction.</summary>
    Task<AppendResult> Append(string folder, byte[] raw, MessageFlags flags, IReadOnlyList<string> keywords, DateTimeOffset? internalDate);

    /// <summary>Messages of a folder whose UID lies in [first, last], in UID order.</summary>
    [Retryable]
    [Orleans.Concurrency.AlwaysInterleave]
    Task<IReadOnlyList<MessageMeta>> GetMessages(string folder, long firstUid, long lastUid);

    [Retryable]
    Task<StoreResult> StoreFlags(string folder, IReadOnlyList<long> uids, FlagChange change);

    Task<CopyResult> Copy(string folder, IReadOnlyList<long> uids, string target);

    Task<CopyResult> Move(string folder, IReadOnlyList<long> uids, string target);

    /// <summary>Removes the messages flagged \Deleted (only those among <paramref name="uids"/> when given).</summary>
    Task<ExpungeResult> Expunge(string folder, IReadOnlyList<long>? uids);

    /// <summary>
    /// Opens a folder for a session (IMAP SELECT/EXAMINE, POP3): every message, and the UID from
    /// which messages are \Recent to this session. With <paramref name="claimRecent"/> the
    /// session takes the \Recent messages for itself (RFC 3501: only one session sees them).
    /// </summary>
    [Retryable]
    [Orleans.Concurrency.AlwaysInterleave]
    Task<FolderSnapshot?> Open(string folder, bool claimRecent);

    /// <summary>
    /// A session learnt of new messages up to <paramref name="throughUid"/>: it takes \Recent for
    /// those no session has taken yet (RFC 3501 2.3.2: recent in exactly one session). Returns the
    /// first UID it took; it holds [returned, <paramref name="throughUid"/>], nothing when the
    /// returned UID is larger.
    /// </summary>
    [Orleans.Concurrency.AlwaysInterleave]
    Task<long> TakeRecent(string folder, long throughUid);

    /// <summary>
    /// What changed in a folder after <paramref name="sinceModSeq"/>: new and re-flagged messages,
    /// and the expunged UIDs when this activation knows them (else every current UID, to diff).
    /// </summary>
    [Retryable]
    [Orleans.Concurrency.AlwaysInterleave]
    Task<FolderChanges?> GetChanges(string folder, long sinceModSeq);

    /// <summary>
    /// Sends <paramref name="observer"/> a notice after every change to the folder, for a few
    /// minutes: sessions renew the watch while they stay on the folder.
    /// </summary>
    [Retryable]
    [Orleans.Concurrency.AlwaysInterleave]
    Task<long?> Watch(IMailboxObserver observer, string folder);

    [Retryable]
    [Orleans.Concurrency.AlwaysInterleave]
    Task Unwatch(IMailboxObserver observer);

    /// <summary>
    /// Registers a watch on every folder (IMAP NOTIFY): each committed change is sent as one
    /// <see cref="MailboxTreeNotice"/>. Renewed like <see cref="Watch"/>; forgotten after three minutes without.
    /// </summary>
    [Retryable]
    [Orleans.Concurrency.AlwaysInterleave]
    Task WatchTree(IMailboxTreeObserver observer);

    [Retryable]
    [Orleans.Concurrency.AlwaysInterleave]
    Task UnwatchTree(IMailboxTreeObserver observer);

    /// <summary>
    /// Deleted-mail recovery (issue 17, 4.3.10): messages the user expunged or deleted with a folder
    /// within the domain's recovery window, newest first. They do not count towards the quota.
    /// </summary>
    [Retryable]
    Task<IReadOnlyList<DeletedMessage>> ListDeleted();

    /// <summary>
    /// Puts recoverable messages back, each into the folder it was removed from (the same folder, not
    /// one re-created under its name), or INBOX when that is gone, under a new UID; open sessions hear
    /// of them as new messages. All or nothing: an unknown or expired id, or too little quota, changes nothing.
    /// </summary>
    Task<RestoreResult> RestoreDeleted(IReadOnlyList<long> ids);

    /// <summary>
    /// Purges what was removed before the recovery window (blob references released; a blob shared
    /// with another copy stays). The mailbox's reminder calls it; returns how many rows went.
    /// </summary>
    Task<int> PurgeDeleted();
}

/// <summary>A session that wants to hear about changes (IMAP IDLE and untagged updates).</summary>
public interface IMailboxObserver : IGrainObserver
{
    /// <summary>
    /// The folder's HIGHESTMODSEQ is now <paramref name="highestModSeq"/>; details come from GetChanges.
    /// <see cref="MailboxNotices.Rewatch"/> instead: the activation is going away, watch again.
    /// </summary>
    [Orleans.Concurrency.OneWay]
    Task FolderChanged(string folder, long highestModSeq);

    /// <summary>
    /// A small change with its content (instead of <see cref="FolderChanged"/>): the watcher may
    /// apply it without GetChanges when its view stands at <see cref="FolderNotice.FromModSeq"/>.
    /// </summary>
    [Orleans.Concurrency.OneWay]
    Task FolderChangedWith(FolderNotice notice);
}

public static class MailboxNotices
{
    /// <summary>The HIGHESTMODSEQ of a notice that asks the watcher to register again.</summary>
    public const long Rewatch = -1;
}

[GenerateSerializer, Immutable]
public sealed record FolderSnapshot(
    [property: Id(0)] FolderInfo Info,
    [property: Id(1)] IReadOnlyList<MessageMeta> Messages,
    [property: Id(2)] long RecentFrom);

[GenerateSerializer, Immutable]
public sealed record FolderChanges(
    [property: Id(0)] long UidValidity,
    [property: Id(1)] long HighestModSeq,
    [property: Id(2)] long UidNext,
    [property: Id(3)] IReadOnlyList<MessageMeta> Changed,
    [property: Id(4)] IReadOnlyList<long>? Expunged,
    [property: Id(5)] IReadOnlyList<long>? AllUids);

[Flags]
public enum MessageFlags
{
    None = 0,
    Seen = 1,
    Answered = 2,
    Flagged = 4,
    Deleted = 8,
    Draft = 16,
}

public enum SpecialUse
{
    None,
    Inbox,
    Sent,
    Drafts,
    Trash,
    Junk,
    Archive,
}

[GenerateSerializer, Immutable]
public sealed record BlobRef(
    [property: Id(0)] string Domain,
    [property: Id(1)] byte[] Hash,
    [property: Id(2)] long Size);

[GenerateSerializer, Immutable]
public sealed record FolderInfo(
    [property: Id(0)] string Name,
    [property: Id(1)] SpecialUse SpecialUse,
    [property: Id(2)] long UidValidity,
    [property: Id(3)] long UidNext,
    [property: Id(4)] long HighestModSeq,
    [property: Id(5)] int Messages,
    [property: Id(6)] int Unseen,
    [property: Id(7)] int Recent,
    [property: Id(8)] long Bytes,
    [property: Id(9)] bool Subscribed,
    [property: Id(10)] int FolderId = 0);

/// <summary>
/// One message of a folder. <see cref="ThreadId"/> is the thread id stored with it (<see cref="ThreadIds"/>),
/// null for a message stored without one and not yet backfilled: readers then compute it from the headers.
/// </summary>
[GenerateSerializer, Immutable]
public sealed record MessageMeta(
    [property: Id(0)] long Uid,
    [property: Id(1)] BlobRef Blob,
    [property: Id(2)] DateTimeOffset InternalDate,
    [property: Id(3)] MessageFlags Flags,
    [property: Id(4)] IReadOnlyList<string> Keywords,
    [property: Id(5)] long ModSeq,
    [property: Id(6)] DateTimeOffset? SaveDate = null,
    [property: Id(7)] string? ThreadId = null);

[GenerateSerializer, Immutable]
public sealed record QuotaInfo(
    [property: Id(0)] long LimitBytes,
    [property: Id(1)] long UsedBytes,
    [property: Id(2)] int Messages);

public enum FlagChangeMode
{
    Add,
    Remove,
    Replace,
}

[GenerateSerializer, Immutable]
public sealed record FlagChange(
    [property: Id(0)] FlagChangeMode Mode,
    [property: Id(1)] MessageFlags Flags,
    [property: Id(2)] IReadOnlyList<string> Keywords,
    [property: Id(3)] long? UnchangedSince = null);

public enum MailboxOpStatus
{
    Ok,
    NoSuchMailbox,
    NoSuchFolder,
    FolderExists,
    InvalidName,
    NotAllowed,
    OverQuota,
}

[GenerateSerializer, Immutable]
public sealed record MailboxOpResult([property: Id(0)] MailboxOpStatus Status)
{
    public static readonly MailboxOpResult Ok = new(MailboxOpStatus.Ok);
}

[GenerateSerializer, Immutable]
public sealed record AppendResult(
    [property: Id(0)] MailboxOpStatus Status,
    [property: Id(1)] long UidValidity,
    [property: Id(2)] long Uid);

[GenerateSerializer, Immutable]
public sealed record StoreResult(
    [property: Id(0)] MailboxOpStatus Status,
    [property: Id(1)] IReadOnlyList<MessageMeta> Changed,
    [property: Id(2)] IReadOnlyList<long> FailedUnchangedSince,
    [property: Id(3)] IReadOnlyList<long>? Gone = null);

[GenerateSerializer, Immutable]
public sealed record CopyResult(
    [property: Id(0)] MailboxOpStatus Status,
    [property: Id(1)] long TargetUidValidity,
    [property: Id(2)] IReadOnlyList<long> SourceUids,
    [property: Id(3)] IReadOnlyList<long> TargetUids);

[GenerateSerializer, Immutable]
public sealed record ExpungeResult(
    [property: Id(0)] MailboxOpStatus Status,
    [property: Id(1)] IReadOnlyList<long> Uids);

/// <summary>A message that can still be restored (deleted-mail recovery).</summary>
[GenerateSerializer, Immutable]
public sealed record DeletedMessage(
    [property: Id(0)] long Id,
    [property: Id(1)] string Folder,
    [property: Id(2)] BlobRef Blob,
    [property: Id(3)] DateTimeOffset InternalDate,
    [property: Id(4)] DateTimeOffset DeletedAt,
    [property: Id(5)] DateTimeOffset RecoverableUntil,
    [property: Id(6)] MessageFlags Flags);

/// <summary>Where each restored message went: the folder and its new UID.</summary>
[GenerateSerializer, Immutable]
public sealed record RestoredMessage(
    [property: Id(0)] long Id,
    [property: Id(1)] string Folder,
    [property: Id(2)] long UidValidity,
    [property: Id(3)] long Uid);

public enum RestoreStatus
{
    Ok,
    NoSuchMailbox,
    /// <summary>An id is unknown, restored already, or past the recovery window.</summary>
    NotRecoverable,
    OverQuota,
}

[GenerateSerializer, Immutable]
public sealed record RestoreResult(
    [property: Id(0)] RestoreStatus Status,
    [property: Id(1)] IReadOnlyList<RestoredMessage> Restored);

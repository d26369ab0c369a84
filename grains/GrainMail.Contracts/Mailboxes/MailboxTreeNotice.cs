namespace GrainMail.Contracts.Mailboxes;

/// <summary>
/// A session that wants to hear about every folder of a mailbox: IMAP NOTIFY (RFC 5465), which
/// reports new and expunged messages and flag changes of mailboxes that are not selected, and
/// mailboxes created, deleted, renamed, subscribed and unsubscribed.
/// </summary>
public interface IMailboxTreeObserver : IGrainObserver
{
    /// <summary>What one committed change did to the folders; <see cref="MailboxTreeNotice.Rewatch"/>: register again.</summary>
    [Orleans.Concurrency.OneWay]
    Task TreeChanged(MailboxTreeNotice notice);
}

/// <summary>One committed change as the tree's watchers hear of it: an event per folder touched.</summary>
[GenerateSerializer, Immutable]
public sealed record MailboxTreeNotice(
    [property: Id(0)] IReadOnlyList<FolderEvent> Events,
    [property: Id(1)] bool Rewatch = false);

/// <summary>What happened to a folder.</summary>
public enum FolderEventKind
{
    /// <summary>Messages were added, expunged or re-flagged; <see cref="FolderEvent.Status"/> has the counters after.</summary>
    Messages,
    Created,
    Deleted,
    /// <summary>Renamed from <see cref="FolderEvent.OldName"/>.</summary>
    Renamed,
    Subscribed,
    Unsubscribed,
}

/// <summary>
/// One folder's part of a change: for <see cref="FolderEventKind.Messages"/> how many messages were
/// added, expunged and re-flagged, and the folder's counters after the change (for untagged STATUS).
/// </summary>
[GenerateSerializer, Immutable]
public sealed record FolderEvent(
    [property: Id(0)] FolderEventKind Kind,
    [property: Id(1)] string Name,
    [property: Id(2)] string? OldName = null,
    [property: Id(3)] FolderInfo? Status = null,
    [property: Id(4)] int Added = 0,
    [property: Id(5)] int Expunged = 0,
    [property: Id(6)] int FlagChanges = 0);

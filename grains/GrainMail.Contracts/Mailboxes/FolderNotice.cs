namespace GrainMail.Contracts.Mailboxes;

/// <summary>
/// One committed change to a folder as its watchers hear of it, with its content: the messages
/// added, the flag changes and the UIDs expunged, so that a session can update its view without
/// asking the grain (GetChanges). <see cref="FromModSeq"/> is the folder's HIGHESTMODSEQ before the
/// change: a session whose view stands exactly there applies it; any other (a notice that came late
/// or one that never came) asks GetChanges instead, so nothing is missed and nothing told twice.
/// Large changes come without their content, as <see cref="IMailboxObserver.FolderChanged"/>.
/// </summary>
[GenerateSerializer, Immutable]
public sealed record FolderNotice(
    [property: Id(0)] string Folder,
    [property: Id(1)] long UidValidity,
    [property: Id(2)] long FromModSeq,
    [property: Id(3)] long HighestModSeq,
    [property: Id(4)] long UidNext,
    [property: Id(5)] IReadOnlyList<MessageMeta> Added,
    [property: Id(6)] IReadOnlyList<FlagNotice> FlagChanges,
    [property: Id(7)] IReadOnlyList<long> Expunged)
{
    /// <summary>Above this many messages a change is announced without its content.</summary>
    public const int MaxItems = 200;
}

/// <summary>A message's flags and keywords after a change, at <see cref="ModSeq"/>.</summary>
[GenerateSerializer, Immutable]
public sealed record FlagNotice(
    [property: Id(0)] long Uid,
    [property: Id(1)] MessageFlags Flags,
    [property: Id(2)] IReadOnlyList<string> Keywords,
    [property: Id(3)] long ModSeq);

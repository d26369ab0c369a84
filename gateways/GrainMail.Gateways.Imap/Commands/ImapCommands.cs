using GrainMail.Contracts.Mailboxes;
using GrainMail.Gateways.Imap.Protocol;
using GrainMail.Gateways.Imap.Search;

namespace GrainMail.Gateways.Imap.Commands;

/// <summary>
/// One IMAP command as parsed by <see cref="ImapCommandParser"/>: its tag, its name (the verb in
/// upper case; "UID" for the UID forms) and typed arguments, or an <see cref="ImapParseError"/>.
/// Adding a command is one record here, one case in the parser and one handler in the session.
/// Mailbox names are decoded already (modified UTF-7, or UTF-8 after ENABLE UTF8=ACCEPT).
/// </summary>
internal abstract record ImapCommand(string Tag, string Name);

/// <summary>A command that could not be read: answered <c>tag BAD reason</c> (after the state checks).</summary>
internal sealed record ImapParseError(string Tag, string Name, string Reason) : ImapCommand(Tag, Name);

/// <summary>
/// A command whose syntax is right but whose mailbox name cannot be one: not valid or not canonical
/// modified UTF-7 (RFC 3501 5.1.3). Answered <c>tag NO [CANNOT] reason</c>: the client sent a
/// well-formed command about a name the server refuses, which is not a protocol error.
/// </summary>
internal sealed record InvalidMailboxName(string Tag, string Name, string Reason) : ImapCommand(Tag, Name);

// Any state (RFC 3501 6.1).
internal sealed record CapabilityCommand(string Tag) : ImapCommand(Tag, "CAPABILITY");

internal sealed record NoopCommand(string Tag) : ImapCommand(Tag, "NOOP");

internal sealed record LogoutCommand(string Tag) : ImapCommand(Tag, "LOGOUT");

/// <summary>RFC 2971 ID: the client's fields are read and ignored.</summary>
/// <summary>RFC 2971 ID: the client's identification fields (name, version, ...).</summary>
internal sealed record IdCommand(string Tag, IReadOnlyDictionary<string, string?> Fields) : ImapCommand(Tag, "ID");

// Not authenticated (RFC 3501 6.2).
internal sealed record StartTlsCommand(string Tag) : ImapCommand(Tag, "STARTTLS");

internal sealed record LoginCommand(string Tag, string User, string Secret) : ImapCommand(Tag, "LOGIN");

/// <summary>AUTHENTICATE with an optional SASL-IR initial response (RFC 4959).</summary>
internal sealed record AuthenticateCommand(string Tag, string Mechanism, string? InitialResponse) : ImapCommand(Tag, "AUTHENTICATE");

// Authenticated (RFC 3501 6.3 and extensions).
internal sealed record EnableCommand(string Tag, IReadOnlyList<string> Capabilities) : ImapCommand(Tag, "ENABLE");

internal sealed record NamespaceCommand(string Tag) : ImapCommand(Tag, "NAMESPACE");

/// <summary>
/// LIST or LSUB with RFC 5258 LIST-EXTENDED selection and return options (RFC 6154 SPECIAL-USE,
/// RFC 5819 LIST-STATUS). <see cref="Patterns"/> are as sent (decoded when matched).
/// </summary>
internal sealed record ListCommand(
    string Tag, bool Lsub, string Reference, IReadOnlyList<string> Patterns,
    bool SubscribedOnly, bool SpecialUseOnly, bool RecursiveMatch,
    bool ReturnSubscribed, bool ReturnChildren, bool ReturnSpecialUse, IReadOnlyList<string>? ReturnStatus)
    : ImapCommand(Tag, Lsub ? "LSUB" : "LIST");

internal sealed record SubscribeCommand(string Tag, string Mailbox, bool Subscribe) : ImapCommand(Tag, Subscribe ? "SUBSCRIBE" : "UNSUBSCRIBE");

internal sealed record CreateCommand(string Tag, string Mailbox) : ImapCommand(Tag, "CREATE");

internal sealed record DeleteCommand(string Tag, string Mailbox) : ImapCommand(Tag, "DELETE");

internal sealed record RenameCommand(string Tag, string From, string To) : ImapCommand(Tag, "RENAME");

/// <summary>SELECT or EXAMINE, with the RFC 7162 CONDSTORE and QRESYNC parameters.</summary>
internal sealed record SelectCommand(string Tag, string Mailbox, bool ReadOnly, bool Condstore, QresyncParameters? Qresync = null)
    : ImapCommand(Tag, ReadOnly ? "EXAMINE" : "SELECT");

internal sealed record StatusCommand(string Tag, string Mailbox, IReadOnlyList<string> Items) : ImapCommand(Tag, "STATUS");

/// <summary>APPEND; <see cref="Binary"/>: the message came as a literal8 (RFC 3516 4.4).</summary>
internal sealed record AppendCommand(string Tag, string Mailbox, MessageFlags Flags, IReadOnlyList<string> Keywords, DateTimeOffset? Date, byte[] Message,
    bool Binary = false)
    : ImapCommand(Tag, "APPEND");

internal sealed record GetQuotaRootCommand(string Tag, string Mailbox) : ImapCommand(Tag, "GETQUOTAROOT");

internal sealed record GetQuotaCommand(string Tag, string Root) : ImapCommand(Tag, "GETQUOTA");

internal sealed record SetQuotaCommand(string Tag) : ImapCommand(Tag, "SETQUOTA");

internal sealed record IdleCommand(string Tag) : ImapCommand(Tag, "IDLE");

// Selected (RFC 3501 6.4 and extensions). Uid: the UID form (numbers in the set are UIDs).
internal sealed record CheckCommand(string Tag) : ImapCommand(Tag, "CHECK");

/// <summary>CLOSE (expunges silently) or UNSELECT (RFC 3691, does not).</summary>
internal sealed record CloseCommand(string Tag, bool Expunge) : ImapCommand(Tag, Expunge ? "CLOSE" : "UNSELECT");

/// <summary>EXPUNGE, or UID EXPUNGE of a set (RFC 4315).</summary>
internal sealed record ExpungeCommand(string Tag, SequenceSet? UidSet) : ImapCommand(Tag, UidSet is null ? "EXPUNGE" : "UID");

/// <summary>FETCH with the RFC 7162 modifiers CHANGEDSINCE and (UID FETCH only) VANISHED.</summary>
internal sealed record FetchCommand(string Tag, bool Uid, SequenceSet Set, IReadOnlyList<FetchItem> Items, long? ChangedSince, bool Vanished = false)
    : ImapCommand(Tag, Uid ? "UID" : "FETCH");

internal sealed record StoreCommand(
    string Tag, bool Uid, SequenceSet Set, long? UnchangedSince, FlagChangeMode Mode, bool Silent, MessageFlags Flags, IReadOnlyList<string> Keywords)
    : ImapCommand(Tag, Uid ? "UID" : "STORE");

/// <summary>COPY or MOVE (RFC 6851).</summary>
internal sealed record CopyCommand(string Tag, bool Uid, bool Move, SequenceSet Set, string Target)
    : ImapCommand(Tag, Uid ? "UID" : Move ? "MOVE" : "COPY");

/// <summary>
/// SEARCH: the key tree, or (<see cref="Query"/> null) a charset other than UTF-8 and US-ASCII,
/// answered NO [BADCHARSET] without reading the criteria. <see cref="Return"/>: the RFC 4731
/// RETURN options (an ESEARCH answer), null for the classic SEARCH answer.
/// </summary>
/// <summary>SEARCH; <see cref="UsesRecent"/>: a RECENT, NEW or OLD key, which IMAP4rev2 does not have.</summary>
internal sealed record SearchCommand(string Tag, bool Uid, string? Charset, SearchKey? Query, bool UsesModSeq, SearchReturn? Return = null, bool UsesRecent = false)
    : ImapCommand(Tag, Uid ? "UID" : "SEARCH");

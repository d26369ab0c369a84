using GrainMail.Gateways.Imap.Protocol;
using GrainMail.Gateways.Imap.Search;
using GrainMail.Gateways.Imap.Sorting;

namespace GrainMail.Gateways.Imap.Commands;

/// <summary>
/// SORT and UID SORT (RFC 5256 3, RFC 5957): criteria, then a charset and search keys as for
/// SEARCH. <see cref="Query"/> null: a charset other than UTF-8 and US-ASCII (NO [BADCHARSET]).
/// </summary>
internal sealed record SortCommand(string Tag, bool Uid, IReadOnlyList<SortCriterion> Criteria, string Charset, SearchKey? Query, bool UsesModSeq)
    : ImapCommand(Tag, Uid ? "UID" : "SORT");

/// <summary>THREAD and UID THREAD (RFC 5256 4).</summary>
internal sealed record ThreadCommand(string Tag, bool Uid, ThreadAlgorithm Algorithm, string Charset, SearchKey? Query, bool UsesModSeq)
    : ImapCommand(Tag, Uid ? "UID" : "THREAD");

/// <summary>COMPRESS (RFC 4978); only DEFLATE is known, anything else is answered NO.</summary>
internal sealed record CompressCommand(string Tag, string Mechanism) : ImapCommand(Tag, "COMPRESS");

/// <summary>UNAUTHENTICATE (RFC 8437): back to the not-authenticated state on the same connection.</summary>
internal sealed record UnauthenticateCommand(string Tag) : ImapCommand(Tag, "UNAUTHENTICATE");

/// <summary>
/// The QRESYNC SELECT/EXAMINE parameter (RFC 7162 3.2.5): what the client knew of the mailbox,
/// optionally the UIDs it knows and pairs of sequence numbers and UIDs to find where its view went out of step.
/// </summary>
internal sealed record QresyncParameters(long UidValidity, long ModSeq, SequenceSet? KnownUids, SequenceSet? KnownSequences, SequenceSet? KnownSequenceUids);

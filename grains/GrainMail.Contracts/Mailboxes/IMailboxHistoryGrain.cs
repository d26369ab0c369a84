using Orleans.Concurrency;

namespace GrainMail.Contracts.Mailboxes;

/// <summary>
/// A message removed from a folder: its old UID, the MODSEQ of the removal, its Email id (RFC 8474 EMAILID) and its thread id
/// (THREADID, the JMAP Thread id), each when the tombstone recorded it.
/// </summary>
[GenerateSerializer, Immutable]
public sealed record ExpungedEmail([property: Id(0)] long Uid, [property: Id(1)] long ModSeq, [property: Id(2)] string? EmailId,
    [property: Id(3)] string? ThreadId = null);

/// <summary>
/// The mailboxes' removal record (the expunge tombstones QRESYNC reads) for JMAP /changes: stateless,
/// so any gateway computes destroyed Emails from any state string, after restarts too.
/// </summary>
public interface IMailboxHistoryGrain : IGrainWithIntegerKey
{
    /// <summary>Removals from a folder after <paramref name="sinceModSeq"/>; null when the folder is gone or the record does not reach back that far.</summary>
    [Retryable]
    Task<IReadOnlyList<ExpungedEmail>?> ExpungedSince(string address, int folderId, long uidValidity, long sinceModSeq);
}

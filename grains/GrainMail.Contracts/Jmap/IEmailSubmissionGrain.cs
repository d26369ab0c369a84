namespace GrainMail.Contracts.Jmap;

/// <summary>One stored JMAP EmailSubmission: the object as JSON, and when it was made and last changed (the account's counter).</summary>
[GenerateSerializer, Immutable]
public sealed record StoredSubmission(
    [property: Id(0)] string Id,
    [property: Id(1)] long CreatedSeq,
    [property: Id(2)] long UpdatedSeq,
    [property: Id(3)] bool Destroyed,
    [property: Id(4)] DateTimeOffset SendAt,
    [property: Id(5)] string Json);

/// <summary>
/// An account's submissions, tombstones included. <see cref="State"/> is the counter's current value;
/// changes since a state below <see cref="Floor"/> were pruned and cannot be told.
/// </summary>
[GenerateSerializer, Immutable]
public sealed record SubmissionLog(
    [property: Id(0)] long State,
    [property: Id(1)] long Floor,
    [property: Id(2)] IReadOnlyList<StoredSubmission> Items);

/// <summary>
/// The JMAP EmailSubmission records of one account (key: the account address), kept on the silo
/// (gateways hold no database credentials) so that EmailSubmission/get after a gateway restart
/// still finds them. The sending itself is the intake's; this only remembers what was sent.
/// </summary>
public interface IEmailSubmissionGrain : IGrainWithStringKey
{
    /// <summary>The submissions, after bringing the status of open ones up to date (issue 18: deliveryStatus, dsnBlobIds, mdnBlobIds).</summary>
    [Retryable]
    Task<SubmissionLog> Read();

    /// <summary>The state after looking at the records and reports once more, for push when the mailbox changed.</summary>
    Task<long> Poll();

    /// <summary>The counter now (the EmailSubmission state), for push; no database read.</summary>
    [Orleans.Concurrency.AlwaysInterleave]
    Task<long> State();

    /// <summary>Stores a new submission; returns the new state.</summary>
    Task<long> Add(string id, DateTimeOffset sendAt, string json);

    /// <summary>
    /// Stores a new submission of a message the intake committed as <paramref name="intakeId"/> (sent_message.id, or the held
    /// id while held for approval), which left with Message-ID <paramref name="messageId"/>; its status is then tracked.
    /// </summary>
    Task<long> AddTracked(string id, DateTimeOffset sendAt, string json, Guid intakeId, string? messageId);

    /// <summary>Marks submissions destroyed (unknown ids are ignored); returns the new state.</summary>
    Task<long> Destroy(IReadOnlyList<string> ids);

    /// <summary>The account was deleted: its submissions go.</summary>
    Task Forget();

    /// <summary>
    /// The stored message behind a report blob id that a submission of the account lists (dsnBlobIds, mdnBlobIds);
    /// null when none does. The report is listed when its submit commits, before the mailbox copy reaches a JMAP
    /// view, so a download serves it from here until then (issue 18's report race).
    /// </summary>
    [Retryable]
    Task<GrainMail.Contracts.Mailboxes.BlobRef?> ReportBlob(string blobId);
}

using GrainMail.Contracts.Mailboxes;
using Orleans.Concurrency;

namespace GrainMail.Contracts.Intake;

/// <summary>
/// Everything about an accepted message except its bytes, as a gateway hands it to the silos.
/// </summary>
/// <param name="Sender">Envelope sender; null for the null reverse-path.</param>
/// <param name="Mailboxes">Local mailboxes, each receiving one copy.</param>
/// <param name="Dsn">RFC 3461 parameters of MAIL FROM (<see cref="Delivery.DsnRequest"/> encoding).</param>
/// <param name="RecipientDsn">Each recipient's NOTIFY/ORCPT (same encoding), by mailbox or external address.</param>
/// <param name="External">Recipients outside every hosted domain.</param>
/// <param name="ExternalOwner">The hosted domain they leave for.</param>
/// <param name="TraceParent">The gateway's span, so that the commit and the deliveries join its trace.</param>
/// <param name="Inbound">For mail from the internet (the MX port): the session's evidence; the silo then runs the
/// inbound trust checks (SPF, DKIM, DMARC, ARC, blocklists, score) before it commits. Null for submission.</param>
/// <param name="Lists">Mailing lists (addresses as accepted), each receiving ONE event that its grain expands.</param>
/// <param name="AuthenticatedUser">The submitting account, if any (a moderator's own post is not held).</param>
/// <param name="ProtocolReject">Mailboxes whose Sieve script may ereject (from the recipient verdicts at RCPT): only their scripts run before the reply.</param>
/// <param name="SubmitKey">The gateway's idempotency key of this submission (one per SMTP DATA), stored with the message:
/// what the gateway asks about (<see cref="IMessageIntakeGrain.Settle"/>) when the call fails, and what makes a second
/// submission with the same key store nothing.</param>
/// <param name="CommitWithin">With a key: how long after the silo receives the call the message may still begin its commit;
/// later, the silo stores nothing and fails the call. The gateway sets it well inside the time it keeps asking
/// <see cref="IMessageIntakeGrain.Settle"/> after a failed call, so that a submission held up on a silo (queued while the database
/// could not be reached) cannot commit after the gateway has given up and answered 451. A span, not a time: each side reads
/// only its own clock.</param>
[GenerateSerializer, Immutable]
public sealed record SubmissionEnvelope(
    [property: Id(0)] string? Sender,
    [property: Id(1)] IReadOnlyList<string> Mailboxes,
    [property: Id(2)] string? Dsn = null,
    [property: Id(3)] IReadOnlyDictionary<string, string>? RecipientDsn = null,
    [property: Id(4)] IReadOnlyList<string>? External = null,
    [property: Id(5)] string? ExternalOwner = null,
    [property: Id(6)] bool RequireTls = false,
    [property: Id(7)] string? TraceParent = null,
    [property: Id(8)] GrainMail.Contracts.Trust.InboundEvidence? Inbound = null,
    [property: Id(10)] IReadOnlyList<string>? Lists = null,
    [property: Id(11)] string? AuthenticatedUser = null,
    [property: Id(12)] IReadOnlyList<string>? ProtocolReject = null,
    [property: Id(13)] Guid? SubmitKey = null,
    [property: Id(14)] TimeSpan? CommitWithin = null);

/// <summary>The durable commit happened: the message will be delivered. Or, for inbound mail the
/// trust checks refused, <see cref="Refusal"/> is the SMTP reply (550 5.7.1, 451 4.7.1) and nothing was stored.</summary>
[GenerateSerializer, Immutable]
public sealed record SubmitReceipt(
    [property: Id(0)] Guid MessageId,
    [property: Id(1)] DateTimeOffset ReceivedAt,
    [property: Id(2)] int Events,
    [property: Id(3)] string? Refusal = null);

/// <summary>
/// Where gateways hand accepted messages to the cluster: the silo commits the blob and its
/// delivery events in one PostgreSQL transaction and only then answers, so a gateway says 250
/// only after the commit — and holds neither the master key nor database credentials. Runs on
/// the silo the call arrives at (the co-hosted one in a single node). A submit is not retried
/// blindly across a silo failure (the commit may have happened): the gateway asks
/// <see cref="Settle"/> about the envelope's key and answers 250 or 451 from that.
/// </summary>
public interface IMessageIntakeGrain : IGrainWithIntegerKey
{
    /// <summary>A message small enough to travel in one call.</summary>
    Task<SubmitReceipt> Submit(SubmissionEnvelope envelope, Immutable<byte[]> content);

    /// <summary>
    /// What became of the submission with this <see cref="SubmissionEnvelope.SubmitKey"/> after the call that ran
    /// it failed: its receipt if it committed; null if it did not, and then it never will (the key is fenced, so
    /// the original stores nothing should it still be running). Throws <see cref="TimeoutException"/> while the
    /// database cannot answer (a failover in progress); the gateway asks again. Its own timeout (<see cref="CallTimeouts.Settle"/>):
    /// a question sent to a silo that dies is asked again elsewhere after 3 s instead of 8.
    /// </summary>
    [Orleans.ResponseTimeout(CallTimeouts.Settle)]
    Task<SubmitReceipt?> Settle(Guid submitKey);
}

/// <summary>
/// A large message on its way in, in chunks: one activation (keyed by a fresh id, placed on the
/// silo that receives the first chunk) spools them, encrypted under a key of its own, until
/// <see cref="Commit"/>. A silo failure in between loses only the upload; the gateway answers 451.
/// </summary>
public interface IMessageUploadGrain : IGrainWithGuidKey
{
    Task Append(Immutable<byte[]> chunk);

    /// <summary>Scans, checks and stores the uploaded message. Its own timeout (<see cref="CallTimeouts.UploadCommit"/>):
    /// a message over 1 MiB may legitimately take longer than the cluster's 8 s, and a commit cut short is fenced and
    /// answered 451 every time the sender tries again.</summary>
    [Orleans.ResponseTimeout(CallTimeouts.UploadCommit)]
    Task<SubmitReceipt> Commit(SubmissionEnvelope envelope);

    Task Abort();
}

/// <summary>
/// Message bytes for the gateways (IMAP FETCH, POP3 RETR), read on a silo and decrypted there:
/// whole, or only the byte range asked for, so a partial FETCH of a large message decrypts the
/// chunks it covers and no more.
/// </summary>
public interface IMessageBlobGrain : IGrainWithIntegerKey
{
    [Retryable]
    Task<Immutable<byte[]>?> Read(BlobRef blob);

    /// <summary>Several messages' bytes in one call (one PostgreSQL statement), in the order asked; null for one that is gone.</summary>
    [Retryable]
    Task<Immutable<byte[]?[]>> ReadMany(BlobRef[] blobs);

    /// <summary>At most <paramref name="count"/> bytes from <paramref name="offset"/>; empty past the end; null when the blob is gone.</summary>
    [Retryable]
    Task<Immutable<byte[]>?> ReadRange(BlobRef blob, long offset, int count);
}

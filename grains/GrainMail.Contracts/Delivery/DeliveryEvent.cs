namespace GrainMail.Contracts.Delivery;

/// <summary>Stream namespaces of the durable delivery stream provider.</summary>
public static class DeliveryStreams
{
    /// <summary>The Orleans stream provider name.</summary>
    public const string Provider = "mail";

    /// <summary>Inbound events; the stream key is the recipient mailbox address.</summary>
    public const string Inbound = "inbound";

    /// <summary>Outbound events; the stream key is the destination domain.</summary>
    public const string Outbound = "outbound";
}

/// <summary>
/// One recipient's share of an accepted message, as carried by the durable stream.
/// <see cref="DeliveryId"/> is unique per (message, recipient) and is what consumers
/// are idempotent on; <see cref="QueueRowId"/> names the queue row the consumer
/// removes in the same transaction that stores the message. <see cref="Junk"/>: the inbound
/// checks judged it spam for this recipient; it goes to the mailbox's \Junk folder (RFC 6154).
/// <see cref="ThreadId"/>: the message's thread id (<see cref="Mailboxes.ThreadIds"/>), computed once at
/// intake and stored with the mailbox copy; null when the producer did not compute it (then it is backfilled).
/// </summary>
[GenerateSerializer, Immutable]
public sealed record DeliveryEvent(
    [property: Id(0)] Guid DeliveryId,
    [property: Id(1)] long QueueRowId,
    [property: Id(2)] string Recipient,
    [property: Id(3)] string? Sender,
    [property: Id(4)] string BlobDomain,
    [property: Id(5)] byte[] BlobHash,
    [property: Id(6)] long Size,
    [property: Id(7)] DateTimeOffset ReceivedAt,
    [property: Id(8)] string? Dsn,
    [property: Id(9)] int Attempt,
    [property: Id(10)] string? TraceParent = null,
    [property: Id(11)] bool Junk = false,
    [property: Id(12)] string? ThreadId = null);

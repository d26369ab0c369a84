namespace GrainMail.Contracts.Outbound;

/// <summary>
/// An accepted message's share for one destination domain, as carried by the durable stream
/// (namespace <see cref="Delivery.DeliveryStreams.Outbound"/>, key = destination domain): all
/// of its recipients there go in one SMTP transaction. The blob is stored under
/// <see cref="BlobDomain"/>, the hosted domain on whose behalf it leaves (sender or forwarder).
/// </summary>
[GenerateSerializer, Immutable]
public sealed record OutboundEvent(
    [property: Id(0)] Guid DeliveryId,
    [property: Id(1)] long QueueRowId,
    [property: Id(2)] string Destination,
    [property: Id(3)] IReadOnlyList<string> Recipients,
    [property: Id(4)] string? Sender,
    [property: Id(5)] string BlobDomain,
    [property: Id(6)] byte[] BlobHash,
    [property: Id(7)] long Size,
    [property: Id(8)] DateTimeOffset ReceivedAt,
    [property: Id(9)] string? Dsn,
    [property: Id(10)] int Attempt,
    [property: Id(11)] bool RequireTls = false);

/// <summary>A message waiting in a route's durable queue.</summary>
[GenerateSerializer, Immutable]
public sealed record QueuedOutbound(
    [property: Id(0)] Guid Id,
    [property: Id(1)] string Destination,
    [property: Id(2)] IReadOnlyList<string> Recipients,
    [property: Id(3)] string? Sender,
    [property: Id(4)] long Size,
    [property: Id(5)] DateTimeOffset ReceivedAt,
    [property: Id(6)] int Attempts,
    [property: Id(7)] DateTimeOffset NextAttempt,
    [property: Id(8)] string? LastError);

/// <summary>
/// The outbound route of one destination domain: consumes the outbound stream for it (implicit
/// subscription) and keeps its messages in a durable queue until they are delivered.
/// </summary>
public interface IOutboundRouteGrain : GrainMail.Contracts.Regions.ILocatableGrain
{
    Task<IReadOnlyList<QueuedOutbound>> GetQueue();

    /// <summary>Looks at the queue now (after a restart, instead of at the next reminder tick).</summary>
    Task Resume();
}

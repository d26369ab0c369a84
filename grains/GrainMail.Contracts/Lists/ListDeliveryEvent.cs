namespace GrainMail.Contracts.Lists;

/// <summary>
/// One accepted message for one list, as the durable stream carries it (namespace
/// <see cref="ListStreams.Namespace"/>, key = list address). Holds one reference on its blob;
/// the list grain expands it into member events and then releases that reference.
/// </summary>
/// <param name="Command">Null for a post; <c>approve-TOKEN</c> / <c>reject-TOKEN</c> for a moderator's reply.</param>
/// <param name="Approved">A held post a moderator approved: expanded without being held again.</param>
[GenerateSerializer, Immutable]
public sealed record ListDeliveryEvent(
    [property: Id(0)] Guid DeliveryId,
    [property: Id(1)] long QueueRowId,
    [property: Id(2)] string List,
    [property: Id(3)] string? Sender,
    [property: Id(4)] string BlobDomain,
    [property: Id(5)] byte[] BlobHash,
    [property: Id(6)] long Size,
    [property: Id(7)] DateTimeOffset ReceivedAt,
    [property: Id(8)] int Attempt,
    [property: Id(9)] string? Command = null,
    [property: Id(10)] bool Approved = false,
    [property: Id(11)] string? User = null,
    [property: Id(12)] string? TraceParent = null);

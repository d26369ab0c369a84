using System.Text.Json;
using System.Text.Json.Serialization;
using GrainMail.Contracts.Delivery;
using GrainMail.Contracts.Outbound;

namespace GrainMail.Storage.Delivery;

/// <summary>
/// The wire form of queued events: JSON of <see cref="DeliveryEvent"/> (or <see cref="OutboundEvent"/>), so that an operator can
/// read a dead letter with psql and a later version can add fields. It holds addresses and blob
/// ids, never message content.
/// </summary>
public sealed class EventCodec
{
    private static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    public byte[] Encode(object e) => e switch
    {
        DeliveryEvent d => JsonSerializer.SerializeToUtf8Bytes(d with { QueueRowId = 0, Attempt = 0 }, Json),
        OutboundEvent o => JsonSerializer.SerializeToUtf8Bytes(o with { QueueRowId = 0, Attempt = 0 }, Json),
        GrainMail.Contracts.Lists.ListDeliveryEvent l => JsonSerializer.SerializeToUtf8Bytes(l with { QueueRowId = 0, Attempt = 0 }, Json),
        _ => throw new ArgumentException($"No queue encoding for {e.GetType().Name}"),
    };

    /// <summary>Decodes a row; throws <see cref="JsonException"/> or <see cref="FormatException"/> when unreadable.</summary>
    public object Decode(string streamNamespace, byte[] payload, long rowId, int attempt)
    {
        if (streamNamespace == DeliveryStreams.Outbound)
        {
            var o = JsonSerializer.Deserialize<OutboundEvent>(payload, Json) ?? throw new FormatException("empty event");
            if (o.DeliveryId == Guid.Empty || string.IsNullOrEmpty(o.Destination) || o.Recipients is not { Count: > 0 }
                || string.IsNullOrEmpty(o.BlobDomain) || o.BlobHash is not { Length: 32 })
            {
                throw new FormatException("incomplete outbound event");
            }
            return o with { QueueRowId = rowId, Attempt = attempt };
        }
        if (streamNamespace == GrainMail.Contracts.Lists.ListStreams.Namespace)
        {
            var l = JsonSerializer.Deserialize<GrainMail.Contracts.Lists.ListDeliveryEvent>(payload, Json) ?? throw new FormatException("empty event");
            if (l.DeliveryId == Guid.Empty || string.IsNullOrEmpty(l.List) || string.IsNullOrEmpty(l.BlobDomain) || l.BlobHash is not { Length: 32 })
                throw new FormatException("incomplete list event");
            return l with { QueueRowId = rowId, Attempt = attempt };
        }
        var e = JsonSerializer.Deserialize<DeliveryEvent>(payload, Json) ?? throw new FormatException("empty event");
        if (e.DeliveryId == Guid.Empty || string.IsNullOrEmpty(e.Recipient) || string.IsNullOrEmpty(e.BlobDomain)
            || e.BlobHash is not { Length: 32 })
        {
            throw new FormatException("incomplete delivery event");
        }
        return e with { QueueRowId = rowId, Attempt = attempt };
    }
}

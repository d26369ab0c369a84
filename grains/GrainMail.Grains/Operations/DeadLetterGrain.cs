using GrainMail.Contracts.Delivery;
using GrainMail.Contracts.Operations;
using GrainMail.Contracts.Outbound;
using GrainMail.Storage.Delivery;
using GrainMail.Storage.Streams;
using Orleans.Concurrency;

namespace GrainMail.Grains.Operations;

/// <summary>Reads and redelivers dead letters on a silo; stateless, so any silo serves it.</summary>
[StatelessWorker, Reentrant]
public sealed class DeadLetterGrain(DeadLetterStore store, EventCodec codec) : Grain, IDeadLetterGrain
{
    public async Task<IReadOnlyList<DeadLetterInfo>> List(int limit)
    {
        var rows = await store.ListAsync(Math.Clamp(limit, 1, 1000));
        return rows.Select(Describe).ToList();
    }

    public Task<bool> Redeliver(long id) => store.RedeliverAsync(id);

    private DeadLetterInfo Describe(DeadLetterRow row)
    {
        string? sender = null;
        long size = 0;
        try
        {
            switch (codec.Decode(row.StreamNamespace, row.Payload, row.Id, row.Attempts))
            {
                case DeliveryEvent e: (sender, size) = (e.Sender, e.Size); break;
                case OutboundEvent o: (sender, size) = (o.Sender, o.Size); break;
            }
        }
        catch (Exception e) when (e is System.Text.Json.JsonException or FormatException)
        {
            // An unreadable payload is listed as it is: its reason says so.
        }
        return new DeadLetterInfo(row.Id, row.StreamNamespace, row.StreamKey, sender, size, row.Reason, row.Attempts, row.EnqueuedAt, row.DeadAt);
    }
}

using GrainMail.Contracts.Operations;

namespace GrainMail.Gateways.Http.Outbound;

/// <summary>The destinations with mail waiting, read on a silo.</summary>
public sealed class OutboundQueues(IGrainFactory grains)
{
    public async Task<IReadOnlyList<string>> DestinationsAsync(CancellationToken ct) =>
        await grains.GetGrain<IAdminViewGrain>(0).OutboundDestinations().WaitAsync(ct);
}

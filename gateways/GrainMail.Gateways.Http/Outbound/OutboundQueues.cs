using GrainMail.Storage.Outbound;

namespace GrainMail.Gateways.Http.Outbound;

/// <summary>
/// The destinations with mail waiting. Read from the outbound table today; kept behind this
/// class so that it can become a grain call without touching the endpoints.
/// </summary>
public sealed class OutboundQueues(OutboundStore store)
{
    public async Task<IReadOnlyList<string>> DestinationsAsync(CancellationToken ct) => await store.DestinationsAsync(ct);
}

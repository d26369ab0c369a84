using GrainMail.Gateways.Http;

namespace GrainMail.Silo;

/// <summary>
/// A gateway process is ready when the cluster answers a grain call: recipients, logins,
/// mailboxes and the submit path are all grains (it has no database of its own to ask).
/// </summary>
public sealed class GatewayReadiness(IGrainFactory grains) : IReadinessCheck
{
    public async Task<(bool Ready, string Detail)> CheckAsync(CancellationToken ct)
    {
        try
        {
            await grains.GetGrain<GrainMail.Contracts.Domains.IDomainGrain>("readiness.invalid").GetInfo().WaitAsync(TimeSpan.FromSeconds(3), ct);
        }
        catch (Exception e) when (e is not OperationCanceledException || !ct.IsCancellationRequested)
        {
            return (false, "cluster unreachable: " + e.Message);
        }
        return (true, "ready");
    }
}

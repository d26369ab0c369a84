using GrainMail.Gateways.Http;
using Npgsql;

namespace GrainMail.Silo;

/// <summary>
/// A gateway process is ready when PostgreSQL answers (the submit path commits there) and the
/// cluster answers a grain call (recipients, logins and mailboxes are grains).
/// </summary>
public sealed class GatewayReadiness(IGrainFactory grains, NpgsqlDataSource db) : IReadinessCheck
{
    public async Task<(bool Ready, string Detail)> CheckAsync(CancellationToken ct)
    {
        if (await DatabasePing.FailureAsync(db, ct) is { } failure) return (false, failure);
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

using GrainMail.Gateways.Http;
using Npgsql;
using Orleans.Runtime;

namespace GrainMail.Silo;

/// <summary>Ready when this silo is an active cluster member and PostgreSQL answers.</summary>
public sealed class SiloReadiness(IClusterMembershipService membership, ILocalSiloDetails local, NpgsqlDataSource db) : IReadinessCheck
{
    public async Task<(bool Ready, string Detail)> CheckAsync(CancellationToken ct)
    {
        var me = membership.CurrentSnapshot.GetSiloStatus(local.SiloAddress);
        if (me != SiloStatus.Active) return (false, $"silo is {me}");
        return await DatabasePing.FailureAsync(db, ct) is { } failure ? (false, failure) : (true, "ready");
    }
}

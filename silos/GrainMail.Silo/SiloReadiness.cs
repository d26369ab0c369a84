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
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
            timeout.CancelAfter(TimeSpan.FromSeconds(3));
            await using var cmd = db.CreateCommand("SELECT 1");
            await cmd.ExecuteScalarAsync(timeout.Token);
        }
        catch (Exception e) when (e is NpgsqlException or OperationCanceledException or TimeoutException)
        {
            return (false, "database unreachable: " + e.Message);
        }
        return (true, "ready");
    }
}

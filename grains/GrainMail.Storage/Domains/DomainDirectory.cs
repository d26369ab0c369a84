using Npgsql;

namespace GrainMail.Storage.Domains;

/// <summary>
/// The <c>mail_domain</c> index of hosted domains and their home regions. DomainGrain writes it;
/// the admin API lists from it, and the two-region placement reads its region map from it (with
/// each domain alias mapped to its domain's region).
/// </summary>
public sealed class DomainDirectory(NpgsqlDataSource dataSource)
{
    public async Task UpsertAsync(string name, string homeRegion, CancellationToken ct = default)
    {
        await using var cmd = dataSource.CreateCommand(
            "INSERT INTO mail_domain (name, home_region) VALUES (@n, @r) ON CONFLICT (name) DO UPDATE SET home_region = EXCLUDED.home_region, updated_at = now()");
        cmd.Parameters.AddWithValue("n", name);
        cmd.Parameters.AddWithValue("r", homeRegion);
        await cmd.ExecuteNonQueryAsync(ct);
    }

    public async Task RemoveAsync(string name, CancellationToken ct = default)
    {
        await using var cmd = dataSource.CreateCommand("DELETE FROM mail_domain WHERE name = @n");
        cmd.Parameters.AddWithValue("n", name);
        await cmd.ExecuteNonQueryAsync(ct);
    }

    /// <summary>
    /// Domains written at or after <paramref name="since"/> (all when null), and the server's
    /// clock to ask from next time (a little early: a transaction that started before this one
    /// may commit a moment later with an earlier stamp).
    /// </summary>
    public async Task<(List<(string Name, string HomeRegion)> Changed, DateTimeOffset Next)> ChangedSinceAsync(DateTimeOffset? since, CancellationToken ct = default)
    {
        // The last row carries only the server's clock, so an empty answer still has one.
        await using var cmd = dataSource.CreateCommand(
            "SELECT name, home_region, now() FROM mail_domain WHERE @s::timestamptz IS NULL OR updated_at >= @s " +
            // A domain alias lives where its domain lives: its grain forwards there.
            "UNION ALL SELECT a.alias, d.home_region, now() FROM directory_domain_alias a JOIN mail_domain d ON d.name = a.domain " +
            "WHERE @s::timestamptz IS NULL OR a.created_at >= @s OR d.updated_at >= @s " +
            "UNION ALL SELECT NULL, NULL, now()");
        cmd.Parameters.Add(new NpgsqlParameter("s", NpgsqlTypes.NpgsqlDbType.TimestampTz) { Value = (object?)since ?? DBNull.Value });
        await using var r = await cmd.ExecuteReaderAsync(ct);
        var list = new List<(string, string)>();
        var next = DateTimeOffset.MinValue;
        while (await r.ReadAsync(ct))
        {
            next = r.GetFieldValue<DateTimeOffset>(2);
            if (!r.IsDBNull(0)) list.Add((r.GetString(0), r.GetString(1)));
        }
        return (list, next - TimeSpan.FromSeconds(30));
    }

    public async Task<List<(string Name, string HomeRegion, DateTimeOffset CreatedAt)>> ListAsync(CancellationToken ct = default)
    {
        await using var cmd = dataSource.CreateCommand("SELECT name, home_region, created_at FROM mail_domain ORDER BY name");
        await using var r = await cmd.ExecuteReaderAsync(ct);
        var list = new List<(string, string, DateTimeOffset)>();
        while (await r.ReadAsync(ct)) list.Add((r.GetString(0), r.GetString(1), r.GetFieldValue<DateTimeOffset>(2)));
        return list;
    }
}

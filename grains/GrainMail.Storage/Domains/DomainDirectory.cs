using Npgsql;

namespace GrainMail.Storage.Domains;

/// <summary>
/// The <c>mail_domain</c> index of hosted domains and their home regions. DomainGrain writes it;
/// the admin API lists from it, and the two-region placement will read its region map from it.
/// </summary>
public sealed class DomainDirectory(NpgsqlDataSource dataSource)
{
    public async Task UpsertAsync(string name, string homeRegion, CancellationToken ct = default)
    {
        await using var cmd = dataSource.CreateCommand(
            "INSERT INTO mail_domain (name, home_region) VALUES (@n, @r) ON CONFLICT (name) DO UPDATE SET home_region = EXCLUDED.home_region");
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

    public async Task<List<(string Name, string HomeRegion, DateTimeOffset CreatedAt)>> ListAsync(CancellationToken ct = default)
    {
        await using var cmd = dataSource.CreateCommand("SELECT name, home_region, created_at FROM mail_domain ORDER BY name");
        await using var r = await cmd.ExecuteReaderAsync(ct);
        var list = new List<(string, string, DateTimeOffset)>();
        while (await r.ReadAsync(ct)) list.Add((r.GetString(0), r.GetString(1), r.GetFieldValue<DateTimeOffset>(2)));
        return list;
    }
}

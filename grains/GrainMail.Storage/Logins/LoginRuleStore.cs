using System.Net;
using Npgsql;
using NpgsqlTypes;

namespace GrainMail.Storage.Logins;

/// <summary>A login allow-list entry: a network for a domain, or for a department's subtree.</summary>
public sealed record LoginIpRule(long Id, string Domain, long? DepartmentId, string Network, string? Note, string CreatedBy, DateTimeOffset CreatedAt);

/// <summary>The login IP allow-lists (<c>login_ip_rule</c>, 0021).</summary>
public sealed class LoginRuleStore(NpgsqlDataSource dataSource)
{
    private const string Columns = "id, domain, department_id, network::text, note, created_by, created_at";

    /// <summary>Every rule of the domain, department rules with their department's path for the subtree test.</summary>
    public async Task<List<(LoginIpRule Rule, long[]? DepartmentPath)>> ForDomainAsync(string domain, CancellationToken ct = default)
    {
        await using var cmd = dataSource.CreateCommand("""
            SELECT r.id, r.domain, r.department_id, r.network::text, r.note, r.created_by, r.created_at, d.path
            FROM login_ip_rule r LEFT JOIN directory_department d ON d.id = r.department_id
            WHERE r.domain = $1 ORDER BY r.id
            """);
        cmd.Parameters.AddWithValue(domain);
        await using var r = await cmd.ExecuteReaderAsync(ct);
        var list = new List<(LoginIpRule, long[]?)>();
        while (await r.ReadAsync(ct)) list.Add((Read(r), r.IsDBNull(7) ? null : r.GetFieldValue<long[]>(7)));
        return list;
    }

    /// <summary>The department path of an account (ids root..its department), or null when it has no directory row.</summary>
    public async Task<long[]?> AccountPathAsync(string domain, string localPart, CancellationToken ct = default)
    {
        await using var cmd = dataSource.CreateCommand(
            "SELECT d.path FROM directory_account a JOIN directory_department d ON d.id = a.department_id WHERE a.domain = $1 AND a.local_part = $2");
        cmd.Parameters.AddWithValue(domain);
        cmd.Parameters.AddWithValue(localPart);
        return await cmd.ExecuteScalarAsync(ct) as long[];
    }

    /// <summary>Whether the department exists in the domain.</summary>
    public async Task<bool> DepartmentInDomainAsync(string domain, long departmentId, CancellationToken ct = default)
    {
        await using var cmd = dataSource.CreateCommand("SELECT EXISTS (SELECT 1 FROM directory_department WHERE id = $1 AND domain = $2)");
        cmd.Parameters.AddWithValue(departmentId);
        cmd.Parameters.AddWithValue(domain);
        return (bool)(await cmd.ExecuteScalarAsync(ct))!;
    }

    /// <summary>Adds a rule; null when the same network is already listed at that level.</summary>
    public async Task<LoginIpRule?> AddAsync(string domain, long? departmentId, IPNetwork network, string? note, string createdBy, CancellationToken ct = default)
    {
        await using var cmd = dataSource.CreateCommand($"""
            INSERT INTO login_ip_rule (domain, department_id, network, note, created_by) VALUES ($1, $2, $3::cidr, $4, $5)
            ON CONFLICT DO NOTHING RETURNING {Columns}
            """);
        cmd.Parameters.AddWithValue(domain);
        cmd.Parameters.Add(new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.Bigint, Value = (object?)departmentId ?? DBNull.Value });
        cmd.Parameters.AddWithValue(network.ToString());
        cmd.Parameters.Add(new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.Text, Value = (object?)note ?? DBNull.Value });
        cmd.Parameters.AddWithValue(createdBy);
        await using var r = await cmd.ExecuteReaderAsync(ct);
        return await r.ReadAsync(ct) ? Read(r) : null;
    }

    /// <summary>Deletes a rule of the domain; the deleted rule, or null.</summary>
    public async Task<LoginIpRule?> DeleteAsync(string domain, long id, CancellationToken ct = default)
    {
        await using var cmd = dataSource.CreateCommand($"DELETE FROM login_ip_rule WHERE domain = $1 AND id = $2 RETURNING {Columns}");
        cmd.Parameters.AddWithValue(domain);
        cmd.Parameters.AddWithValue(id);
        await using var r = await cmd.ExecuteReaderAsync(ct);
        return await r.ReadAsync(ct) ? Read(r) : null;
    }

    private static LoginIpRule Read(NpgsqlDataReader r) => new(r.GetInt64(0), r.GetString(1), r.IsDBNull(2) ? null : r.GetInt64(2),
        r.GetString(3), r.IsDBNull(4) ? null : r.GetString(4), r.GetString(5), r.GetFieldValue<DateTimeOffset>(6));
}

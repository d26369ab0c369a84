using GrainMail.Contracts.Accounts;
using Npgsql;

namespace GrainMail.Storage.Security;

/// <summary>What an account's security decisions need from the tables, in one read.</summary>
/// <param name="DepartmentTwoFactor">The nearest department override on the account's path, or null.</param>
public sealed record AccountSecurityContext(bool Exists, bool MustChangePassword, bool? DepartmentTwoFactor, SecurityPolicy Policy)
{
    public bool TwoFactorRequired => DepartmentTwoFactor ?? Policy.TwoFactorRequired;
}

/// <summary>The tables of migration 0020: domain policies, department overrides, password verdicts.</summary>
public sealed class AccountSecurityStore(NpgsqlDataSource dataSource)
{
    private const string PolicyColumns =
        "two_factor_required, auth_requires_tls, password_min_length, password_min_classes, password_forbid_name, password_forbid_common, password_history";

    private static SecurityPolicy ReadPolicy(NpgsqlDataReader r, int o) => new(
        r.GetBoolean(o), r.IsDBNull(o + 1) ? null : r.GetBoolean(o + 1), r.GetInt32(o + 2), r.GetInt32(o + 3), r.GetBoolean(o + 4), r.GetBoolean(o + 5), r.GetInt32(o + 6));

    public async Task<SecurityPolicy> GetPolicyAsync(string domain, CancellationToken ct = default)
    {
        await using var cmd = dataSource.CreateCommand($"SELECT {PolicyColumns} FROM security_policy WHERE domain = @d");
        cmd.Parameters.AddWithValue("d", domain);
        await using var r = await cmd.ExecuteReaderAsync(ct);
        return await r.ReadAsync(ct) ? ReadPolicy(r, 0) : SecurityPolicy.Default;
    }

    public async Task SetPolicyAsync(string domain, SecurityPolicy p, CancellationToken ct = default)
    {
        await using var cmd = dataSource.CreateCommand($"""
            INSERT INTO security_policy (domain, {PolicyColumns}, updated_at) VALUES (@d, @tf, @tls, @len, @cls, @name, @common, @hist, now())
            ON CONFLICT (domain) DO UPDATE SET two_factor_required = @tf, auth_requires_tls = @tls, password_min_length = @len,
                password_min_classes = @cls, password_forbid_name = @name, password_forbid_common = @common, password_history = @hist, updated_at = now()
            """);
        cmd.Parameters.AddWithValue("d", domain);
        cmd.Parameters.AddWithValue("tf", p.TwoFactorRequired);
        cmd.Parameters.AddWithValue("tls", p.AuthRequiresTls is { } tls ? tls : DBNull.Value);
        cmd.Parameters.AddWithValue("len", p.MinLength);
        cmd.Parameters.AddWithValue("cls", p.MinClasses);
        cmd.Parameters.AddWithValue("name", p.ForbidAccountName);
        cmd.Parameters.AddWithValue("common", p.ForbidCommon);
        cmd.Parameters.AddWithValue("hist", p.History);
        await cmd.ExecuteNonQueryAsync(ct);
    }

    /// <summary>False when the department is not one of <paramref name="domain"/>'s.</summary>
    public async Task<bool> SetDepartmentTwoFactorAsync(string domain, long departmentId, bool? required, CancellationToken ct = default)
    {
        await using var conn = await dataSource.OpenConnectionAsync(ct);
        await using (var check = new NpgsqlCommand("SELECT EXISTS (SELECT 1 FROM directory_department WHERE id = @id AND domain = @d)", conn))
        {
            check.Parameters.AddWithValue("id", departmentId);
            check.Parameters.AddWithValue("d", domain);
            if (!(bool)(await check.ExecuteScalarAsync(ct))!) return false;
        }
        await using var cmd = required is { } value
            ? new NpgsqlCommand("""
                INSERT INTO department_security_policy (department_id, two_factor_required) VALUES (@id, @v)
                ON CONFLICT (department_id) DO UPDATE SET two_factor_required = @v
                """, conn)
            : new NpgsqlCommand("DELETE FROM department_security_policy WHERE department_id = @id", conn);
        cmd.Parameters.AddWithValue("id", departmentId);
        if (required is { } v2) cmd.Parameters.AddWithValue("v", v2);
        await cmd.ExecuteNonQueryAsync(ct);
        return true;
    }

    public async Task<IReadOnlyDictionary<long, bool>> GetDepartmentTwoFactorAsync(string domain, CancellationToken ct = default)
    {
        await using var cmd = dataSource.CreateCommand("""
            SELECT s.department_id, s.two_factor_required FROM department_security_policy s
            JOIN directory_department d ON d.id = s.department_id WHERE d.domain = @d
            """);
        cmd.Parameters.AddWithValue("d", domain);
        var result = new Dictionary<long, bool>();
        await using var r = await cmd.ExecuteReaderAsync(ct);
        while (await r.ReadAsync(ct)) result[r.GetInt64(0)] = r.GetBoolean(1);
        return result;
    }

    /// <summary>
    /// The account's must-change flag, the nearest department override on its path (the deepest
    /// department with a row wins) and its domain's policy, in one statement.
    /// </summary>
    public async Task<AccountSecurityContext> GetContextAsync(string domain, string localPart, CancellationToken ct = default)
    {
        await using var cmd = dataSource.CreateCommand($"""
            SELECT a.must_change_password,
                   (SELECT s.two_factor_required FROM department_security_policy s JOIN directory_department p ON p.id = s.department_id
                     WHERE p.id = ANY(d.path) ORDER BY p.depth DESC LIMIT 1),
                   {string.Join(", ", PolicyColumns.Split(", ").Select(c => "sp." + c))}
            FROM directory_account a
            JOIN directory_department d ON d.id = a.department_id
            LEFT JOIN security_policy sp ON sp.domain = a.domain
            WHERE a.domain = @d AND a.local_part = @lp
            """);
        cmd.Parameters.AddWithValue("d", domain);
        cmd.Parameters.AddWithValue("lp", localPart);
        await using var r = await cmd.ExecuteReaderAsync(ct);
        if (!await r.ReadAsync(ct)) return new AccountSecurityContext(false, false, null, await PolicyAfterAsync(r, domain, ct));
        var policy = r.IsDBNull(2) ? SecurityPolicy.Default : ReadPolicy(r, 2);
        return new AccountSecurityContext(true, r.GetBoolean(0), r.IsDBNull(1) ? null : r.GetBoolean(1), policy);
    }

    private async Task<SecurityPolicy> PolicyAfterAsync(NpgsqlDataReader open, string domain, CancellationToken ct)
    {
        await open.DisposeAsync();
        return await GetPolicyAsync(domain, ct);
    }

    public async Task SaveVerdictAsync(string domain, string localPart, IReadOnlyList<string> violations, CancellationToken ct = default)
    {
        await using var cmd = dataSource.CreateCommand("""
            INSERT INTO password_verdict (domain, local_part, weak, violations, judged_at) VALUES (@d, @lp, @w, @v, now())
            ON CONFLICT (domain, local_part) DO UPDATE SET weak = @w, violations = @v, judged_at = now()
            """);
        cmd.Parameters.AddWithValue("d", domain);
        cmd.Parameters.AddWithValue("lp", localPart);
        cmd.Parameters.AddWithValue("w", violations.Count > 0);
        cmd.Parameters.AddWithValue("v", violations.ToArray());
        await cmd.ExecuteNonQueryAsync(ct);
    }

    public async Task DeleteVerdictAsync(string domain, string localPart, CancellationToken ct = default)
    {
        await using var cmd = dataSource.CreateCommand("DELETE FROM password_verdict WHERE domain = @d AND local_part = @lp");
        cmd.Parameters.AddWithValue("d", domain);
        cmd.Parameters.AddWithValue("lp", localPart);
        await cmd.ExecuteNonQueryAsync(ct);
    }

    /// <summary>Accounts of the domain whose password was weak when last judged, with their department path (for scope filters).</summary>
    public async Task<IReadOnlyList<WeakPasswordEntry>> ListWeakAsync(string domain, CancellationToken ct = default)
    {
        await using var cmd = dataSource.CreateCommand("""
            SELECT v.local_part, a.department_id, coalesce(d.path, '{}'::bigint[]), v.violations, v.judged_at, coalesce(a.must_change_password, false)
            FROM password_verdict v
            JOIN directory_account a ON a.domain = v.domain AND a.local_part = v.local_part
            LEFT JOIN directory_department d ON d.id = a.department_id
            WHERE v.domain = @d AND v.weak
            ORDER BY v.local_part
            """);
        cmd.Parameters.AddWithValue("d", domain);
        var list = new List<WeakPasswordEntry>();
        await using var r = await cmd.ExecuteReaderAsync(ct);
        while (await r.ReadAsync(ct))
        {
            list.Add(new WeakPasswordEntry($"{r.GetString(0)}@{domain}", r.IsDBNull(1) ? null : r.GetInt64(1),
                r.GetFieldValue<long[]>(2), r.GetFieldValue<string[]>(3), r.GetFieldValue<DateTimeOffset>(4), r.GetBoolean(5)));
        }
        return list;
    }
}

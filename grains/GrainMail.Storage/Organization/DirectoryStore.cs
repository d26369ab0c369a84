using Npgsql;
using NpgsqlTypes;

namespace GrainMail.Storage.Organization;

/// <summary>A department row; <see cref="Path"/> holds the ids from the root down to the department itself.</summary>
public sealed record DepartmentRow(long Id, long? ParentId, string Name, int Depth, long[] Path);

/// <summary>What the domain grain keeps in memory per account to answer RCPT without a query.</summary>
public readonly record struct AccountFlags(bool Enabled, bool MaySendExternal, bool MayReceiveExternal, long DepartmentId, long QuotaBytes);

/// <summary>
/// Attribute values of one account for an insert or a merge. In a merge, null leaves the stored
/// value and an empty string clears a text column.
/// </summary>
public sealed record AccountValues(
    string LocalPart,
    string? DisplayName = null,
    string? Title = null,
    string? EmployeeLevel = null,
    string? Phone = null,
    long? DepartmentId = null,
    long? QuotaBytes = null,
    bool? MaySendExternal = null,
    bool? MayReceiveExternal = null,
    bool? InAddressBook = null,
    bool? Enabled = null,
    bool? MustChangePassword = null,
    string? ProvisionedPasswordHash = null);

/// <summary>A full account row as the admin API shows it (department path as names below the root).</summary>
public sealed record AccountRecord(
    string LocalPart, string? DisplayName, string? Title, string? EmployeeLevel, string? Phone,
    long DepartmentId, string DepartmentPath, long QuotaBytes, bool MaySendExternal, bool MayReceiveExternal,
    bool InAddressBook, bool Enabled, bool MustChangePassword, DateTimeOffset CreatedAt);

/// <summary>What an account grain adopts when its account was created by an import (no grain state yet).</summary>
public sealed record ProvisionedAccount(string? DisplayName, bool Enabled, long QuotaBytes, string? PasswordHash, DateTimeOffset CreatedAt);

/// <summary>
/// The directory tables (0012_directory.sql). The domain grain is the one writer of its domain's
/// rows; the query grain and the account grains only read.
/// </summary>
public sealed class DirectoryStore(NpgsqlDataSource dataSource)
{
    // ---- departments ----------------------------------------------------------------------

    public async Task<List<DepartmentRow>> LoadDepartmentsAsync(string domain, CancellationToken ct = default)
    {
        await using var cmd = dataSource.CreateCommand("SELECT id, parent_id, name, depth, path FROM directory_department WHERE domain = @d");
        cmd.Parameters.AddWithValue("d", domain);
        await using var r = await cmd.ExecuteReaderAsync(ct);
        var list = new List<DepartmentRow>();
        while (await r.ReadAsync(ct))
            list.Add(new DepartmentRow(r.GetInt64(0), r.IsDBNull(1) ? null : r.GetInt64(1), r.GetString(2), r.GetInt32(3), r.GetFieldValue<long[]>(4)));
        return list;
    }

    /// <summary>Inserts a department below <paramref name="parent"/> (the root when null) and returns it.</summary>
    public async Task<DepartmentRow> InsertDepartmentAsync(string domain, DepartmentRow? parent, string name, CancellationToken ct = default)
    {
        await using var cmd = dataSource.CreateCommand(
            """
            WITH n AS (SELECT nextval('directory_department_id_seq') AS id)
            INSERT INTO directory_department (id, domain, parent_id, name, depth, path)
            SELECT n.id, @d, @p, @n, @depth, @pp || n.id FROM n
            RETURNING id, path
            """);
        cmd.Parameters.AddWithValue("d", domain);
        cmd.Parameters.Add(new NpgsqlParameter("p", NpgsqlDbType.Bigint) { Value = (object?)parent?.Id ?? DBNull.Value });
        cmd.Parameters.AddWithValue("n", name);
        cmd.Parameters.AddWithValue("depth", (parent?.Depth ?? 0) + 1);
        cmd.Parameters.Add(new NpgsqlParameter("pp", NpgsqlDbType.Array | NpgsqlDbType.Bigint) { Value = parent?.Path ?? [] });
        await using var r = await cmd.ExecuteReaderAsync(ct);
        await r.ReadAsync(ct);
        return new DepartmentRow(r.GetInt64(0), parent?.Id, name, (parent?.Depth ?? 0) + 1, r.GetFieldValue<long[]>(1));
    }

    /// <summary>
    /// Renames and re-parents a department, and rewrites the path and depth of it and every
    /// department below it, in one transaction.
    /// </summary>
    public async Task MoveDepartmentAsync(string domain, DepartmentRow department, string name, DepartmentRow? newParent, CancellationToken ct = default)
    {
        await using var conn = await dataSource.OpenConnectionAsync(ct);
        await using var tx = await conn.BeginTransactionAsync(ct);
        await using (var cmd = new NpgsqlCommand(
            "UPDATE directory_department SET name = @n, parent_id = @p, updated_at = now() WHERE id = @id", conn, tx))
        {
            cmd.Parameters.AddWithValue("id", department.Id);
            cmd.Parameters.AddWithValue("n", name);
            cmd.Parameters.Add(new NpgsqlParameter("p", NpgsqlDbType.Bigint) { Value = (object?)newParent?.Id ?? DBNull.Value });
            await cmd.ExecuteNonQueryAsync(ct);
        }
        if (newParent is not null && newParent.Id != department.ParentId)
        {
            // path[depth:] is the department itself and what lies below it: the new parent's path goes in front.
            await using var cmd = new NpgsqlCommand(
                """
                UPDATE directory_department SET path = @pp || path[@depth:], depth = depth + @delta, updated_at = now()
                WHERE domain = @d AND path @> ARRAY[@id]::bigint[]
                """, conn, tx);
            cmd.Parameters.AddWithValue("d", domain);
            cmd.Parameters.AddWithValue("id", department.Id);
            cmd.Parameters.AddWithValue("pp", newParent.Path);
            cmd.Parameters.AddWithValue("depth", department.Depth);
            cmd.Parameters.AddWithValue("delta", newParent.Depth + 1 - department.Depth);
            await cmd.ExecuteNonQueryAsync(ct);
        }
        await tx.CommitAsync(ct);
    }

    public async Task DeleteDepartmentAsync(long id, CancellationToken ct = default)
    {
        await using var cmd = dataSource.CreateCommand("DELETE FROM directory_department WHERE id = @id");
        cmd.Parameters.AddWithValue("id", id);
        await cmd.ExecuteNonQueryAsync(ct);
    }

    /// <summary>Removes a deleted domain's departments (its accounts are gone already).</summary>
    public async Task DeleteDomainAsync(string domain, CancellationToken ct = default)
    {
        await using var cmd = dataSource.CreateCommand("DELETE FROM directory_account WHERE domain = @d; DELETE FROM directory_department WHERE domain = @d");
        cmd.Parameters.AddWithValue("d", domain);
        await cmd.ExecuteNonQueryAsync(ct);
    }

    public async Task<Dictionary<long, int>> DepartmentAccountCountsAsync(string domain, CancellationToken ct = default)
    {
        await using var cmd = dataSource.CreateCommand("SELECT department_id, count(*)::int FROM directory_account WHERE domain = @d GROUP BY department_id");
        cmd.Parameters.AddWithValue("d", domain);
        await using var r = await cmd.ExecuteReaderAsync(ct);
        var counts = new Dictionary<long, int>();
        while (await r.ReadAsync(ct)) counts[r.GetInt64(0)] = r.GetInt32(1);
        return counts;
    }

    // ---- accounts ---------------------------------------------------------------------------

    /// <summary>Every account of a domain with the flags RCPT needs: one query, also at 100,000 rows.</summary>
    public async Task<Dictionary<string, AccountFlags>> LoadAccountFlagsAsync(string domain, CancellationToken ct = default)
    {
        await using var cmd = dataSource.CreateCommand(
            "SELECT local_part, enabled, may_send_external, may_receive_external, department_id, quota_bytes FROM directory_account WHERE domain = @d");
        cmd.Parameters.AddWithValue("d", domain);
        await using var r = await cmd.ExecuteReaderAsync(ct);
        var map = new Dictionary<string, AccountFlags>(StringComparer.Ordinal);
        while (await r.ReadAsync(ct))
            map[r.GetString(0)] = new AccountFlags(r.GetBoolean(1), r.GetBoolean(2), r.GetBoolean(3), r.GetInt64(4), r.GetInt64(5));
        return map;
    }

    /// <summary>
    /// Inserts new accounts in one statement (nulls take the defaults; the caller gives department
    /// and quota). Rows that exist already are left alone (a retried insert).
    /// </summary>
    public async Task<Dictionary<string, AccountFlags>> InsertAccountsAsync(string domain, IReadOnlyList<AccountValues> rows, CancellationToken ct = default)
    {
        var result = new Dictionary<string, AccountFlags>(StringComparer.Ordinal);
        if (rows.Count == 0) return result;
        await using var cmd = dataSource.CreateCommand(
            """
            INSERT INTO directory_account (domain, local_part, display_name, title, employee_level, phone, department_id, quota_bytes,
                may_send_external, may_receive_external, in_address_book, enabled, must_change_password, provisioned_password_hash)
            SELECT @d, u.lp, nullif(u.dn, ''), nullif(u.ti, ''), nullif(u.el, ''), nullif(u.ph, ''), u.dep, u.q,
                coalesce(u.se, true), coalesce(u.re, true), coalesce(u.ab, true), coalesce(u.en, true), coalesce(u.mc, false), u.h
            FROM unnest(@lp, @dn, @ti, @el, @ph, @dep, @q, @se, @re, @ab, @en, @mc, @h) AS u(lp, dn, ti, el, ph, dep, q, se, re, ab, en, mc, h)
            ON CONFLICT (domain, local_part) DO NOTHING
            RETURNING local_part, enabled, may_send_external, may_receive_external, department_id, quota_bytes
            """);
        cmd.Parameters.AddWithValue("d", domain);
        AddColumns(cmd, rows);
        await using var r = await cmd.ExecuteReaderAsync(ct);
        while (await r.ReadAsync(ct))
            result[r.GetString(0)] = new AccountFlags(r.GetBoolean(1), r.GetBoolean(2), r.GetBoolean(3), r.GetInt64(4), r.GetInt64(5));
        return result;
    }

    /// <summary>
    /// Merges the given values into existing accounts in one statement; returns the rows that
    /// actually changed (an unchanged row is not rewritten, so a re-run import writes nothing).
    /// </summary>
    public async Task<Dictionary<string, AccountFlags>> MergeAccountsAsync(string domain, IReadOnlyList<AccountValues> rows, CancellationToken ct = default)
    {
        var result = new Dictionary<string, AccountFlags>(StringComparer.Ordinal);
        if (rows.Count == 0) return result;
        await using var cmd = dataSource.CreateCommand(
            """
            WITH u AS (
                SELECT * FROM unnest(@lp, @dn, @ti, @el, @ph, @dep, @q, @se, @re, @ab, @en, @mc, @h) AS u(lp, dn, ti, el, ph, dep, q, se, re, ab, en, mc, h)
            ), m AS (
                SELECT a.local_part,
                    CASE WHEN u.dn IS NULL THEN a.display_name ELSE nullif(u.dn, '') END AS display_name,
                    CASE WHEN u.ti IS NULL THEN a.title ELSE nullif(u.ti, '') END AS title,
                    CASE WHEN u.el IS NULL THEN a.employee_level ELSE nullif(u.el, '') END AS employee_level,
                    CASE WHEN u.ph IS NULL THEN a.phone ELSE nullif(u.ph, '') END AS phone,
                    coalesce(u.dep, a.department_id) AS department_id,
                    coalesce(u.q, a.quota_bytes) AS quota_bytes,
                    coalesce(u.se, a.may_send_external) AS may_send_external,
                    coalesce(u.re, a.may_receive_external) AS may_receive_external,
                    coalesce(u.ab, a.in_address_book) AS in_address_book,
                    coalesce(u.en, a.enabled) AS enabled,
                    coalesce(u.mc, a.must_change_password) AS must_change_password
                FROM directory_account a JOIN u ON a.domain = @d AND a.local_part = u.lp
            )
            UPDATE directory_account a SET display_name = m.display_name, title = m.title, employee_level = m.employee_level,
                phone = m.phone, department_id = m.department_id, quota_bytes = m.quota_bytes,
                may_send_external = m.may_send_external, may_receive_external = m.may_receive_external,
                in_address_book = m.in_address_book, enabled = m.enabled, must_change_password = m.must_change_password,
                updated_at = now()
            FROM m
            WHERE a.domain = @d AND a.local_part = m.local_part
              AND (a.display_name, a.title, a.employee_level, a.phone, a.department_id, a.quota_bytes, a.may_send_external,
                   a.may_receive_external, a.in_address_book, a.enabled, a.must_change_password)
                  IS DISTINCT FROM
                  (m.display_name, m.title, m.employee_level, m.phone, m.department_id, m.quota_bytes, m.may_send_external,
                   m.may_receive_external, m.in_address_book, m.enabled, m.must_change_password)
            RETURNING a.local_part, a.enabled, a.may_send_external, a.may_receive_external, a.department_id, a.quota_bytes
            """);
        cmd.Parameters.AddWithValue("d", domain);
        AddColumns(cmd, rows);
        await using var r = await cmd.ExecuteReaderAsync(ct);
        while (await r.ReadAsync(ct))
            result[r.GetString(0)] = new AccountFlags(r.GetBoolean(1), r.GetBoolean(2), r.GetBoolean(3), r.GetInt64(4), r.GetInt64(5));
        return result;
    }

    private static void AddColumns(NpgsqlCommand cmd, IReadOnlyList<AccountValues> rows)
    {
        static NpgsqlParameter Col<T>(string name, NpgsqlDbType type, IEnumerable<T> values) =>
            new(name, NpgsqlDbType.Array | type) { Value = values.Select(v => (object?)v ?? DBNull.Value).ToArray() };
        cmd.Parameters.Add(Col("lp", NpgsqlDbType.Text, rows.Select(r => r.LocalPart)));
        cmd.Parameters.Add(Col("dn", NpgsqlDbType.Text, rows.Select(r => r.DisplayName)));
        cmd.Parameters.Add(Col("ti", NpgsqlDbType.Text, rows.Select(r => r.Title)));
        cmd.Parameters.Add(Col("el", NpgsqlDbType.Text, rows.Select(r => r.EmployeeLevel)));
        cmd.Parameters.Add(Col("ph", NpgsqlDbType.Text, rows.Select(r => r.Phone)));
        cmd.Parameters.Add(Col("dep", NpgsqlDbType.Bigint, rows.Select(r => r.DepartmentId)));
        cmd.Parameters.Add(Col("q", NpgsqlDbType.Bigint, rows.Select(r => r.QuotaBytes)));
        cmd.Parameters.Add(Col("se", NpgsqlDbType.Boolean, rows.Select(r => r.MaySendExternal)));
        cmd.Parameters.Add(Col("re", NpgsqlDbType.Boolean, rows.Select(r => r.MayReceiveExternal)));
        cmd.Parameters.Add(Col("ab", NpgsqlDbType.Boolean, rows.Select(r => r.InAddressBook)));
        cmd.Parameters.Add(Col("en", NpgsqlDbType.Boolean, rows.Select(r => r.Enabled)));
        cmd.Parameters.Add(Col("mc", NpgsqlDbType.Boolean, rows.Select(r => r.MustChangePassword)));
        cmd.Parameters.Add(Col("h", NpgsqlDbType.Text, rows.Select(r => r.ProvisionedPasswordHash)));
    }

    public async Task DeleteAccountAsync(string domain, string localPart, CancellationToken ct = default)
    {
        await using var cmd = dataSource.CreateCommand("DELETE FROM directory_account WHERE domain = @d AND local_part = @lp");
        cmd.Parameters.AddWithValue("d", domain);
        cmd.Parameters.AddWithValue("lp", localPart);
        await cmd.ExecuteNonQueryAsync(ct);
    }

    /// <summary>An account created by an import whose grain has no state yet; null when the directory has no such account.</summary>
    public async Task<ProvisionedAccount?> FindProvisionedAsync(string domain, string localPart, CancellationToken ct = default)
    {
        await using var cmd = dataSource.CreateCommand(
            "SELECT display_name, enabled, quota_bytes, provisioned_password_hash, created_at FROM directory_account WHERE domain = @d AND local_part = @lp");
        cmd.Parameters.AddWithValue("d", domain);
        cmd.Parameters.AddWithValue("lp", localPart);
        await using var r = await cmd.ExecuteReaderAsync(ct);
        if (!await r.ReadAsync(ct)) return null;
        return new ProvisionedAccount(r.IsDBNull(0) ? null : r.GetString(0), r.GetBoolean(1), r.GetInt64(2),
            r.IsDBNull(3) ? null : r.GetString(3), r.GetFieldValue<DateTimeOffset>(4));
    }

    // ---- reads for the admin API ----------------------------------------------------------------

    private const string AccountColumns =
        """
        a.local_part, a.display_name, a.title, a.employee_level, a.phone, a.department_id,
        coalesce((SELECT string_agg(p.name, '/' ORDER BY p.depth) FROM directory_department p
                  WHERE p.id = ANY(d.path) AND p.depth > 1), ''),
        a.quota_bytes, a.may_send_external, a.may_receive_external, a.in_address_book, a.enabled, a.must_change_password, a.created_at
        """;

    private static AccountRecord ReadAccount(NpgsqlDataReader r) => new(
        r.GetString(0), r.IsDBNull(1) ? null : r.GetString(1), r.IsDBNull(2) ? null : r.GetString(2),
        r.IsDBNull(3) ? null : r.GetString(3), r.IsDBNull(4) ? null : r.GetString(4), r.GetInt64(5), r.GetString(6),
        r.GetInt64(7), r.GetBoolean(8), r.GetBoolean(9), r.GetBoolean(10), r.GetBoolean(11), r.GetBoolean(12),
        r.GetFieldValue<DateTimeOffset>(13));

    public async Task<AccountRecord?> GetAccountAsync(string domain, string localPart, CancellationToken ct = default)
    {
        await using var cmd = dataSource.CreateCommand(
            $"SELECT {AccountColumns} FROM directory_account a JOIN directory_department d ON d.id = a.department_id WHERE a.domain = @d AND a.local_part = @lp");
        cmd.Parameters.AddWithValue("d", domain);
        cmd.Parameters.AddWithValue("lp", localPart);
        await using var r = await cmd.ExecuteReaderAsync(ct);
        return await r.ReadAsync(ct) ? ReadAccount(r) : null;
    }

    /// <summary>
    /// One page of a domain's accounts in local-part order after <paramref name="after"/>:
    /// optionally those whose address or display name starts with <paramref name="prefix"/>
    /// (case-insensitive) and those in a department (with its subtree).
    /// </summary>
    public async Task<List<AccountRecord>> PageAccountsAsync(string domain, string? prefix, long? departmentId, bool subtree,
        string? after, int limit, CancellationToken ct = default)
    {
        var where = new List<string> { "a.domain = @d" };
        await using var cmd = dataSource.CreateCommand();
        cmd.Parameters.AddWithValue("d", domain);
        if (!string.IsNullOrEmpty(prefix))
        {
            // LIKE's own characters are escaped: the prefix is matched literally.
            var like = prefix.ToLowerInvariant().Replace(@"\", @"\\").Replace("%", @"\%").Replace("_", @"\_") + "%";
            where.Add("(a.local_part LIKE @q OR lower(a.display_name) LIKE @q)");
            cmd.Parameters.AddWithValue("q", like);
        }
        if (departmentId is { } dep)
        {
            where.Add(subtree
                ? "a.department_id IN (SELECT id FROM directory_department WHERE domain = @d AND path @> ARRAY[@dep]::bigint[])"
                : "a.department_id = @dep");
            cmd.Parameters.AddWithValue("dep", dep);
        }
        if (after is not null)
        {
            where.Add("a.local_part > @after");
            cmd.Parameters.AddWithValue("after", after);
        }
        cmd.Parameters.AddWithValue("limit", limit);
        cmd.CommandText =
            $"SELECT {AccountColumns} FROM directory_account a JOIN directory_department d ON d.id = a.department_id " +
            $"WHERE {string.Join(" AND ", where)} ORDER BY a.local_part LIMIT @limit";
        await using var r = await cmd.ExecuteReaderAsync(ct);
        var list = new List<AccountRecord>();
        while (await r.ReadAsync(ct)) list.Add(ReadAccount(r));
        return list;
    }
}

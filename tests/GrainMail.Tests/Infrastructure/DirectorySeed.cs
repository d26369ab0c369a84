using Npgsql;

namespace GrainMail.Tests.Infrastructure;

/// <summary>
/// Writes directory rows (departments, directory_account) straight into PostgreSQL, for tests that
/// need an organisation before the directory API creates one. Upserts that still hold once account
/// creation writes its own row: departments are got-or-created by name under their parent (the
/// root is the one named after the domain), accounts are moved to the department given. When the
/// departments API exists, this is the one place to switch to it.
/// </summary>
public sealed class DirectorySeed(string connectionString)
{
    /// <summary>The id of the department at <paramref name="names"/> below the domain's root (the root itself when empty), created as needed.</summary>
    public async Task<long> Department(string domain, params string[] names)
    {
        await using var ds = NpgsqlDataSource.Create(connectionString);
        var id = await GetOrCreate(ds, domain, null, domain);
        foreach (var name in names) id = await GetOrCreate(ds, domain, id, name);
        return id;
    }

    /// <summary>Puts <c>localPart@domain</c> in the department (the row is created when missing).</summary>
    public async Task Account(string domain, string localPart, long departmentId)
    {
        await using var ds = NpgsqlDataSource.Create(connectionString);
        await using var cmd = ds.CreateCommand(
            "INSERT INTO directory_account (domain, local_part, department_id, quota_bytes) VALUES (@d, @lp, @dep, 1073741824) " +
            "ON CONFLICT (domain, local_part) DO UPDATE SET department_id = EXCLUDED.department_id, updated_at = now()");
        cmd.Parameters.AddWithValue("d", domain);
        cmd.Parameters.AddWithValue("lp", localPart);
        cmd.Parameters.AddWithValue("dep", departmentId);
        await cmd.ExecuteNonQueryAsync();
    }

    private static async Task<long> GetOrCreate(NpgsqlDataSource ds, string domain, long? parent, string name)
    {
        await using (var insert = ds.CreateCommand(
            """
            INSERT INTO directory_department (id, domain, parent_id, name, depth, path)
            SELECT n.id, @d, @p, @n, coalesce(p.depth, 0) + 1, coalesce(p.path, '{}'::bigint[]) || n.id
            FROM (SELECT nextval('directory_department_id_seq') AS id) n
            LEFT JOIN directory_department p ON p.id = @p
            ON CONFLICT DO NOTHING
            """))
        {
            insert.Parameters.AddWithValue("d", domain);
            insert.Parameters.Add(new NpgsqlParameter("p", NpgsqlTypes.NpgsqlDbType.Bigint) { Value = (object?)parent ?? DBNull.Value });
            insert.Parameters.AddWithValue("n", name);
            await insert.ExecuteNonQueryAsync();
        }
        await using var select = ds.CreateCommand(
            "SELECT id FROM directory_department WHERE domain = @d AND coalesce(parent_id, 0) = coalesce(@p, 0) AND name = @n");
        select.Parameters.AddWithValue("d", domain);
        select.Parameters.Add(new NpgsqlParameter("p", NpgsqlTypes.NpgsqlDbType.Bigint) { Value = (object?)parent ?? DBNull.Value });
        select.Parameters.AddWithValue("n", name);
        return (long)(await select.ExecuteScalarAsync())!;
    }
}

using Npgsql;

namespace GrainMail.Tests.Infrastructure;

/// <summary>
/// Directory rows (departments, directory_account) written straight into PostgreSQL, for tests
/// that need the organisation before the directory API creates it. Every write is an upsert that
/// also works once account creation inserts its own directory_account row: switch these calls to
/// the departments/accounts API when it exists.
/// </summary>
public sealed class DirectorySeed(string connectionString)
{
    /// <summary>The department at <paramref name="path"/> under the domain's root (the root is named after the domain), created as needed; its id.</summary>
    public async Task<long> DepartmentAsync(string domain, params string[] path)
    {
        await using var ds = NpgsqlDataSource.Create(connectionString);
        var id = await GetOrCreateAsync(ds, domain, null, domain, 1, []);
        var ids = new List<long> { id };
        foreach (var name in path)
        {
            id = await GetOrCreateAsync(ds, domain, id, name, ids.Count + 1, ids.ToArray());
            ids.Add(id);
        }
        return id;
    }

    private static async Task<long> GetOrCreateAsync(NpgsqlDataSource ds, string domain, long? parent, string name, int depth, long[] above)
    {
        await using (var insert = ds.CreateCommand(
            """
            WITH next AS (SELECT nextval('directory_department_id_seq') AS id)
            INSERT INTO directory_department (id, domain, parent_id, name, depth, path)
            SELECT id, @d, @p, @n, @depth, @above || id FROM next
            ON CONFLICT (domain, coalesce(parent_id, 0), name) DO NOTHING
            """))
        {
            insert.Parameters.AddWithValue("d", domain);
            insert.Parameters.Add(new NpgsqlParameter("p", NpgsqlTypes.NpgsqlDbType.Bigint) { Value = (object?)parent ?? DBNull.Value });
            insert.Parameters.AddWithValue("n", name);
            insert.Parameters.AddWithValue("depth", depth);
            insert.Parameters.AddWithValue("above", above);
            await insert.ExecuteNonQueryAsync();
        }
        await using var select = ds.CreateCommand("SELECT id FROM directory_department WHERE domain = @d AND coalesce(parent_id, 0) = @p AND name = @n");
        select.Parameters.AddWithValue("d", domain);
        select.Parameters.AddWithValue("p", parent ?? 0);
        select.Parameters.AddWithValue("n", name);
        return (long)(await select.ExecuteScalarAsync())!;
    }

    /// <summary>Puts the account <c>localPart@domain</c> into a department (creating its directory row if there is none).</summary>
    public async Task AccountAsync(string domain, string localPart, long departmentId, bool enabled = true)
    {
        await using var ds = NpgsqlDataSource.Create(connectionString);
        await using var cmd = ds.CreateCommand(
            """
            INSERT INTO directory_account (domain, local_part, department_id, quota_bytes, enabled)
            VALUES (@d, @lp, @dep, 2147483648, @e)
            ON CONFLICT (domain, local_part) DO UPDATE SET department_id = EXCLUDED.department_id, enabled = EXCLUDED.enabled, updated_at = now()
            """);
        cmd.Parameters.AddWithValue("d", domain);
        cmd.Parameters.AddWithValue("lp", localPart);
        cmd.Parameters.AddWithValue("dep", departmentId);
        cmd.Parameters.AddWithValue("e", enabled);
        await cmd.ExecuteNonQueryAsync();
    }
}

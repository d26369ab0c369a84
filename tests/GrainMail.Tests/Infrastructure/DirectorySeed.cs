using Npgsql;

namespace GrainMail.Tests.Infrastructure;

/// <summary>
/// Writes directory rows (migration 0012) straight into PostgreSQL for tests that need a
/// department tree where a test wants rows the API would take many calls to make (or bypasses the domain grain on purpose). Upserts that
/// stay correct once account creation inserts the directory row itself: departments are
/// get-or-create by sibling name (the root is the one named after the domain), accounts are
/// inserted or moved. Switch to the departments/accounts API when it exists.
/// </summary>
public sealed class DirectorySeed(string connectionString)
{
    /// <summary>The department at <paramref name="names"/> below the domain's root (created as needed); none: the root.</summary>
    public async Task<long> DepartmentAsync(string domain, params string[] names)
    {
        await using var conn = new NpgsqlConnection(connectionString);
        await conn.OpenAsync();
        var id = await GetOrCreate(conn, domain, null, [], domain);
        var path = new List<long> { id };
        foreach (var name in names)
        {
            id = await GetOrCreate(conn, domain, id, path, name);
            path.Add(id);
        }
        return id;
    }

    private static async Task<long> GetOrCreate(NpgsqlConnection conn, string domain, long? parent, IReadOnlyList<long> parentPath, string name)
    {
        await using (var insert = new NpgsqlCommand(
            """
            WITH n AS (SELECT nextval('directory_department_id_seq') AS id)
            INSERT INTO directory_department (id, domain, parent_id, name, depth, path)
            SELECT n.id, @d, @p, @n, @depth, @path || n.id FROM n
            ON CONFLICT (domain, coalesce(parent_id, 0), name) DO NOTHING
            """, conn))
        {
            insert.Parameters.AddWithValue("d", domain);
            insert.Parameters.Add(new NpgsqlParameter("p", NpgsqlTypes.NpgsqlDbType.Bigint) { Value = (object?)parent ?? DBNull.Value });
            insert.Parameters.AddWithValue("n", name);
            insert.Parameters.AddWithValue("depth", parentPath.Count + 1);
            insert.Parameters.AddWithValue("path", parentPath.ToArray());
            await insert.ExecuteNonQueryAsync();
        }
        await using var select = new NpgsqlCommand(
            "SELECT id FROM directory_department WHERE domain = @d AND coalesce(parent_id, 0) = @p AND name = @n", conn);
        select.Parameters.AddWithValue("d", domain);
        select.Parameters.AddWithValue("p", parent ?? 0);
        select.Parameters.AddWithValue("n", name);
        return (long)(await select.ExecuteScalarAsync())!;
    }

    /// <summary>Inserts the account's directory row or moves and updates it.</summary>
    public async Task AccountAsync(string domain, string localPart, string? displayName, long departmentId,
        bool inAddressBook = true, bool enabled = true, string? title = null, string? phone = null)
    {
        await using var conn = new NpgsqlConnection(connectionString);
        await conn.OpenAsync();
        await using var cmd = new NpgsqlCommand(
            """
            INSERT INTO directory_account (domain, local_part, display_name, title, phone, department_id, quota_bytes, in_address_book, enabled)
            VALUES (@d, @lp, @n, @t, @ph, @dep, 1073741824, @book, @en)
            ON CONFLICT (domain, local_part) DO UPDATE SET
                display_name = EXCLUDED.display_name, title = EXCLUDED.title, phone = EXCLUDED.phone,
                department_id = EXCLUDED.department_id, in_address_book = EXCLUDED.in_address_book,
                enabled = EXCLUDED.enabled, updated_at = now()
            """, conn);
        cmd.Parameters.AddWithValue("d", domain);
        cmd.Parameters.AddWithValue("lp", localPart);
        cmd.Parameters.Add(new NpgsqlParameter("n", NpgsqlTypes.NpgsqlDbType.Text) { Value = (object?)displayName ?? DBNull.Value });
        cmd.Parameters.Add(new NpgsqlParameter("t", NpgsqlTypes.NpgsqlDbType.Text) { Value = (object?)title ?? DBNull.Value });
        cmd.Parameters.Add(new NpgsqlParameter("ph", NpgsqlTypes.NpgsqlDbType.Text) { Value = (object?)phone ?? DBNull.Value });
        cmd.Parameters.AddWithValue("dep", departmentId);
        cmd.Parameters.AddWithValue("book", inAddressBook);
        cmd.Parameters.AddWithValue("en", enabled);
        await cmd.ExecuteNonQueryAsync();
    }

    /// <summary>Moves the account (its other columns kept); puts the account <c>localPart@domain</c> into a department (creating its directory row if there is none).</summary>
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

using GrainMail.Contracts.Jmap;
using Npgsql;

namespace GrainMail.Storage.Jmap;

/// <summary>
/// JMAP Identity rows (table <c>jmap_identity</c>, migration 0040). Written by the account's
/// JmapIdentityGrain only, which hands out the counter values.
/// </summary>
public sealed class IdentityStore(NpgsqlDataSource dataSource)
{
    /// <summary>A row with whether the user destroyed it (a derived identity the user removed stays removed).</summary>
    public sealed record Row(StoredIdentity Identity, bool UserDestroyed);

    public async Task<List<Row>> ReadAsync(string account, CancellationToken ct = default)
    {
        await using var cmd = dataSource.CreateCommand(
            "SELECT id, email, derived, created_seq, updated_seq, destroyed, object, user_destroyed FROM jmap_identity WHERE account = @a ORDER BY created_seq, id");
        cmd.Parameters.AddWithValue("a", account);
        var rows = new List<Row>();
        await using var r = await cmd.ExecuteReaderAsync(ct);
        while (await r.ReadAsync(ct))
            rows.Add(new Row(new StoredIdentity(r.GetString(0), r.GetString(1), r.GetBoolean(2), r.GetInt64(3), r.GetInt64(4), r.GetBoolean(5), r.GetString(6)), r.GetBoolean(7)));
        return rows;
    }

    /// <summary>Inserts a row, or brings back a retired derived one (same id) as new at <paramref name="seq"/>.</summary>
    public async Task UpsertAsync(string account, string id, string email, bool derived, long seq, string json, CancellationToken ct = default)
    {
        await using var cmd = dataSource.CreateCommand("""
            INSERT INTO jmap_identity (account, id, email, derived, created_seq, updated_seq, object)
            VALUES (@a, @id, @e, @d, @s, @s, @o)
            ON CONFLICT (account, id) DO UPDATE SET created_seq = @s, updated_seq = @s, destroyed = false, user_destroyed = false, object = @o
            """);
        cmd.Parameters.AddWithValue("a", account);
        cmd.Parameters.AddWithValue("id", id);
        cmd.Parameters.AddWithValue("e", email);
        cmd.Parameters.AddWithValue("d", derived);
        cmd.Parameters.AddWithValue("s", seq);
        cmd.Parameters.AddWithValue("o", json);
        await cmd.ExecuteNonQueryAsync(ct);
    }

    /// <summary>Replaces a live row's object; false when there is none.</summary>
    public async Task<bool> UpdateAsync(string account, string id, long seq, string json, CancellationToken ct = default)
    {
        await using var cmd = dataSource.CreateCommand(
            "UPDATE jmap_identity SET object = @o, updated_seq = @s WHERE account = @a AND id = @id AND NOT destroyed");
        cmd.Parameters.AddWithValue("a", account);
        cmd.Parameters.AddWithValue("id", id);
        cmd.Parameters.AddWithValue("s", seq);
        cmd.Parameters.AddWithValue("o", json);
        return await cmd.ExecuteNonQueryAsync(ct) > 0;
    }

    /// <summary>Marks live rows destroyed at <paramref name="seq"/>; how many there were.</summary>
    public async Task<int> DestroyAsync(string account, IReadOnlyList<string> ids, long seq, bool byUser, CancellationToken ct = default)
    {
        await using var cmd = dataSource.CreateCommand(
            "UPDATE jmap_identity SET destroyed = true, user_destroyed = @u, updated_seq = @s WHERE account = @a AND id = ANY(@ids) AND NOT destroyed");
        cmd.Parameters.AddWithValue("a", account);
        cmd.Parameters.AddWithValue("ids", ids.ToArray());
        cmd.Parameters.AddWithValue("s", seq);
        cmd.Parameters.AddWithValue("u", byUser);
        return await cmd.ExecuteNonQueryAsync(ct);
    }

    public async Task DeleteAccountAsync(string account, CancellationToken ct = default)
    {
        await using var cmd = dataSource.CreateCommand("DELETE FROM jmap_identity WHERE account = @a");
        cmd.Parameters.AddWithValue("a", account);
        await cmd.ExecuteNonQueryAsync(ct);
    }
}

using Npgsql;

namespace GrainMail.Storage.Trust;

/// <summary>
/// Stored SRS keys (table srs_key): the envelope sender a forward left with when its SRS address would have
/// passed 64 octets of local part, and when. A bounce to the key finds the original here until it expires.
/// </summary>
public sealed class SrsKeyStore(NpgsqlDataSource dataSource)
{
    private long _added;

    /// <summary>Stores a new key; every 256th insert also removes the keys older than <paramref name="maxAge"/>.</summary>
    public async Task AddAsync(string key, string original, TimeSpan maxAge, CancellationToken ct = default)
    {
        await using (var cmd = dataSource.CreateCommand("INSERT INTO srs_key (key, original) VALUES ($1, $2)"))
        {
            cmd.Parameters.AddWithValue(key.ToLowerInvariant());
            cmd.Parameters.AddWithValue(original);
            await cmd.ExecuteNonQueryAsync(ct);
        }
        if (Interlocked.Increment(ref _added) % 256 == 0)
        {
            await using var sweep = dataSource.CreateCommand("DELETE FROM srs_key WHERE created_at < now() - $1");
            sweep.Parameters.AddWithValue(maxAge);
            await sweep.ExecuteNonQueryAsync(ct);
        }
    }

    /// <summary>The original sender a key stands for and when it was made; null for an unknown key.</summary>
    public async Task<(string Original, DateTimeOffset CreatedAt)?> FindAsync(string key, CancellationToken ct = default)
    {
        await using var cmd = dataSource.CreateCommand("SELECT original, created_at FROM srs_key WHERE key = $1");
        cmd.Parameters.AddWithValue(key.ToLowerInvariant());
        await using var r = await cmd.ExecuteReaderAsync(ct);
        return await r.ReadAsync(ct) ? (r.GetString(0), r.GetFieldValue<DateTimeOffset>(1)) : null;
    }
}

using System.Security.Cryptography;
using System.Text;
using GrainMail.Contracts.LargeFiles;
using GrainMail.Storage.Blobs;
using Npgsql;

namespace GrainMail.Storage.LargeFiles;

/// <summary>A <c>large_file</c> row as the grains need it.</summary>
public sealed record LargeFileRow(Guid Id, string Account, string Domain, int KeyId, string Name, string ContentType, long Length,
    long Received, DateTimeOffset CreatedAt, DateTimeOffset? CompletedAt, DateTimeOffset? Expires, string Link)
{
    public LargeFileInfo ToInfo() => new(Id, Account, Name, ContentType, Length, Received, CreatedAt, CompletedAt, Expires, Link);
}

/// <summary>
/// Large files (migration 0027): pieces sealed with AES-256-GCM under the owner's domain data key
/// (the <see cref="KeyRing"/> of the blob store), bound to the file and the piece's offset, so a
/// piece moved to another file or position does not open. File names and link tokens are sealed
/// under the master key; the database holds the token's SHA-256 for lookup.
/// </summary>
public sealed class LargeFileStore(NpgsqlDataSource dataSource, KeyRing keys)
{
    private const string NamePurpose = "large-file-name";
    private const string LinkPurpose = "large-file-link";

    public static byte[] TokenHash(string token) => SHA256.HashData(Encoding.UTF8.GetBytes(token));

    public async Task<int> OpenUploadsAsync(string account, CancellationToken ct = default)
    {
        await using var cmd = dataSource.CreateCommand("SELECT count(*) FROM large_file WHERE account = @a AND completed_at IS NULL");
        cmd.Parameters.AddWithValue("a", account);
        return Convert.ToInt32(await cmd.ExecuteScalarAsync(ct));
    }

    public async Task<LargeFileRow> CreateAsync(Guid id, string account, string name, string contentType, long length,
        DateTimeOffset now, CancellationToken ct = default)
    {
        var domain = account[(account.LastIndexOf('@') + 1)..];
        var (keyId, _) = await keys.CurrentKeyAsync(domain, ct);
        // 32 random bytes: the link is the only credential a recipient holds, so it must not be guessable.
        var token = Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)).TrimEnd('=').Replace('+', '-').Replace('/', '_');
        await using var cmd = dataSource.CreateCommand(
            """
            INSERT INTO large_file (id, account, domain, key_id, sealed_name, content_type, length, created_at, link_hash, sealed_link)
            VALUES (@id, @a, @d, @k, @n, @t, @l, @c, @h, @s)
            """);
        cmd.Parameters.AddWithValue("id", id);
        cmd.Parameters.AddWithValue("a", account);
        cmd.Parameters.AddWithValue("d", domain);
        cmd.Parameters.AddWithValue("k", keyId);
        cmd.Parameters.AddWithValue("n", keys.SealText(domain, NamePurpose, name));
        cmd.Parameters.AddWithValue("t", contentType);
        cmd.Parameters.AddWithValue("l", length);
        cmd.Parameters.AddWithValue("c", now.UtcDateTime);
        cmd.Parameters.AddWithValue("h", TokenHash(token));
        cmd.Parameters.AddWithValue("s", keys.SealText(domain, LinkPurpose, token));
        await cmd.ExecuteNonQueryAsync(ct);
        return new LargeFileRow(id, account, domain, keyId, name, contentType, length, 0, now, null, null, token);
    }

    public async Task<LargeFileRow?> GetAsync(Guid id, CancellationToken ct = default)
    {
        await using var cmd = dataSource.CreateCommand($"{Select} WHERE id = @id");
        cmd.Parameters.AddWithValue("id", id);
        return await ReadOneAsync(cmd, ct);
    }

    public async Task<LargeFileRow?> FindByTokenAsync(string token, CancellationToken ct = default)
    {
        await using var cmd = dataSource.CreateCommand($"{Select} WHERE link_hash = @h");
        cmd.Parameters.AddWithValue("h", TokenHash(token));
        return await ReadOneAsync(cmd, ct);
    }

    private const string Select =
        "SELECT id, account, domain, key_id, sealed_name, content_type, length, received, created_at, completed_at, expires_at, sealed_link FROM large_file";

    private async Task<LargeFileRow?> ReadOneAsync(NpgsqlCommand cmd, CancellationToken ct)
    {
        await using var r = await cmd.ExecuteReaderAsync(ct);
        if (!await r.ReadAsync(ct)) return null;
        var domain = r.GetString(2);
        return new LargeFileRow(r.GetGuid(0), r.GetString(1), domain, r.GetInt32(3), keys.OpenText(domain, NamePurpose, (byte[])r[4]),
            r.GetString(5), r.GetInt64(6), r.GetInt64(7), Utc(r.GetDateTime(8)),
            r.IsDBNull(9) ? null : Utc(r.GetDateTime(9)), r.IsDBNull(10) ? null : Utc(r.GetDateTime(10)),
            keys.OpenText(domain, LinkPurpose, (byte[])r[11]));
    }

    /// <summary>
    /// Stores one piece at <paramref name="offset"/> and moves the file's offset past it, in one
    /// transaction: the row's offset is the truth a resuming client is told, so it never counts a
    /// piece that is not stored. <paramref name="completeAt"/> and <paramref name="expires"/> are
    /// written when the piece is the last one. Returns the new offset, or null when the file's
    /// offset is not <paramref name="offset"/> any more (a concurrent writer).
    /// </summary>
    public async Task<long?> AppendAsync(LargeFileRow file, long offset, ReadOnlyMemory<byte> piece, DateTimeOffset completeAt,
        DateTimeOffset expires, CancellationToken ct = default)
    {
        var key = await keys.KeyAsync(file.Domain, file.KeyId, ct);
        var sealedPiece = MasterKey.Seal(key, piece.Span, PieceContext(file.Id, offset));
        var complete = offset + piece.Length == file.Length;
        await using var conn = await dataSource.OpenConnectionAsync(ct);
        await using var tx = await conn.BeginTransactionAsync(ct);
        await using (var move = new NpgsqlCommand(
            """
            UPDATE large_file SET received = received + @n,
                completed_at = CASE WHEN @last THEN @c ELSE NULL END, expires_at = CASE WHEN @last THEN @e ELSE NULL END
            WHERE id = @id AND received = @o AND completed_at IS NULL
            """, conn, tx))
        {
            move.Parameters.AddWithValue("n", (long)piece.Length);
            move.Parameters.AddWithValue("last", complete);
            move.Parameters.AddWithValue("c", completeAt.UtcDateTime);
            move.Parameters.AddWithValue("e", expires.UtcDateTime);
            move.Parameters.AddWithValue("id", file.Id);
            move.Parameters.AddWithValue("o", offset);
            if (await move.ExecuteNonQueryAsync(ct) == 0) return null;
        }
        await using (var insert = new NpgsqlCommand(
            "INSERT INTO large_file_chunk (file_id, start, length, data) VALUES (@id, @s, @l, @d)", conn, tx))
        {
            insert.Parameters.AddWithValue("id", file.Id);
            insert.Parameters.AddWithValue("s", offset);
            insert.Parameters.AddWithValue("l", piece.Length);
            insert.Parameters.AddWithValue("d", sealedPiece);
            await insert.ExecuteNonQueryAsync(ct);
        }
        await tx.CommitAsync(ct);
        return offset + piece.Length;
    }

    /// <summary>
    /// Bytes [offset, offset + count) of a file (fewer at its end): only the pieces that overlap the
    /// range are read and opened, so a resumed download of a 3 GB file starts where it left off.
    /// </summary>
    public async Task<byte[]> ReadAsync(LargeFileRow file, long offset, int count, CancellationToken ct = default)
    {
        var end = Math.Min(file.Received, offset + count);
        if (offset >= end) return [];
        var key = await keys.KeyAsync(file.Domain, file.KeyId, ct);
        var result = new byte[end - offset];
        await using var cmd = dataSource.CreateCommand(
            // start < end AND start + length > offset: the pieces overlapping the range; the primary
            // key (file_id, start) bounds the scan from above, the lower bound at most one piece back.
            """
            SELECT start, data FROM large_file_chunk
            WHERE file_id = @id AND start < @end AND start > @low AND start + length > @o ORDER BY start
            """);
        cmd.Parameters.AddWithValue("id", file.Id);
        cmd.Parameters.AddWithValue("end", end);
        cmd.Parameters.AddWithValue("low", offset - LargeFileLimits.PieceBytes - 1);
        cmd.Parameters.AddWithValue("o", offset);
        await using var r = await cmd.ExecuteReaderAsync(ct);
        var covered = offset;
        while (await r.ReadAsync(ct))
        {
            var start = r.GetInt64(0);
            if (start > covered) throw new CryptographicException("Large file piece missing");
            var plain = MasterKey.Open(key, (byte[])r[1], PieceContext(file.Id, start));
            var from = Math.Max(offset, start);
            var to = Math.Min(end, start + plain.Length);
            plain.AsSpan((int)(from - start), (int)(to - from)).CopyTo(result.AsSpan((int)(from - offset)));
            covered = to;
        }
        if (covered != end) throw new CryptographicException("Large file shorter than recorded");
        return result;
    }

    public async Task<bool> DeleteAsync(Guid id, CancellationToken ct = default)
    {
        await using var cmd = dataSource.CreateCommand("DELETE FROM large_file WHERE id = @id");
        cmd.Parameters.AddWithValue("id", id);
        return await cmd.ExecuteNonQueryAsync(ct) > 0;
    }

    /// <summary>Removes files whose link expired before <paramref name="expiredBefore"/> and uploads abandoned before <paramref name="abandonedBefore"/>.</summary>
    public async Task<int> SweepAsync(DateTimeOffset expiredBefore, DateTimeOffset abandonedBefore, CancellationToken ct = default)
    {
        await using var cmd = dataSource.CreateCommand(
            "DELETE FROM large_file WHERE expires_at < @e OR (completed_at IS NULL AND created_at < @a)");
        cmd.Parameters.AddWithValue("e", expiredBefore.UtcDateTime);
        cmd.Parameters.AddWithValue("a", abandonedBefore.UtcDateTime);
        return await cmd.ExecuteNonQueryAsync(ct);
    }

    public async Task<int> LinkDaysAsync(string domain, CancellationToken ct = default)
    {
        await using var cmd = dataSource.CreateCommand("SELECT link_days FROM large_file_policy WHERE domain = @d");
        cmd.Parameters.AddWithValue("d", domain);
        return await cmd.ExecuteScalarAsync(ct) is int days ? days : LargeFileLimits.DefaultLinkDays;
    }

    public async Task SetLinkDaysAsync(string domain, int days, CancellationToken ct = default)
    {
        await using var cmd = dataSource.CreateCommand(
            "INSERT INTO large_file_policy (domain, link_days) VALUES (@d, @n) ON CONFLICT (domain) DO UPDATE SET link_days = EXCLUDED.link_days");
        cmd.Parameters.AddWithValue("d", domain);
        cmd.Parameters.AddWithValue("n", days);
        await cmd.ExecuteNonQueryAsync(ct);
    }

    private static byte[] PieceContext(Guid id, long start) => Encoding.UTF8.GetBytes($"grainmail-large|{id:N}|{start}");

    private static DateTimeOffset Utc(DateTime t) => new(DateTime.SpecifyKind(t, DateTimeKind.Utc));
}

using System.Security.Cryptography;
using System.Text;
using GrainMail.Contracts.Uploads;
using GrainMail.Storage.Blobs;
using Npgsql;

namespace GrainMail.Storage.Uploads;

/// <summary>A <c>jmap_upload</c> row.</summary>
public sealed record UploadRow(Guid Id, string Account, string Domain, int KeyId, string ContentType, long Size,
    DateTimeOffset CreatedAt, DateTimeOffset? CompletedAt, DateTimeOffset Expires)
{
    public UploadInfo ToInfo() => new(Id, Account, ContentType, Size, Expires);
}

/// <summary>
/// JMAP uploads (migration 0035) in the blob store's database and under its keys: pieces sealed with
/// AES-256-GCM under the owner's domain data key (<see cref="KeyRing"/>), bound to the upload and
/// the piece's offset, as large files are. Not content-addressed like message blobs: an upload
/// belongs to one account and expires, and its hash is known only after the last byte.
/// </summary>
public sealed class UploadBlobStore(NpgsqlDataSource dataSource, KeyRing keys)
{
    public async Task<UploadRow> CreateAsync(Guid id, string account, string contentType, DateTimeOffset now, CancellationToken ct = default)
    {
        var domain = account[(account.LastIndexOf('@') + 1)..];
        var (keyId, _) = await keys.CurrentKeyAsync(domain, ct);
        var expires = now + UploadLimits.Lifetime;
        await using var cmd = dataSource.CreateCommand(
            """
            INSERT INTO jmap_upload (id, account, domain, key_id, content_type, created_at, expires_at)
            VALUES (@id, @a, @d, @k, @t, @c, @e)
            """);
        cmd.Parameters.AddWithValue("id", id);
        cmd.Parameters.AddWithValue("a", account);
        cmd.Parameters.AddWithValue("d", domain);
        cmd.Parameters.AddWithValue("k", keyId);
        cmd.Parameters.AddWithValue("t", contentType);
        cmd.Parameters.AddWithValue("c", now.UtcDateTime);
        cmd.Parameters.AddWithValue("e", expires.UtcDateTime);
        await cmd.ExecuteNonQueryAsync(ct);
        return new UploadRow(id, account, domain, keyId, contentType, 0, now, null, expires);
    }

    public async Task<UploadRow?> GetAsync(Guid id, CancellationToken ct = default)
    {
        await using var cmd = dataSource.CreateCommand(
            "SELECT id, account, domain, key_id, content_type, size, created_at, completed_at, expires_at FROM jmap_upload WHERE id = @id");
        cmd.Parameters.AddWithValue("id", id);
        await using var r = await cmd.ExecuteReaderAsync(ct);
        if (!await r.ReadAsync(ct)) return null;
        return new UploadRow(r.GetGuid(0), r.GetString(1), r.GetString(2), r.GetInt32(3), r.GetString(4), r.GetInt64(5),
            Utc(r.GetDateTime(6)), r.IsDBNull(7) ? null : Utc(r.GetDateTime(7)), Utc(r.GetDateTime(8)));
    }

    /// <summary>Bytes of the account's uploads that have not expired at <paramref name="now"/> (finished or on their way).</summary>
    public async Task<long> LiveBytesAsync(string account, DateTimeOffset now, CancellationToken ct = default)
    {
        await using var cmd = dataSource.CreateCommand("SELECT coalesce(sum(size), 0)::bigint FROM jmap_upload WHERE account = @a AND expires_at > @n");
        cmd.Parameters.AddWithValue("a", account);
        cmd.Parameters.AddWithValue("n", now.UtcDateTime);
        return (long)(await cmd.ExecuteScalarAsync(ct))!;
    }

    /// <summary>Stores one piece at <paramref name="offset"/> and moves the size past it in one transaction; false when the row is not at that offset (or finished).</summary>
    public async Task<bool> AppendAsync(UploadRow upload, long offset, ReadOnlyMemory<byte> piece, CancellationToken ct = default)
    {
        var key = await keys.KeyAsync(upload.Domain, upload.KeyId, ct);
        var sealedPiece = MasterKey.Seal(key, piece.Span, PieceContext(upload.Id, offset));
        await using var conn = await dataSource.OpenConnectionAsync(ct);
        await using var tx = await conn.BeginTransactionAsync(ct);
        await using (var move = new NpgsqlCommand(
            "UPDATE jmap_upload SET size = size + @n WHERE id = @id AND size = @o AND completed_at IS NULL", conn, tx))
        {
            move.Parameters.AddWithValue("n", (long)piece.Length);
            move.Parameters.AddWithValue("id", upload.Id);
            move.Parameters.AddWithValue("o", offset);
            if (await move.ExecuteNonQueryAsync(ct) == 0) return false;
        }
        await using (var insert = new NpgsqlCommand(
            "INSERT INTO jmap_upload_chunk (upload_id, start, length, data) VALUES (@id, @s, @l, @d)", conn, tx))
        {
            insert.Parameters.AddWithValue("id", upload.Id);
            insert.Parameters.AddWithValue("s", offset);
            insert.Parameters.AddWithValue("l", piece.Length);
            insert.Parameters.AddWithValue("d", sealedPiece);
            await insert.ExecuteNonQueryAsync(ct);
        }
        await tx.CommitAsync(ct);
        return true;
    }

    public async Task<bool> CompleteAsync(Guid id, DateTimeOffset now, CancellationToken ct = default)
    {
        await using var cmd = dataSource.CreateCommand("UPDATE jmap_upload SET completed_at = @c WHERE id = @id AND completed_at IS NULL");
        cmd.Parameters.AddWithValue("id", id);
        cmd.Parameters.AddWithValue("c", now.UtcDateTime);
        return await cmd.ExecuteNonQueryAsync(ct) > 0;
    }

    /// <summary>Bytes [offset, offset + count) of an upload (fewer at its end), opening only the pieces that overlap.</summary>
    public async Task<byte[]> ReadAsync(UploadRow upload, long offset, int count, CancellationToken ct = default)
    {
        var end = Math.Min(upload.Size, offset + count);
        if (offset >= end) return [];
        var key = await keys.KeyAsync(upload.Domain, upload.KeyId, ct);
        var result = new byte[end - offset];
        await using var cmd = dataSource.CreateCommand(
            """
            SELECT start, data FROM jmap_upload_chunk
            WHERE upload_id = @id AND start < @end AND start > @low AND start + length > @o ORDER BY start
            """);
        cmd.Parameters.AddWithValue("id", upload.Id);
        cmd.Parameters.AddWithValue("end", end);
        cmd.Parameters.AddWithValue("low", offset - UploadLimits.PieceBytes - 1);
        cmd.Parameters.AddWithValue("o", offset);
        await using var r = await cmd.ExecuteReaderAsync(ct);
        var covered = offset;
        while (await r.ReadAsync(ct))
        {
            var start = r.GetInt64(0);
            if (start > covered) throw new CryptographicException("Upload piece missing");
            var plain = MasterKey.Open(key, (byte[])r[1], PieceContext(upload.Id, start));
            var from = Math.Max(offset, start);
            var to = Math.Min(end, start + plain.Length);
            plain.AsSpan((int)(from - start), (int)(to - from)).CopyTo(result.AsSpan((int)(from - offset)));
            covered = to;
        }
        if (covered != end) throw new CryptographicException("Upload shorter than recorded");
        return result;
    }

    public async Task DeleteAsync(Guid id, CancellationToken ct = default)
    {
        await using var cmd = dataSource.CreateCommand("DELETE FROM jmap_upload WHERE id = @id");
        cmd.Parameters.AddWithValue("id", id);
        await cmd.ExecuteNonQueryAsync(ct);
    }

    /// <summary>Deletes uploads that expired before <paramref name="now"/> (their pieces go by cascade).</summary>
    public async Task<int> SweepAsync(DateTimeOffset now, CancellationToken ct = default)
    {
        await using var cmd = dataSource.CreateCommand("DELETE FROM jmap_upload WHERE expires_at < @n");
        cmd.Parameters.AddWithValue("n", now.UtcDateTime);
        return await cmd.ExecuteNonQueryAsync(ct);
    }

    private static byte[] PieceContext(Guid id, long start) => Encoding.UTF8.GetBytes($"grainmail-upload|{id:N}|{start}");

    private static DateTimeOffset Utc(DateTime t) => new(DateTime.SpecifyKind(t, DateTimeKind.Utc));
}

using GrainMail.Operations.Spool;
using GrainMail.Operations;
using System.Security.Cryptography;
using System.Text;
using Npgsql;
using NpgsqlTypes;

namespace GrainMail.Storage.Blobs;

/// <summary>
/// Message bodies, content-addressed by the SHA-256 of their raw bytes within a domain, cut
/// into chunks each sealed with AES-GCM under the domain's data key. The additional data
/// binds a chunk to its blob and position, so chunks cannot be swapped or replayed.
/// Reference counted: writers add references inside their own transaction; the blob goes
/// when the count reaches zero.
/// </summary>
public sealed class BlobStore(NpgsqlDataSource dataSource, KeyRing keys)
{
    public KeyRing Keys => keys;

    public const int ChunkSize = 256 * 1024;

    // Up to this much new content per batch goes in one INSERT; more is streamed with COPY.
    private const long SmallBatchBytes = 1024 * 1024;

    public static byte[] Hash(ReadOnlySpan<byte> raw) => SHA256.HashData(raw);

    /// <summary>
    /// Adds <paramref name="references"/> references to a blob inside the caller's transaction,
    /// writing its chunks only when the blob is new. Returns true when it was written.
    /// </summary>
    public async Task<bool> AddReferencesAsync(NpgsqlConnection conn, NpgsqlTransaction tx, string domain, byte[] hash,
        MessageContent content, int references, CancellationToken ct = default) =>
        await AddReferencesAsync(conn, tx, [new BlobWrite(domain, hash, content, references)], ct) == 1;

    /// <summary>
    /// Adds references to many blobs in one statement, then writes the chunks of those that are
    /// new in one binary COPY (a COPY costs a fixed start-up per call: one per submission was the
    /// largest single cost of the submit path). Returns how many blobs were new.
    /// </summary>
    public async Task<int> AddReferencesAsync(NpgsqlConnection conn, NpgsqlTransaction tx, IReadOnlyList<BlobWrite> writes,
        CancellationToken ct = default)
    {
        // One row per blob: the same blob twice in one upsert would be an error in PostgreSQL.
        var merged = writes
            .GroupBy(w => (w.Domain, Convert.ToHexString(w.Hash)))
            .Select(g => g.First() with { References = g.Sum(w => w.References) })
            .OrderBy(w => w.Domain, StringComparer.Ordinal).ThenBy(w => Convert.ToHexString(w.Hash), StringComparer.Ordinal)
            .ToList();
        var keyIds = new int[merged.Count];
        var keysByDomain = new Dictionary<string, (int KeyId, byte[] Key)>(StringComparer.Ordinal);
        for (var i = 0; i < merged.Count; i++)
        {
            if (!keysByDomain.TryGetValue(merged[i].Domain, out var k))
                keysByDomain[merged[i].Domain] = k = await keys.CurrentKeyAsync(merged[i].Domain, ct);
            keyIds[i] = k.KeyId;
        }

        var isNew = new bool[merged.Count];
        await using (var upsert = new NpgsqlCommand(
            """
            INSERT INTO blob (domain, hash, size, key_id, refcount)
            SELECT domain, hash, size, key_id, refcount FROM unnest(@d, @h, @s, @k, @r) AS w(domain, hash, size, key_id, refcount)
            ON CONFLICT (domain, hash) DO UPDATE SET refcount = blob.refcount + EXCLUDED.refcount
            RETURNING domain, hash, (xmax = 0)
            """, conn, tx))
        {
            upsert.Parameters.AddWithValue("d", merged.Select(w => w.Domain).ToArray());
            upsert.Parameters.AddWithValue("h", merged.Select(w => w.Hash).ToArray());
            upsert.Parameters.AddWithValue("s", merged.Select(w => w.Content.Length).ToArray());
            upsert.Parameters.AddWithValue("k", keyIds);
            upsert.Parameters.AddWithValue("r", merged.Select(w => (long)w.References).ToArray());
            var index = merged.Select((w, i) => (Key: (w.Domain, Convert.ToHexString(w.Hash)), i)).ToDictionary(x => x.Key, x => x.i);
            await using var r = await upsert.ExecuteReaderAsync(ct);
            while (await r.ReadAsync(ct))
            {
                if (r.GetBoolean(2)) isNew[index[(r.GetString(0), Convert.ToHexString((byte[])r[1]))]] = true;
            }
        }
        var created = isNew.Count(x => x);
        if (created == 0) return 0;

        var newBytes = merged.Where((_, i) => isNew[i]).Sum(w => w.Content.Length);
        // Counted when sent, inside the caller's transaction: a batch that then rolls back was
        // still written (and its WAL still made), which is what this counter is for.
        GrainMailMeters.BlobBytesWritten.Add(newBytes);
        if (newBytes <= SmallBatchBytes)
        {
            // Small messages (the usual case): all chunks in one INSERT over arrays.
            var domains = new List<string>();
            var hashes = new List<byte[]>();
            var seqs = new List<int>();
            var data = new List<byte[]>();
            for (var i = 0; i < merged.Count; i++)
            {
                if (!isNew[i]) continue;
                var (domain, hash, content, _) = merged[i];
                var key = keysByDomain[domain].Key;
                var seq = 0;
                await foreach (var piece in content.ReadAsync(ChunkSize, ct)) Add(domain, hash, key, seq++, piece);
                if (seq == 0) Add(domain, hash, key, 0, ReadOnlyMemory<byte>.Empty);
            }
            await using var insert = new NpgsqlCommand(
                "INSERT INTO blob_chunk (domain, hash, seq, data) SELECT * FROM unnest(@d, @h, @s, @c)", conn, tx);
            insert.Parameters.AddWithValue("d", domains.ToArray());
            insert.Parameters.AddWithValue("h", hashes.ToArray());
            insert.Parameters.AddWithValue("s", seqs.ToArray());
            insert.Parameters.AddWithValue("c", data.ToArray());
            await insert.ExecuteNonQueryAsync(ct);
            return created;

            void Add(string domain, byte[] hash, byte[] key, int seq, ReadOnlyMemory<byte> plain)
            {
                domains.Add(domain);
                hashes.Add(hash);
                seqs.Add(seq);
                data.Add(MasterKey.Seal(key, plain.Span, ChunkContext(domain, hash, seq)));
            }
        }

        // Large messages: a binary COPY streams chunk after chunk, never all of them at once.

        await using var importer = await conn.BeginBinaryImportAsync(
            "COPY blob_chunk (domain, hash, seq, data) FROM STDIN (FORMAT BINARY)", ct);
        for (var i = 0; i < merged.Count; i++)
        {
            if (!isNew[i]) continue;
            var (domain, hash, content, _) = merged[i];
            var key = keysByDomain[domain].Key;
            var seq = 0;
            await foreach (var piece in content.ReadAsync(ChunkSize, ct))
            {
                await WriteChunkAsync(importer, key, domain, hash, seq++, piece, ct);
            }
            // An empty message is still one (empty) chunk, so every blob has chunk 0.
            if (seq == 0) await WriteChunkAsync(importer, key, domain, hash, 0, ReadOnlyMemory<byte>.Empty, ct);
        }
        await importer.CompleteAsync(ct);
        return created;
    }

    private static async Task WriteChunkAsync(NpgsqlBinaryImporter importer, byte[] key, string domain, byte[] hash, int seq,
        ReadOnlyMemory<byte> plain, CancellationToken ct)
    {
        var sealedChunk = MasterKey.Seal(key, plain.Span, ChunkContext(domain, hash, seq));
        await importer.StartRowAsync(ct);
        await importer.WriteAsync(domain, NpgsqlDbType.Text, ct);
        await importer.WriteAsync(hash, NpgsqlDbType.Bytea, ct);
        await importer.WriteAsync(seq, NpgsqlDbType.Integer, ct);
        await importer.WriteAsync(sealedChunk, NpgsqlDbType.Bytea, ct);
    }

    /// <summary>A blob's key id and size; null when there is no such blob.</summary>
    private static async Task<(int KeyId, long Size)?> HeadAsync(NpgsqlConnection conn, string domain, byte[] hash, CancellationToken ct)
    {
        await using var head = new NpgsqlCommand("SELECT key_id, size FROM blob WHERE domain = @d AND hash = @h", conn);
        head.Parameters.AddWithValue("d", domain);
        head.Parameters.AddWithValue("h", hash);
        await using var r = await head.ExecuteReaderAsync(ct);
        return await r.ReadAsync(ct) ? (r.GetInt32(0), r.GetInt64(1)) : null;
    }

    /// <summary>The raw bytes of a blob, byte-identical to what was written; null when absent.</summary>
    public async Task<byte[]?> ReadAsync(string domain, byte[] hash, CancellationToken ct = default)
    {
        using var pgTimer = GrainMailMeters.TimePg("blob.read");
        await using var conn = await dataSource.OpenConnectionAsync(ct);
        // The blob row and its chunks in one statement, so in one snapshot: read in two, a blob
        // released in between (its last message expunged) read as "Blob shorter than recorded".
        await using var cmd = new NpgsqlCommand(
            """
            SELECT b.key_id, b.size, c.seq, c.data FROM blob b JOIN blob_chunk c ON c.domain = b.domain AND c.hash = b.hash
            WHERE b.domain = @d AND b.hash = @h ORDER BY c.seq
            """, conn);
        cmd.Parameters.AddWithValue("d", domain);
        cmd.Parameters.AddWithValue("h", hash);
        await using var r = await cmd.ExecuteReaderAsync(ct);
        byte[]? result = null;
        byte[]? key = null;
        var written = 0;
        var expected = 0;
        while (await r.ReadAsync(ct))
        {
            if (result is null)
            {
                key = await keys.KeyAsync(domain, r.GetInt32(0), ct);
                result = new byte[r.GetInt64(1)];
            }
            var seq = r.GetInt32(2);
            if (seq != expected++) throw new CryptographicException("Blob chunk missing");
            var plain = MasterKey.Open(key!, (byte[])r[3], ChunkContext(domain, hash, seq));
            if (written + plain.Length > result.Length) throw new CryptographicException("Blob longer than recorded");
            plain.CopyTo(result, written);
            written += plain.Length;
        }
        if (result is not null && written != result.Length) throw new CryptographicException("Blob shorter than recorded");
        return result;
    }

    /// <summary>
    /// Several blobs whole, in the order asked (null for one absent), in one statement and so one snapshot
    /// (as <see cref="ReadAsync"/> reads one): for a page of message summaries, one round trip instead of one each.
    /// </summary>
    public async Task<byte[]?[]> ReadManyAsync(IReadOnlyList<(string Domain, byte[] Hash)> blobs, CancellationToken ct = default)
    {
        var result = new byte[]?[blobs.Count];
        if (blobs.Count == 0) return result;
        using var pgTimer = GrainMailMeters.TimePg("blob.read_many");
        await using var conn = await dataSource.OpenConnectionAsync(ct);
        await using var cmd = new NpgsqlCommand(
            """
            SELECT w.i, b.key_id, b.size, c.seq, c.data
            FROM unnest(@d::text[], @h::bytea[]) WITH ORDINALITY AS w(domain, hash, i)
            JOIN blob b ON b.domain = w.domain AND b.hash = w.hash
            JOIN blob_chunk c ON c.domain = b.domain AND c.hash = b.hash
            ORDER BY w.i, c.seq
            """, conn);
        cmd.Parameters.AddWithValue("d", blobs.Select(b => b.Domain).ToArray());
        cmd.Parameters.AddWithValue("h", blobs.Select(b => b.Hash).ToArray());
        await using var r = await cmd.ExecuteReaderAsync(ct);
        var current = -1;
        byte[]? key = null;
        var written = 0;
        var expected = 0;
        void Check()
        {
            if (current >= 0 && written != result[current]!.Length) throw new CryptographicException("Blob shorter than recorded");
        }
        while (await r.ReadAsync(ct))
        {
            var at = (int)r.GetInt64(0) - 1;
            var (domain, hash) = blobs[at];
            if (at != current)
            {
                Check();
                current = at;
                key = await keys.KeyAsync(domain, r.GetInt32(1), ct);
                result[at] = new byte[r.GetInt64(2)];
                written = 0;
                expected = 0;
            }
            var seq = r.GetInt32(3);
            if (seq != expected++) throw new CryptographicException("Blob chunk missing");
            var plain = MasterKey.Open(key!, (byte[])r[4], ChunkContext(domain, hash, seq));
            if (written + plain.Length > result[at]!.Length) throw new CryptographicException("Blob longer than recorded");
            plain.CopyTo(result[at]!, written);
            written += plain.Length;
        }
        Check();
        return result;
    }

    /// <summary>
    /// Bytes <paramref name="offset"/> to <paramref name="offset"/> + <paramref name="count"/> of a
    /// blob (fewer at its end); null when absent. Chunk lengths come from the sealed sizes (known
    /// to PostgreSQL without reading the chunks), so only the chunks that cover the range are read
    /// and decrypted: a partial FETCH of a 40 MB message opens one or two 256 KiB chunks.
    /// </summary>
    public async Task<byte[]?> ReadRangeAsync(string domain, byte[] hash, long offset, int count, CancellationToken ct = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(offset);
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        using var pgTimer = GrainMailMeters.TimePg("blob.read_range");
        await using var conn = await dataSource.OpenConnectionAsync(ct);
        if (await HeadAsync(conn, domain, hash, ct) is not var (keyId, size)) return null;
        if (offset >= size || count == 0) return [];
        var end = Math.Min(size, offset + count);
        // Which chunks hold [offset, end): walk the plain lengths in order.
        var wanted = new List<(int Seq, long Start)>();
        await using (var lengths = new NpgsqlCommand(
            "SELECT seq, octet_length(data) FROM blob_chunk WHERE domain = @d AND hash = @h ORDER BY seq", conn))
        {
            lengths.Parameters.AddWithValue("d", domain);
            lengths.Parameters.AddWithValue("h", hash);
            await using var r = await lengths.ExecuteReaderAsync(ct);
            long position = 0;
            while (await r.ReadAsync(ct))
            {
                var plainLength = r.GetInt32(1) - MasterKey.SealOverhead;
                if (position + plainLength > offset && position < end) wanted.Add((r.GetInt32(0), position));
                position += plainLength;
                if (position >= end) break;
            }
        }
        var key = await keys.KeyAsync(domain, keyId, ct);
        var result = new byte[end - offset];
        await using (var cmd = new NpgsqlCommand(
            "SELECT seq, data FROM blob_chunk WHERE domain = @d AND hash = @h AND seq = ANY(@s) ORDER BY seq", conn))
        {
            cmd.Parameters.AddWithValue("d", domain);
            cmd.Parameters.AddWithValue("h", hash);
            cmd.Parameters.AddWithValue("s", wanted.Select(w => w.Seq).ToArray());
            await using var r = await cmd.ExecuteReaderAsync(ct);
            var i = 0;
            while (await r.ReadAsync(ct))
            {
                var (seq, start) = wanted[i++];
                if (r.GetInt32(0) != seq) throw new CryptographicException("Blob chunk missing");
                var plain = MasterKey.Open(key, (byte[])r[1], ChunkContext(domain, hash, seq));
                // The overlap of this chunk [start, start + length) with [offset, end).
                var from = Math.Max(offset, start);
                var to = Math.Min(end, start + plain.Length);
                plain.AsSpan((int)(from - start), (int)(to - from)).CopyTo(result.AsSpan((int)(from - offset)));
            }
            if (i != wanted.Count) throw new CryptographicException("Blob chunk missing");
        }
        return result;
    }

    /// <summary>
    /// Changes reference counts inside the caller's transaction and deletes the blobs that no
    /// longer have any. Deltas for the same blob are summed first.
    /// </summary>
    public static async Task AdjustReferencesAsync(NpgsqlConnection conn, NpgsqlTransaction tx,
        IEnumerable<(string Domain, byte[] Hash, long Delta)> deltas, CancellationToken ct = default)
    {
        var commands = ReferenceCommands(deltas);
        if (commands.Count == 0) return;
        await using var batch = new NpgsqlBatch(conn, tx);
        foreach (var cmd in commands) batch.BatchCommands.Add(cmd);
        await batch.ExecuteNonQueryAsync(ct);
    }

    /// <summary>
    /// The statements of <see cref="AdjustReferencesAsync"/>, for a caller that sends them in a batch
    /// of its own (one round trip); none when the deltas sum to nothing.
    /// </summary>
    public static IReadOnlyList<NpgsqlBatchCommand> ReferenceCommands(IEnumerable<(string Domain, byte[] Hash, long Delta)> deltas)
    {
        var summed = deltas
            .GroupBy(d => (d.Domain, Convert.ToHexString(d.Hash)))
            .Select(g => (g.First().Domain, g.First().Hash, Delta: g.Sum(x => x.Delta)))
            .Where(x => x.Delta != 0)
            .ToList();
        if (summed.Count == 0) return [];
        var domains = summed.Select(x => x.Domain).ToArray();
        var hashes = summed.Select(x => x.Hash).ToArray();
        var changes = summed.Select(x => x.Delta).ToArray();
        var update = new NpgsqlBatchCommand(
            """
            UPDATE blob b SET refcount = b.refcount + c.delta
            FROM unnest(@d, @h, @c) AS c(domain, hash, delta)
            WHERE b.domain = c.domain AND b.hash = c.hash
            """);
        update.Parameters.AddWithValue("d", domains);
        update.Parameters.AddWithValue("h", hashes);
        update.Parameters.AddWithValue("c", changes);
        var delete = new NpgsqlBatchCommand(
            """
            DELETE FROM blob b USING unnest(@d, @h) AS c(domain, hash)
            WHERE b.domain = c.domain AND b.hash = c.hash AND b.refcount <= 0
            """);
        delete.Parameters.AddWithValue("d", domains);
        delete.Parameters.AddWithValue("h", hashes);
        return [update, delete];
    }

    private static byte[] ChunkContext(string domain, byte[] hash, int seq) =>
        Encoding.UTF8.GetBytes($"grainmail-blob|{domain}|{Convert.ToHexString(hash)}|{seq}");
}

/// <summary>References to add to one blob, with its bytes in case it is new.</summary>
public sealed record BlobWrite(string Domain, byte[] Hash, MessageContent Content, int References);

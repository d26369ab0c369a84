using GrainMail.Contracts.Mailboxes;
using GrainMail.Storage.Blobs;
using GrainMail.Storage.Governance;
using MimeKit;
using Npgsql;

namespace GrainMail.Storage.Mailboxes;

/// <summary>
/// The SQL side of the thread-id backfill (migration 0039): messages stored without a thread id get
/// theirs from their blob's header section. A thread id depends only on the content, so every row
/// that shares a blob gets the same value, and a row that a mailbox grain rewrites meanwhile (moved,
/// expunged) is harmless: the update only fills rows that are still NULL with the value they would
/// have had. The mailbox grain keeps its in-memory rows; they read the stored value at their next load.
/// </summary>
public sealed class ThreadIdBackfillStore(NpgsqlDataSource dataSource, BlobStore blobs)
{
    /// <summary>The first 64 KiB holds the header section of all but pathological mail; else the blob is read whole.</summary>
    private const int HeadBytes = 64 * 1024;

    /// <summary>
    /// One batch: up to <paramref name="batch"/> distinct blobs whose rows lack a thread id. The partial
    /// index of migration 0039 is the cursor, so a restart resumes where the last batch ended.
    /// </summary>
    /// <returns>How many rows were given a thread id; 0 when none is left.</returns>
    public async Task<int> BackfillBatchAsync(int batch, CancellationToken ct = default)
    {
        var pending = new List<(string Domain, byte[] Hash)>();
        await using (var cmd = dataSource.CreateCommand(
            "SELECT DISTINCT blob_domain, blob_hash FROM (SELECT blob_domain, blob_hash FROM mailbox_message WHERE thread_id IS NULL LIMIT @n) p"))
        {
            cmd.Parameters.AddWithValue("n", batch);
            await using var r = await cmd.ExecuteReaderAsync(ct);
            while (await r.ReadAsync(ct)) pending.Add((r.GetString(0), r.GetFieldValue<byte[]>(1)));
        }
        if (pending.Count == 0) return 0;
        var ids = new string[pending.Count];
        for (var i = 0; i < pending.Count; i++) ids[i] = await ThreadIdOfBlobAsync(pending[i].Domain, pending[i].Hash, ct);
        await using var update = dataSource.CreateCommand(
            """
            UPDATE mailbox_message m SET thread_id = x.t
            FROM unnest(@d, @h, @t) AS x(d, h, t)
            WHERE m.blob_domain = x.d AND m.blob_hash = x.h AND m.thread_id IS NULL
            """);
        update.Parameters.AddWithValue("d", pending.Select(p => p.Domain).ToArray());
        update.Parameters.AddWithValue("h", pending.Select(p => p.Hash).ToArray());
        update.Parameters.AddWithValue("t", ids);
        return await update.ExecuteNonQueryAsync(ct);
    }

    /// <summary>
    /// The thread id of a stored blob. One whose bytes are gone or cannot be read is its own thread,
    /// as the gateways have it for a message they cannot load.
    /// </summary>
    public async Task<string> ThreadIdOfBlobAsync(string domain, byte[] hash, CancellationToken ct = default)
    {
        try
        {
            var head = await blobs.ReadRangeAsync(domain, hash, 0, HeadBytes, ct);
            if (head is null) return ThreadIds.OfContent(hash);
            if (head.Length == HeadBytes && !MessageIndex.HeaderSectionEnds(head))
                head = await blobs.ReadAsync(domain, hash, ct) ?? head;
            using var stream = new MemoryStream(head, writable: false);
            return ThreadIds.Of(HeaderList.Load(stream, ct), hash);
        }
        catch (Exception e) when (e is FormatException or ParseException or IOException or System.Security.Cryptography.CryptographicException)
        {
            return ThreadIds.OfContent(hash);
        }
    }
}

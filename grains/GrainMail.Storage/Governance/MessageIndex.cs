using GrainMail.Operations.Spool;
using MimeKit;
using Npgsql;
using NpgsqlTypes;

namespace GrainMail.Storage.Governance;

/// <summary>The header values an administrator searches a domain by (issue 17, 4.2.18).</summary>
/// <param name="ThreadId">The message's thread id (<see cref="GrainMail.Contracts.Mailboxes.ThreadIds"/>) when the summary was
/// asked for with the blob hash and the whole header section was read; null otherwise.</param>
/// <param name="IsReport">A top-level multipart/report (a DSN or an MDN): JMAP lists it on the submission it speaks of (issue 18).</param>
public sealed record MessageSummary(string? HeaderFrom, string? Subject, string? MessageId, string? ThreadId = null, bool IsReport = false);

/// <summary>One message found in a domain, with every mailbox copy that holds it.</summary>
public sealed record IndexedMessage(string Domain, byte[] Hash, DateTimeOffset ReceivedAt, string? EnvelopeFrom, string? HeaderFrom,
    string? Subject, string? MessageId, IReadOnlyList<MailboxCopy> Copies);

public sealed record MailboxCopy(string Mailbox, int FolderId, string Folder, long Uid);

/// <param name="Sender">Envelope sender or From address (case-insensitive, whole address).</param>
/// <param name="Subject">Words of the subject: a hit has every one of them as a whole word (case-insensitive, NFKC; each CJK character a word).</param>
/// <param name="MessageId">The Message-ID, with or without angle brackets.</param>
public sealed record MessageIndexQuery(string? Sender, string? Subject, DateTimeOffset? From, DateTimeOffset? To, string? MessageId, int Limit);

/// <summary>
/// <c>message_index</c>: written in the submit transaction beside each new blob (so it costs no
/// extra round trip and never disagrees with what was committed), read by the domain-wide search.
/// </summary>
public sealed class MessageIndex(NpgsqlDataSource dataSource, GrainMail.Storage.Blobs.KeyRing keys)
{
    /// <summary>The first 64 KiB is where the header section is for all but pathological mail.</summary>
    private const int HeadBytes = 64 * 1024;

    /// <summary>From, Subject (RFC 2047 decoded) and Message-ID of a message; nulls for what is absent or unreadable.</summary>
    public static Task<MessageSummary> SummarizeAsync(MessageContent content, CancellationToken ct = default) => SummarizeAsync(content, null, ct);

    /// <summary>
    /// The summary, with the message's thread id when <paramref name="blobHash"/> is given: the mailbox
    /// stores it with each copy, so JMAP threads need no message read (issue 18).
    /// </summary>
    public static async Task<MessageSummary> SummarizeAsync(MessageContent content, byte[]? blobHash, CancellationToken ct = default)
    {
        try
        {
            using var head = new MemoryStream();
            await foreach (var chunk in content.ReadAsync(HeadBytes, ct))
            {
                head.Write(chunk.Span);
                if (head.Length >= HeadBytes) break;
            }
            head.Position = 0;
            var headers = HeaderList.Load(head, ct);
            // A header section longer than the head read here is left to the backfill, which reads it whole.
            var threadId = blobHash is not null && (head.Length >= content.Length || HeaderSectionEnds(head.GetBuffer().AsSpan(0, (int)head.Length)))
                ? GrainMail.Contracts.Mailboxes.ThreadIds.Of(headers, blobHash) : null;
            var from = headers[HeaderId.From] is { } f && InternetAddressList.TryParse(f, out var list)
                ? list.Mailboxes.FirstOrDefault()?.Address?.ToLowerInvariant() : null;
            var subject = headers[HeaderId.Subject];
            var messageId = headers[HeaderId.MessageId] is { } id ? NormalizeMessageId(id) : null;
            var isReport = headers[HeaderId.ContentType] is { } type && ContentType.TryParse(type, out var parsed) && parsed.IsMimeType("multipart", "report");
            return new MessageSummary(Clip(from), Clip(subject), Clip(messageId), threadId, isReport);
        }
        catch (Exception e) when (e is FormatException or ParseException or IOException)
        {
            return new MessageSummary(null, null, null);
        }
    }

    /// <summary>Whether <paramref name="head"/> holds the blank line that ends the header section (RFC 5322 2.1).</summary>
    public static bool HeaderSectionEnds(ReadOnlySpan<byte> head) =>
        head.IndexOf("\n\n"u8) >= 0 || head.IndexOf("\n\r\n"u8) >= 0;

    public static string? NormalizeMessageId(string? text)
    {
        var t = text?.Trim();
        if (string.IsNullOrEmpty(t)) return null;
        if (t.StartsWith('<') && t.EndsWith('>')) t = t[1..^1].Trim();
        return t.Length == 0 ? null : t;
    }

    private const string SubjectPurpose = "message-index-subject";


    private static string? Clip(string? s) => s is { Length: > 998 } ? s[..998] : s;

    /// <summary>
    /// Inside the transaction that stores the blob (submission, APPEND, list expansion): one row per
    /// (domain, blob); a blob already indexed keeps its row. The subject goes in sealed, and its
    /// words as keyed tokens (<see cref="SubjectWords"/>) for the search.
    /// </summary>
    public static async Task InsertAsync(NpgsqlConnection conn, NpgsqlTransaction tx, GrainMail.Storage.Blobs.KeyRing keys,
        IReadOnlyList<(string Domain, byte[] Hash, DateTimeOffset ReceivedAt, string? EnvelopeFrom, MessageSummary Summary)> rows, CancellationToken ct = default)
    {
        if (rows.Count == 0) return;
        // The tokens of a row travel as one bytea (the tokens end to end) and are cut into an array
        // in SQL: unnest would flatten an array of arrays.
        await using var cmd = new NpgsqlCommand($"""
            INSERT INTO message_index (blob_domain, blob_hash, received_at, envelope_from, header_from, subject, message_id, subject_words)
            SELECT d, h, at, env, hf, s, m,
                   CASE WHEN w IS NULL THEN NULL
                        ELSE ARRAY(SELECT substring(w FROM g FOR {SubjectWords.TokenBytes}) FROM generate_series(1, length(w), {SubjectWords.TokenBytes}) g) END
            FROM unnest(@d, @h, @at, @env, @hf, @s, @m, @w) AS x(d, h, at, env, hf, s, m, w)
            ON CONFLICT (blob_domain, blob_hash) DO NOTHING
            """, conn, tx);
        cmd.Parameters.AddWithValue("d", rows.Select(r => r.Domain).ToArray());
        cmd.Parameters.AddWithValue("h", rows.Select(r => r.Hash).ToArray());
        cmd.Parameters.AddWithValue("at", rows.Select(r => r.ReceivedAt).ToArray());
        cmd.Parameters.Add(new NpgsqlParameter("env", NpgsqlDbType.Array | NpgsqlDbType.Text) { Value = rows.Select(r => r.EnvelopeFrom?.ToLowerInvariant()).ToArray() });
        cmd.Parameters.Add(new NpgsqlParameter("hf", NpgsqlDbType.Array | NpgsqlDbType.Text) { Value = rows.Select(r => r.Summary.HeaderFrom).ToArray() });
        // The subject is sealed: message contents (and subjects) appear nowhere in the database in clear.
        cmd.Parameters.Add(new NpgsqlParameter("s", NpgsqlDbType.Array | NpgsqlDbType.Bytea)
        {
            Value = rows.Select(r => r.Summary.Subject is { } s ? keys.SealText(r.Domain, SubjectPurpose, s) : null).ToArray(),
        });
        cmd.Parameters.Add(new NpgsqlParameter("m", NpgsqlDbType.Array | NpgsqlDbType.Text) { Value = rows.Select(r => r.Summary.MessageId).ToArray() });
        cmd.Parameters.Add(new NpgsqlParameter("w", NpgsqlDbType.Array | NpgsqlDbType.Bytea)
        {
            Value = rows.Select(r => r.Summary.Subject is { } s ? WordTokens(keys, r.Domain, SubjectWords.Words(s)) : null).ToArray(),
        });
        await cmd.ExecuteNonQueryAsync(ct);
    }

    private static byte[] WordTokens(GrainMail.Storage.Blobs.KeyRing keys, string domain, IReadOnlyList<string> words) =>
        [.. SubjectWords.Tokens(keys.SearchTokenKey(domain, SubjectWords.Purpose), words).SelectMany(t => t)];

    /// <summary>Rows indexed before migration 0033 have no word tokens; a subject search gives them theirs first, this many at most.</summary>
    private const int BackfillPerSearch = 50_000;

    private async Task BackfillWordsAsync(string domain, CancellationToken ct)
    {
        for (var done = 0; done < BackfillPerSearch;)
        {
            var hashes = new List<byte[]>();
            var tokens = new List<byte[]>();
            await using (var cmd = dataSource.CreateCommand(
                "SELECT blob_hash, subject FROM message_index WHERE blob_domain = @d AND subject_words IS NULL AND subject IS NOT NULL LIMIT 5000"))
            {
                cmd.Parameters.AddWithValue("d", domain);
                await using var r = await cmd.ExecuteReaderAsync(ct);
                while (await r.ReadAsync(ct))
                {
                    hashes.Add(r.GetFieldValue<byte[]>(0));
                    tokens.Add(WordTokens(keys, domain, SubjectWords.Words(keys.OpenText(domain, SubjectPurpose, r.GetFieldValue<byte[]>(1)))));
                }
            }
            if (hashes.Count == 0) return;
            await using (var update = dataSource.CreateCommand($"""
                UPDATE message_index i SET subject_words =
                    ARRAY(SELECT substring(x.w FROM g FOR {SubjectWords.TokenBytes}) FROM generate_series(1, length(x.w), {SubjectWords.TokenBytes}) g)
                FROM unnest(@h, @w) AS x(h, w) WHERE i.blob_domain = @d AND i.blob_hash = x.h
                """))
            {
                update.Parameters.AddWithValue("d", domain);
                update.Parameters.AddWithValue("h", hashes.ToArray());
                update.Parameters.AddWithValue("w", tokens.ToArray());
                await update.ExecuteNonQueryAsync(ct);
            }
            done += hashes.Count;
        }
    }

    /// <summary>
    /// One batch of the background backfill (GrainMail.Grains.Governance.SubjectWordsBackfill): up to
    /// <paramref name="batch"/> rows of any domain still without word tokens get theirs, in one
    /// transaction. The rows are taken FOR UPDATE SKIP LOCKED, so nodes running the job side by side
    /// share the work instead of repeating it, and the partial index of migration 0037 holds exactly
    /// the rows left: it is the job's cursor, so a restart resumes where the last commit ended. A
    /// subject that cannot be opened (a key gone) gets no tokens (an empty array), so it is not asked again.
    /// </summary>
    /// <returns>How many rows were done; 0 when none is left.</returns>
    public async Task<int> BackfillBatchAsync(int batch, CancellationToken ct = default)
    {
        await using var conn = await dataSource.OpenConnectionAsync(ct);
        await using var tx = await conn.BeginTransactionAsync(ct);
        var rows = new List<(string Domain, byte[] Hash, byte[] Subject)>();
        await using (var cmd = new NpgsqlCommand(
            "SELECT blob_domain, blob_hash, subject FROM message_index WHERE subject_words IS NULL AND subject IS NOT NULL LIMIT @n FOR UPDATE SKIP LOCKED", conn, tx))
        {
            cmd.Parameters.AddWithValue("n", batch);
            await using var r = await cmd.ExecuteReaderAsync(ct);
            while (await r.ReadAsync(ct)) rows.Add((r.GetString(0), r.GetFieldValue<byte[]>(1), r.GetFieldValue<byte[]>(2)));
        }
        if (rows.Count == 0) return 0;
        var tokens = new List<byte[]>(rows.Count);
        foreach (var (domain, _, subject) in rows)
        {
            byte[] words;
            try
            {
                words = WordTokens(keys, domain, SubjectWords.Words(keys.OpenText(domain, SubjectPurpose, subject)));
            }
            catch (Exception e) when (e is System.Security.Cryptography.CryptographicException or InvalidOperationException or KeyNotFoundException or FormatException)
            {
                words = [];
            }
            tokens.Add(words);
        }
        await using (var update = new NpgsqlCommand($"""
            UPDATE message_index i SET subject_words =
                ARRAY(SELECT substring(x.w FROM g FOR {SubjectWords.TokenBytes}) FROM generate_series(1, length(x.w), {SubjectWords.TokenBytes}) g)
            FROM unnest(@d, @h, @w) AS x(d, h, w) WHERE i.blob_domain = x.d AND i.blob_hash = x.h
            """, conn, tx))
        {
            update.Parameters.AddWithValue("d", rows.Select(r => r.Domain).ToArray());
            update.Parameters.AddWithValue("h", rows.Select(r => r.Hash).ToArray());
            update.Parameters.AddWithValue("w", tokens.ToArray());
            await update.ExecuteNonQueryAsync(ct);
        }
        await tx.CommitAsync(ct);
        return rows.Count;
    }

    /// <summary>
    /// Messages of <paramref name="domain"/> that match, newest first, each with the mailboxes of
    /// the domain that hold a copy now (a message no mailbox holds any more is not a hit).
    /// </summary>
    public async Task<IReadOnlyList<IndexedMessage>> SearchAsync(string domain, MessageIndexQuery q, CancellationToken ct = default)
    {
        await using var cmd = dataSource.CreateCommand("""
            WITH hits AS (
                SELECT i.* FROM message_index i
                WHERE i.blob_domain = @domain
                  AND (@sender::text IS NULL OR i.envelope_from = @sender OR i.header_from = @sender)
                  AND (@from::timestamptz IS NULL OR i.received_at >= @from)
                  AND (@to::timestamptz IS NULL OR i.received_at < @to)
                  AND (@mid::text IS NULL OR i.message_id = @mid)
                  AND (@words::bytea[] IS NULL OR i.subject_words @> @words)
                  AND EXISTS (SELECT 1 FROM mailbox_message m WHERE m.blob_domain = i.blob_domain AND m.blob_hash = i.blob_hash)
                ORDER BY i.received_at DESC
                LIMIT @limit)
            SELECT h.blob_hash, h.received_at, h.envelope_from, h.header_from, h.subject, h.message_id,
                   m.mailbox, m.folder_id, f.name, m.uid
            FROM hits h
            JOIN mailbox_message m ON m.blob_domain = h.blob_domain AND m.blob_hash = h.blob_hash
            JOIN mailbox_folder f ON f.mailbox = m.mailbox AND f.folder_id = m.folder_id
            ORDER BY h.received_at DESC, h.blob_hash, m.mailbox, m.folder_id, m.uid
            """);
        cmd.Parameters.AddWithValue("domain", domain);
        cmd.Parameters.Add(new NpgsqlParameter("sender", NpgsqlDbType.Text) { Value = (object?)q.Sender?.Trim().ToLowerInvariant() ?? DBNull.Value });
        cmd.Parameters.Add(new NpgsqlParameter("from", NpgsqlDbType.TimestampTz) { Value = (object?)q.From ?? DBNull.Value });
        cmd.Parameters.Add(new NpgsqlParameter("to", NpgsqlDbType.TimestampTz) { Value = (object?)q.To ?? DBNull.Value });
        cmd.Parameters.Add(new NpgsqlParameter("mid", NpgsqlDbType.Text) { Value = (object?)NormalizeMessageId(q.MessageId) ?? DBNull.Value });
        var limit = Math.Clamp(q.Limit, 1, 500);
        // Subject: every word of the query among the subject's words, found by the words' tokens
        // (a GIN index), so the search is exact over the whole domain without opening any subject
        // but the hits'. Each hit's opened subject is checked again (a token collision is not a hit).
        IReadOnlyList<string>? words = null;
        if (!string.IsNullOrWhiteSpace(q.Subject))
        {
            words = SubjectWords.Words(q.Subject);
            if (words.Count == 0) return [];
            await BackfillWordsAsync(domain, ct);
        }
        cmd.Parameters.Add(new NpgsqlParameter("words", NpgsqlDbType.Array | NpgsqlDbType.Bytea)
        {
            Value = words is null ? DBNull.Value : SubjectWords.Tokens(keys.SearchTokenKey(domain, SubjectWords.Purpose), words),
        });
        cmd.Parameters.AddWithValue("limit", words is null ? limit : Math.Min(limit * 2, 1000));
        var result = new List<IndexedMessage>();
        await using var r = await cmd.ExecuteReaderAsync(ct);
        while (await r.ReadAsync(ct))
        {
            var hash = r.GetFieldValue<byte[]>(0);
            var copy = new MailboxCopy(r.GetString(6), r.GetInt32(7), r.GetString(8), r.GetInt64(9));
            if (result.Count > 0 && result[^1].Hash.AsSpan().SequenceEqual(hash))
            {
                ((List<MailboxCopy>)result[^1].Copies).Add(copy);
                continue;
            }
            string? S(int i) => r.IsDBNull(i) ? null : r.GetString(i);
            var subject = r.IsDBNull(4) ? null : keys.OpenText(domain, SubjectPurpose, r.GetFieldValue<byte[]>(4));
            result.Add(new IndexedMessage(domain, hash, r.GetFieldValue<DateTimeOffset>(1), S(2), S(3), subject, S(5), new List<MailboxCopy> { copy }));
        }
        if (words is null) return result;
        return result.Where(m => SubjectWords.Words(m.Subject) is var have && words.All(have.Contains)).Take(limit).ToList();
    }

    /// <summary>The indexed Message-ID and Subject of one message of the domain; null when it is not indexed.</summary>
    public async Task<MessageSummary?> SummaryAsync(string domain, byte[] hash, CancellationToken ct = default)
    {
        await using var cmd = dataSource.CreateCommand("SELECT header_from, subject, message_id FROM message_index WHERE blob_domain = @domain AND blob_hash = @hash");
        cmd.Parameters.AddWithValue("domain", domain);
        cmd.Parameters.AddWithValue("hash", hash);
        await using var r = await cmd.ExecuteReaderAsync(ct);
        if (!await r.ReadAsync(ct)) return null;
        string? S(int i) => r.IsDBNull(i) ? null : r.GetString(i);
        return new MessageSummary(S(0), r.IsDBNull(1) ? null : keys.OpenText(domain, SubjectPurpose, r.GetFieldValue<byte[]>(1)), S(2));
    }

    /// <summary>The copies of one message in the domain now (for deletion by its id).</summary>
    public async Task<IReadOnlyList<MailboxCopy>> CopiesAsync(string domain, byte[] hash, CancellationToken ct = default)
    {
        await using var cmd = dataSource.CreateCommand("""
            SELECT m.mailbox, m.folder_id, f.name, m.uid FROM mailbox_message m
            JOIN mailbox_folder f ON f.mailbox = m.mailbox AND f.folder_id = m.folder_id
            WHERE m.blob_domain = @domain AND m.blob_hash = @hash
            ORDER BY m.mailbox, m.folder_id, m.uid
            """);
        cmd.Parameters.AddWithValue("domain", domain);
        cmd.Parameters.AddWithValue("hash", hash);
        var list = new List<MailboxCopy>();
        await using var r = await cmd.ExecuteReaderAsync(ct);
        while (await r.ReadAsync(ct)) list.Add(new MailboxCopy(r.GetString(0), r.GetInt32(1), r.GetString(2), r.GetInt64(3)));
        return list;
    }
}

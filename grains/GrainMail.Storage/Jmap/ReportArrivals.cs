using Npgsql;

namespace GrainMail.Storage.Jmap;

/// <summary>A report (DSN or MDN) stored in a mailbox, not yet looked at by the mailbox's EmailSubmission grain.</summary>
public sealed record ReportArrival(long Id, string BlobDomain, byte[] BlobHash);

/// <summary>
/// <c>mail_report_arrival</c> (migration 0041): the submit transaction notes each multipart/report it
/// stores in a mailbox, so that EmailSubmission's dsnBlobIds and mdnBlobIds (RFC 8621 7) are filled
/// without searching mailboxes. Only reports cost a row; other mail costs nothing.
/// </summary>
public sealed class ReportArrivals(NpgsqlDataSource dataSource)
{
    public static readonly TimeSpan Kept = TimeSpan.FromDays(30);

    /// <summary>Inside the submit transaction: one row per (mailbox, report).</summary>
    public static async Task InsertAsync(NpgsqlConnection conn, NpgsqlTransaction tx, IReadOnlyList<(string Mailbox, string Domain, byte[] Hash)> rows)
    {
        if (rows.Count == 0) return;
        await using var cmd = new NpgsqlCommand(
            "INSERT INTO mail_report_arrival (mailbox, blob_domain, blob_hash) SELECT * FROM unnest(@m, @d, @h)", conn, tx);
        cmd.Parameters.AddWithValue("m", rows.Select(r => r.Mailbox).ToArray());
        cmd.Parameters.AddWithValue("d", rows.Select(r => r.Domain).ToArray());
        cmd.Parameters.AddWithValue("h", rows.Select(r => r.Hash).ToArray());
        await cmd.ExecuteNonQueryAsync();
    }

    /// <summary>Rows nobody read (the account never submits by JMAP) go after <see cref="Kept"/>.</summary>
    public static async Task PruneAsync(NpgsqlConnection conn, NpgsqlTransaction tx)
    {
        await using var cmd = new NpgsqlCommand("DELETE FROM mail_report_arrival WHERE arrived_at < now() - @kept", conn, tx);
        cmd.Parameters.AddWithValue("kept", Kept);
        await cmd.ExecuteNonQueryAsync();
    }

    public async Task<List<ReportArrival>> ReadAsync(string mailbox, int limit = 200, CancellationToken ct = default)
    {
        await using var cmd = dataSource.CreateCommand("SELECT id, blob_domain, blob_hash FROM mail_report_arrival WHERE mailbox = @m ORDER BY id LIMIT @l");
        cmd.Parameters.AddWithValue("m", mailbox);
        cmd.Parameters.AddWithValue("l", limit);
        var list = new List<ReportArrival>();
        await using var r = await cmd.ExecuteReaderAsync(ct);
        while (await r.ReadAsync(ct)) list.Add(new ReportArrival(r.GetInt64(0), r.GetString(1), r.GetFieldValue<byte[]>(2)));
        return list;
    }

    public async Task DeleteAsync(string mailbox, IReadOnlyList<long> ids, CancellationToken ct = default)
    {
        if (ids.Count == 0) return;
        await using var cmd = dataSource.CreateCommand("DELETE FROM mail_report_arrival WHERE mailbox = @m AND id = ANY(@ids)");
        cmd.Parameters.AddWithValue("m", mailbox);
        cmd.Parameters.AddWithValue("ids", ids.ToArray());
        await cmd.ExecuteNonQueryAsync(ct);
    }
}

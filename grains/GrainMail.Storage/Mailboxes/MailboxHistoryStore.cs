using Npgsql;

namespace GrainMail.Storage.Mailboxes;

/// <summary>
/// One expunge tombstone as JMAP /changes reads it: the UID, the MODSEQ of its removal, the Email id digits (null on rows
/// older than migration 0035) and the message's thread id (null on rows older than migration 0051, or not yet backfilled).
/// </summary>
public sealed record ExpungedRow(long Uid, long ModSeq, byte[]? EmailKey, string? ThreadId);

/// <summary>
/// Reads the expunge tombstones (<c>mailbox_expunged</c>, the QRESYNC record) for JMAP /changes, so
/// any gateway can compute destroyed Emails from a state it has never seen.
/// </summary>
public sealed class MailboxHistoryStore(NpgsqlDataSource dataSource)
{
    /// <summary>
    /// Tombstones of a folder after <paramref name="sinceModSeq"/>; null when the folder (with that
    /// UIDVALIDITY) is gone, or rows that old may have been purged (its vanished horizon).
    /// </summary>
    public async Task<List<ExpungedRow>?> ExpungedSinceAsync(string address, int folderId, long uidValidity, long sinceModSeq, CancellationToken ct = default)
    {
        await using var cmd = dataSource.CreateCommand(
            """
            SELECT f.vanished_horizon, e.uid, e.modseq, coalesce(e.email_key, substring(e.blob_hash from 1 for 12)), e.thread_id
            FROM mailbox_folder f
            LEFT JOIN mailbox_expunged e ON e.mailbox = f.mailbox AND e.folder_id = f.folder_id AND e.uidvalidity = f.uidvalidity AND e.modseq > @s
            WHERE f.mailbox = @a AND f.folder_id = @f AND f.uidvalidity = @uv
            """);
        cmd.Parameters.AddWithValue("a", address);
        cmd.Parameters.AddWithValue("f", folderId);
        cmd.Parameters.AddWithValue("uv", uidValidity);
        cmd.Parameters.AddWithValue("s", sinceModSeq);
        await using var r = await cmd.ExecuteReaderAsync(ct);
        List<ExpungedRow>? rows = null;
        while (await r.ReadAsync(ct))
        {
            if (r.GetInt64(0) > sinceModSeq) return null;
            rows ??= [];
            if (!r.IsDBNull(1)) rows.Add(new ExpungedRow(r.GetInt64(1), r.GetInt64(2), r.IsDBNull(3) ? null : (byte[])r[3], r.IsDBNull(4) ? null : r.GetString(4)));
        }
        return rows;
    }
}

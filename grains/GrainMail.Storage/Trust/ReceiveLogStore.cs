using GrainMail.Contracts.Trust;
using Npgsql;

namespace GrainMail.Storage.Trust;

/// <summary>The receive log in PostgreSQL: what the inbound checks decided for each MX message and recipient.</summary>
public sealed class ReceiveLogStore(NpgsqlDataSource dataSource)
{
    /// <summary>In a transaction of its own: the lines of a refused message (nothing else is stored for it).</summary>
    public async Task AppendAsync(IReadOnlyList<ReceiveLogEntry> entries, CancellationToken ct = default)
    {
        if (entries.Count == 0) return;
        await using var conn = await dataSource.OpenConnectionAsync(ct);
        await InsertAsync(conn, null, entries, ct);
    }

    /// <summary>
    /// Inside the caller's transaction: the lines of accepted messages are written by the group commit that
    /// stores the messages (MessageSubmitter), so a line exists exactly when its message does — one WAL flush
    /// for both, and no line lost or doubled when the node dies between the two.
    /// </summary>
    public static async Task InsertAsync(NpgsqlConnection conn, NpgsqlTransaction? tx, IReadOnlyList<ReceiveLogEntry> entries, CancellationToken ct = default)
    {
        if (InsertCommand(entries) is not { } insert) return;
        await using var batch = new NpgsqlBatch(conn, tx) { BatchCommands = { insert } };
        await batch.ExecuteNonQueryAsync(ct);
    }

    /// <summary>
    /// The insert of <paramref name="entries"/> as a command of the caller's batch (null when there are none): the group
    /// commit sends it with its commit marker, so the receive log costs the commit no round trip of its own (session 12).
    /// </summary>
    public static NpgsqlBatchCommand? InsertCommand(IReadOnlyList<ReceiveLogEntry> entries)
    {
        if (entries.Count == 0) return null;
        // One statement for all the lines of a group commit, in their order (ids ascend as before): an INSERT per
        // line was parsed and planned by PostgreSQL once per MX message (session 10).
        var cmd = new NpgsqlBatchCommand("""
            INSERT INTO receive_log (mailbox, received_at, sender, client_ip, from_domain, action, score, symbols, auth_results)
            SELECT * FROM unnest($1::text[], $2::timestamptz[], $3::text[], $4::text[], $5::text[], $6::text[], $7::float8[], $8::text[], $9::text[])
            """);
        cmd.Parameters.Add(new NpgsqlParameter { Value = entries.Select(e => e.Mailbox).ToArray() });
        cmd.Parameters.Add(new NpgsqlParameter { Value = entries.Select(e => e.ReceivedAt).ToArray() });
        cmd.Parameters.Add(new NpgsqlParameter { Value = entries.Select(e => e.Sender).ToArray() });
        cmd.Parameters.Add(new NpgsqlParameter { Value = entries.Select(e => e.ClientIp).ToArray() });
        cmd.Parameters.Add(new NpgsqlParameter { Value = entries.Select(e => e.FromDomain).ToArray() });
        cmd.Parameters.Add(new NpgsqlParameter { Value = entries.Select(e => e.Action).ToArray() });
        cmd.Parameters.Add(new NpgsqlParameter { Value = entries.Select(e => e.Score).ToArray() });
        cmd.Parameters.Add(new NpgsqlParameter { Value = entries.Select(e => e.Symbols).ToArray() });
        cmd.Parameters.Add(new NpgsqlParameter { Value = entries.Select(e => e.AuthenticationResults).ToArray() });
        return cmd;
    }

    /// <summary>The newest entries of a mailbox first.</summary>
    public async Task<IReadOnlyList<ReceiveLogEntry>> ReadAsync(string mailbox, int limit, CancellationToken ct = default)
    {
        await using var cmd = dataSource.CreateCommand("""
            SELECT received_at, mailbox, sender, client_ip, from_domain, action, score, symbols, auth_results
            FROM receive_log WHERE mailbox = $1 ORDER BY id DESC LIMIT $2
            """);
        cmd.Parameters.AddWithValue(mailbox);
        cmd.Parameters.AddWithValue(Math.Clamp(limit, 1, 1000));
        await using var r = await cmd.ExecuteReaderAsync(ct);
        var list = new List<ReceiveLogEntry>();
        while (await r.ReadAsync(ct))
        {
            list.Add(new ReceiveLogEntry(r.GetFieldValue<DateTimeOffset>(0), r.GetString(1), r.IsDBNull(2) ? null : r.GetString(2), r.GetString(3),
                r.IsDBNull(4) ? null : r.GetString(4), r.GetString(5), r.GetDouble(6), r.GetString(7), r.GetString(8)));
        }
        return list;
    }
}

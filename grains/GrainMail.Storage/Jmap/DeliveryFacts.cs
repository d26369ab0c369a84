using System.Data;
using GrainMail.Contracts.Delivery;
using GrainMail.Storage.Delivery;
using Npgsql;

namespace GrainMail.Storage.Jmap;

/// <summary>What the sent record says of one submitted message: its local copies' delivery ids and its outbound events.</summary>
public sealed record SentFacts(Guid IntakeId, IReadOnlyList<string> LocalRecipients, IReadOnlyList<Guid> DeliveryIds,
    IReadOnlyList<string> External, IReadOnlyList<Guid> OutboundIds);

/// <summary>The last line of the send log for one recipient of one message (an outbound route's attempt, or an approval decision).</summary>
public sealed record LastAttempt(string Outcome, string Reply);

/// <summary>
/// Everything the records say about a set of submitted messages, read in one snapshot (REPEATABLE READ),
/// so that a copy is never seen both gone from the stream and not yet in its mailbox.
/// </summary>
public sealed class DeliveryFacts
{
    public Dictionary<Guid, SentFacts> Sent { get; } = [];

    /// <summary>(mailbox, delivery id) of the copies stored in a mailbox (in any folder).</summary>
    public HashSet<(string Mailbox, Guid DeliveryId)> Stored { get; } = [];

    /// <summary>Delivery ids still waiting in the inbound stream.</summary>
    public HashSet<Guid> Queued { get; } = [];

    /// <summary>Delivery ids dead-lettered, with the reason (the refusal's enhanced code and text).</summary>
    public Dictionary<Guid, string> DeadLetters { get; } = [];

    /// <summary>(message id, recipient) → the newest send-log line; message ids are outbound event ids and held ids.</summary>
    public Dictionary<(Guid MessageId, string Recipient), LastAttempt> Attempts { get; } = [];

    /// <summary>Posts to mailing lists still in the list's stream (not yet taken by the list), by <see cref="ListPost.Key"/>.</summary>
    public HashSet<(string List, long Micros)> ListQueued { get; } = [];

    /// <summary>Posts the list holds for its moderators.</summary>
    public HashSet<(string List, long Micros)> ListHeld { get; } = [];

    /// <summary>Posts dead-lettered in the list's stream, with the reason.</summary>
    public Dictionary<(string List, long Micros), string> ListDead { get; } = [];

    /// <summary>Posts the list took off its stream without sending them on (rejected, a loop, the list gone), with the reason.</summary>
    public Dictionary<(string List, long Micros), string> ListDropped { get; } = [];
}

/// <summary>
/// A post of a submission to a mailing list: the list's address, the account that sent it and the intake's receipt time,
/// which the post's event in the list stream carries (its id is not recorded anywhere the submission can see).
/// </summary>
public sealed record ListPost(string List, string User, DateTimeOffset At)
{
    /// <summary>The time in whole microseconds (truncated), the precision PostgreSQL keeps (the held-posts table).</summary>
    public static long Micros(DateTimeOffset at) => at.UtcTicks / 10;

    public (string List, long Micros) Key => (List, Micros(At));
}

/// <summary>Reads <see cref="DeliveryFacts"/> (migration 0041's route: the status is filled from the existing records on read).</summary>
public sealed class DeliveryFactsReader(NpgsqlDataSource dataSource, EventCodec codec)
{
    /// <summary>A stream's rows (queued and dead-lettered) for some keys: indexed by migration 0043's (stream_ns, stream_key).</summary>
    public const string StreamRowsSql = """
        SELECT id, payload, NULL FROM stream_queue WHERE stream_ns = @ns AND stream_key = ANY(@k)
        UNION ALL
        SELECT id, payload, reason FROM stream_dead_letter WHERE stream_ns = @ns AND stream_key = ANY(@k)
        """;

    public async Task<DeliveryFacts> ReadAsync(IReadOnlyList<Guid> intakeIds, IReadOnlyList<ListPost>? listPosts = null, CancellationToken ct = default)
    {
        var facts = new DeliveryFacts();
        if (intakeIds.Count == 0) return facts;
        await using var conn = await dataSource.OpenConnectionAsync(ct);
        await using var tx = await conn.BeginTransactionAsync(IsolationLevel.RepeatableRead, ct);
        await using (var cmd = new NpgsqlCommand(
            "SELECT id, local_recipients, delivery_ids, external, outbound_ids FROM sent_message WHERE id = ANY(@ids)", conn, tx))
        {
            cmd.Parameters.AddWithValue("ids", intakeIds.ToArray());
            await using var r = await cmd.ExecuteReaderAsync(ct);
            while (await r.ReadAsync(ct))
                facts.Sent[r.GetGuid(0)] = new SentFacts(r.GetGuid(0), (string[])r[1], (Guid[])r[2], (string[])r[3], (Guid[])r[4]);
        }
        var local = facts.Sent.Values.SelectMany(s => s.LocalRecipients.Zip(s.DeliveryIds)).ToList();
        if (local.Count > 0)
        {
            await using (var cmd = new NpgsqlCommand(
                "SELECT mailbox, delivery_id FROM mailbox_message WHERE (mailbox, delivery_id) IN (SELECT * FROM unnest(@m, @d))", conn, tx))
            {
                cmd.Parameters.AddWithValue("m", local.Select(l => l.First).ToArray());
                cmd.Parameters.AddWithValue("d", local.Select(l => l.Second).ToArray());
                await using var r = await cmd.ExecuteReaderAsync(ct);
                while (await r.ReadAsync(ct)) facts.Stored.Add((r.GetString(0), r.GetGuid(1)));
            }
            // The copies not in their mailbox: still in the stream, or dead-lettered. Rows are few (the stream drains).
            var missing = local.Where(l => !facts.Stored.Contains((l.First, l.Second))).ToList();
            if (missing.Count > 0)
            {
                var wanted = missing.Select(m => m.Second).ToHashSet();
                var keys = missing.Select(m => m.First).Distinct(StringComparer.Ordinal).ToArray();
                await using var cmd = new NpgsqlCommand(StreamRowsSql, conn, tx);
                cmd.Parameters.AddWithValue("ns", DeliveryStreams.Inbound);
                cmd.Parameters.AddWithValue("k", keys);
                await using var r = await cmd.ExecuteReaderAsync(ct);
                while (await r.ReadAsync(ct))
                {
                    Guid id;
                    try
                    {
                        id = ((DeliveryEvent)codec.Decode(DeliveryStreams.Inbound, r.GetFieldValue<byte[]>(1), r.GetInt64(0), 0)).DeliveryId;
                    }
                    catch (Exception e) when (e is System.Text.Json.JsonException or FormatException or InvalidCastException)
                    {
                        continue;
                    }
                    if (!wanted.Contains(id)) continue;
                    if (r.IsDBNull(2)) facts.Queued.Add(id);
                    else facts.DeadLetters[id] = r.GetString(2);
                }
            }
        }
        // Outbound attempts of the messages' outbound events, and approval lines (their message id is the held id).
        var logged = facts.Sent.Values.SelectMany(s => s.OutboundIds).Concat(intakeIds).Distinct().ToArray();
        await using (var cmd = new NpgsqlCommand("""
            SELECT DISTINCT ON (message_id, recipient) message_id, recipient, outcome, reply
            FROM outbound_attempt WHERE message_id = ANY(@ids) ORDER BY message_id, recipient, at DESC, id DESC
            """, conn, tx))
        {
            cmd.Parameters.AddWithValue("ids", logged);
            await using var r = await cmd.ExecuteReaderAsync(ct);
            while (await r.ReadAsync(ct)) facts.Attempts[(r.GetGuid(0), r.GetString(1))] = new LastAttempt(r.GetString(2), r.GetString(3));
        }
        if (listPosts is { Count: > 0 }) await ReadListPostsAsync(conn, tx, listPosts, facts, ct);
        await tx.CommitAsync(ct);
        return facts;
    }

    /// <summary>
    /// Where each list post stands: in the list's stream (queued), held for moderators, dead-lettered, or dropped by
    /// the list (migration 0050). Read by the stream's key (migration 0043's index). A post in none of them was taken by the list.
    /// </summary>
    private async Task ReadListPostsAsync(NpgsqlConnection conn, NpgsqlTransaction tx, IReadOnlyList<ListPost> posts, DeliveryFacts facts, CancellationToken ct)
    {
        var wanted = posts.ToDictionary(p => p.Key, p => p);
        var lists = posts.Select(p => p.List).Distinct(StringComparer.Ordinal).ToArray();
        await using (var cmd = new NpgsqlCommand(StreamRowsSql, conn, tx))
        {
            cmd.Parameters.AddWithValue("ns", GrainMail.Contracts.Lists.ListStreams.Namespace);
            cmd.Parameters.AddWithValue("k", lists);
            await using var r = await cmd.ExecuteReaderAsync(ct);
            while (await r.ReadAsync(ct))
            {
                GrainMail.Contracts.Lists.ListDeliveryEvent e;
                try
                {
                    e = (GrainMail.Contracts.Lists.ListDeliveryEvent)codec.Decode(GrainMail.Contracts.Lists.ListStreams.Namespace, r.GetFieldValue<byte[]>(1), r.GetInt64(0), 0);
                }
                catch (Exception x) when (x is System.Text.Json.JsonException or FormatException or InvalidCastException)
                {
                    continue;
                }
                var key = (e.List, ListPost.Micros(e.ReceivedAt));
                // An approved post re-enters the stream without its poster's account (the held row does not keep it): matched by list and time alone.
                if (!wanted.TryGetValue(key, out var post) || (e.User is not null && !string.Equals(e.User, post.User, StringComparison.OrdinalIgnoreCase))) continue;
                if (r.IsDBNull(2)) facts.ListQueued.Add(key);
                else facts.ListDead[key] = r.GetString(2);
            }
        }
        await using (var cmd = new NpgsqlCommand(
            "SELECT list || '@' || domain, received_at FROM mailing_list_held WHERE (domain, list) IN (SELECT * FROM unnest(@d, @l))", conn, tx))
        {
            cmd.Parameters.AddWithValue("d", lists.Select(GrainMail.Contracts.MailAddress.DomainOf).ToArray());
            cmd.Parameters.AddWithValue("l", lists.Select(GrainMail.Contracts.MailAddress.LocalPartOf).ToArray());
            await using var r = await cmd.ExecuteReaderAsync(ct);
            while (await r.ReadAsync(ct))
            {
                // PostgreSQL rounds the time to the microsecond (half to even) where Micros truncates: a microsecond either way is the same post.
                var (list, micros) = (r.GetString(0), ListPost.Micros(r.GetFieldValue<DateTimeOffset>(1)));
                foreach (var post in posts)
                    if (post.List == list && Math.Abs(post.Key.Micros - micros) <= 1) facts.ListHeld.Add(post.Key);
            }
        }
        await using (var cmd = new NpgsqlCommand(
            "SELECT list || '@' || domain, account, received_at, reason FROM mailing_list_dropped WHERE (domain, list) IN (SELECT * FROM unnest(@d, @l))"
            + " AND received_at BETWEEN @from AND @to", conn, tx))
        {
            cmd.Parameters.AddWithValue("d", lists.Select(GrainMail.Contracts.MailAddress.DomainOf).ToArray());
            cmd.Parameters.AddWithValue("l", lists.Select(GrainMail.Contracts.MailAddress.LocalPartOf).ToArray());
            // Only the drops around the posts asked about (the list, received_at index), not the 30 days a list keeps:
            // a millisecond either side covers the microsecond that rounding may move a time by.
            cmd.Parameters.AddWithValue("from", posts.Min(p => p.At).ToUniversalTime().AddMilliseconds(-1));
            cmd.Parameters.AddWithValue("to", posts.Max(p => p.At).ToUniversalTime().AddMilliseconds(1));
            await using var r = await cmd.ExecuteReaderAsync(ct);
            while (await r.ReadAsync(ct))
            {
                var (list, account, micros) = (r.GetString(0), r.IsDBNull(1) ? null : r.GetString(1), ListPost.Micros(r.GetFieldValue<DateTimeOffset>(2)));
                foreach (var post in posts)
                    if (post.List == list && Math.Abs(post.Key.Micros - micros) <= 1
                        && (account is null || string.Equals(account, post.User, StringComparison.OrdinalIgnoreCase)))
                        facts.ListDropped[post.Key] = r.GetString(3);
            }
        }
    }
}

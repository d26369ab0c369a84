using GrainMail.Storage.Jmap;
using GrainMail.Tests.Infrastructure;
using Npgsql;

namespace GrainMail.Tests;

/// <summary>
/// An EmailSubmission's status reads a stream's rows by key (DeliveryFactsReader.StreamRowsSql): with migration 0043
/// the plan uses the key indexes on both tables instead of scanning the queue and every dead letter kept.
/// </summary>
public sealed class StreamKeyIndexTests(PostgresServer pg)
{
    [Fact]
    public async Task Status_reads_of_stream_rows_by_recipient_use_the_key_indexes()
    {
        var ct = TestContext.Current.CancellationToken;
        var cs = await pg.NewDatabaseAsync("streamkey");
        await using var ds = NpgsqlDataSource.Create(cs);
        // A queue and a dead-letter table of some size, 2,000 recipients each, so that the planner's choice means something.
        await using (var fill = ds.CreateCommand("""
            INSERT INTO stream_queue (queue_id, stream_ns, stream_key, payload)
            SELECT g % 8, 'inbound', 'user' || (g % 2000) || '@example.com', '\x00' FROM generate_series(1, 20000) g;
            INSERT INTO stream_dead_letter (id, queue_id, stream_ns, stream_key, payload, enqueued_at, dequeue_count, reason)
            SELECT g, g % 8, 'inbound', 'user' || (g % 2000) || '@example.com', '\x00', now(), 3, '5.2.2 full' FROM generate_series(1, 20000) g;
            ANALYZE stream_queue; ANALYZE stream_dead_letter;
            """))
            await fill.ExecuteNonQueryAsync(ct);

        async Task<string> PlanAsync(NpgsqlConnection conn, NpgsqlTransaction? tx)
        {
            await using var cmd = new NpgsqlCommand("EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) " + DeliveryFactsReader.StreamRowsSql, conn, tx);
            cmd.Parameters.AddWithValue("ns", "inbound");
            cmd.Parameters.AddWithValue("k", new[] { "user7@example.com", "user8@example.com" });
            var lines = new List<string>();
            await using var r = await cmd.ExecuteReaderAsync(ct);
            while (await r.ReadAsync(ct)) lines.Add(r.GetString(0));
            return string.Join('\n', lines);
        }

        await using var conn = await ds.OpenConnectionAsync(ct);
        var plan = await PlanAsync(conn, null);
        // Without the indexes (dropped in a transaction rolled back): what the read was before 0043.
        await using (var tx = await conn.BeginTransactionAsync(ct))
        {
            await using (var drop = new NpgsqlCommand("DROP INDEX stream_queue_key; DROP INDEX stream_dead_letter_key", conn, tx))
                await drop.ExecuteNonQueryAsync(ct);
            var before = await PlanAsync(conn, tx);
            TestContext.Current.TestOutputHelper?.WriteLine("Without migration 0043:\n" + before + "\nWith it:\n" + plan);
            Assert.Contains("Seq Scan on stream_dead_letter", before);
            await tx.RollbackAsync(ct);
        }
        Assert.Contains("stream_queue_key", plan);
        Assert.Contains("stream_dead_letter_key", plan);
        Assert.DoesNotContain("Seq Scan", plan);
    }
}

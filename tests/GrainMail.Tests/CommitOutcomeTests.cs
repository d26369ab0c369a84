using GrainMail.Operations.Spool;
using System.Text;
using GrainMail.Storage.Blobs;
using GrainMail.Storage.Delivery;
using GrainMail.Storage.Streams;
using GrainMail.Tests.Infrastructure;
using Npgsql;

namespace GrainMail.Tests;

/// <summary>
/// A commit whose connection breaks: the submitter must say "stored" exactly when the batch is
/// stored, so that the SMTP gateway answers 250 or 451 truthfully (a 451 for stored mail makes
/// the sender send it twice; a 250 for lost mail loses it).
/// </summary>
public sealed class CommitOutcomeTests(PostgresServer pg)
{
    private static readonly MasterKey Key = new(Enumerable.Range(0, 32).Select(i => (byte)(i + 1)).ToArray());

    private static async Task<(NpgsqlDataSource Ds, MessageSubmitter Submitter)> OpenAsync(string cs)
    {
        var ds = NpgsqlDataSource.Create(cs);
        var blobs = new BlobStore(ds, new KeyRing(ds, Key));
        return (ds, new MessageSubmitter(ds, blobs, new EventCodec(), new PgStreamQueueMapper(4)) { OutcomeWait = TimeSpan.FromSeconds(20) });
    }

    // An MX message carries its receive log row, written in the same transaction (issue 14): stored exactly when the message is.
    private static Submission Message(string text) =>
        new("sender@example.org", ["alice@example.com"], new MessageContent(Encoding.ASCII.GetBytes($"Subject: {text}\r\n\r\n{text}\r\n")))
        {
            ReceiveLog = [new GrainMail.Contracts.Trust.ReceiveLogEntry(DateTimeOffset.UtcNow, "alice@example.com", "sender@example.org", "192.0.2.1",
                "example.org", "deliver", 0.5, "SPF_PASS(-0.5)", "mx.example.com; spf=pass")],
        };

    private static async Task<long> LoggedAsync(NpgsqlDataSource ds)
    {
        await using var cmd = ds.CreateCommand("SELECT count(*) FROM receive_log");
        return (long)(await cmd.ExecuteScalarAsync())!;
    }

    /// <summary>Whether a backend of this database comes to wait on a lock in the settle question's fence insert (polled, 10 s at most).</summary>
    private static async Task<bool> WaitingOnKeyAsync(NpgsqlDataSource ds)
    {
        for (var i = 0; i < 500; i++)
        {
            await using var cmd = ds.CreateCommand(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock' AND query LIKE 'INSERT INTO submit_key (key)%'");
            if ((long)(await cmd.ExecuteScalarAsync())! > 0) return true;
            await Task.Delay(20);
        }
        return false;
    }

    private static async Task<long> QueuedAsync(NpgsqlDataSource ds)
    {
        await using var cmd = ds.CreateCommand("SELECT count(*) FROM stream_queue");
        return (long)(await cmd.ExecuteScalarAsync())!;
    }

    private static async Task TerminateAsync(NpgsqlDataSource ds, int pid)
    {
        await using var cmd = ds.CreateCommand("SELECT pg_terminate_backend(@p)");
        cmd.Parameters.AddWithValue("p", pid);
        await cmd.ExecuteScalarAsync();
    }

    [Fact]
    public async Task Connection_lost_before_commit_reports_not_stored_and_stores_nothing()
    {
        var (ds, submitter) = await OpenAsync(await pg.NewDatabaseAsync("commit_lost"));
        await using var _ = ds;
        await using var __ = submitter;
        submitter.FaultInjection = async (stage, conn, _) =>
        {
            // The server ends the backend before COMMIT arrives: the transaction rolls back.
            if (stage == MessageSubmitter.CommitStage.BeforeCommit) await TerminateAsync(ds, conn.ProcessID);
        };
        await Assert.ThrowsAnyAsync<Exception>(() => submitter.SubmitAsync(Message("lost")));
        Assert.Equal(0, await QueuedAsync(ds));
        Assert.Equal(0, await LoggedAsync(ds));
    }

    [Fact]
    public async Task Answer_lost_after_commit_reports_stored()
    {
        var (ds, submitter) = await OpenAsync(await pg.NewDatabaseAsync("commit_answer_lost"));
        await using var _ = ds;
        await using var __ = submitter;
        submitter.FaultInjection = (stage, _, _) =>
            // COMMIT took effect, but the client never heard (the connection died with the answer).
            stage == MessageSubmitter.CommitStage.AfterCommit ? throw new IOException("connection reset while reading the COMMIT answer") : Task.CompletedTask;
        var receipt = await submitter.SubmitAsync(Message("kept"));
        Assert.NotEqual(Guid.Empty, receipt.MessageId);
        Assert.Equal(1, await QueuedAsync(ds));
        Assert.Equal(1, await LoggedAsync(ds));
    }

    [Fact]
    public async Task A_second_submission_with_the_same_key_stores_nothing_and_gets_the_first_receipt()
    {
        var (ds, submitter) = await OpenAsync(await pg.NewDatabaseAsync("commit_key_retry"));
        await using var _ = ds;
        await using var __ = submitter;
        var key = Guid.CreateVersion7();
        var first = await submitter.SubmitAsync(Message("once") with { IdempotencyKey = key });
        // A retry of the same key after the first committed, and two at once (one group commit or two).
        var again = await submitter.SubmitAsync(Message("once") with { IdempotencyKey = key });
        var together = await Task.WhenAll(Enumerable.Range(0, 4).Select(i => submitter.SubmitAsync(Message("once") with { IdempotencyKey = key })));
        Assert.All(together.Append(again), r => Assert.Equal(first.MessageId, r.MessageId));
        Assert.Equal(1, await QueuedAsync(ds));
        Assert.Equal(1, await LoggedAsync(ds));
        // Another key is another message.
        await submitter.SubmitAsync(Message("twice") with { IdempotencyKey = Guid.CreateVersion7() });
        Assert.Equal(2, await QueuedAsync(ds));
    }

    [Fact]
    public async Task Settling_a_key_answers_whether_it_committed_and_fences_one_that_did_not()
    {
        var (ds, submitter) = await OpenAsync(await pg.NewDatabaseAsync("commit_key_settle"));
        await using var _ = ds;
        await using var __ = submitter;
        var stored = Guid.CreateVersion7();
        var receipt = await submitter.SubmitAsync(Message("stored") with { IdempotencyKey = stored });
        var settled = await submitter.SettleAsync(stored, TimeSpan.FromSeconds(5));
        Assert.Equal(receipt.MessageId, settled?.MessageId);
        Assert.Equal(receipt.Events, settled?.Events);

        // Never committed: "not stored", and from then on it cannot be stored (the original, still running
        // somewhere, commits nothing), so the answer stays true.
        var lost = Guid.CreateVersion7();
        Assert.Null(await submitter.SettleAsync(lost, TimeSpan.FromSeconds(5)));
        await Assert.ThrowsAnyAsync<Exception>(() => submitter.SubmitAsync(Message("late") with { IdempotencyKey = lost }));
        Assert.Null(await submitter.SettleAsync(lost, TimeSpan.FromSeconds(5)));
        Assert.Equal(1, await QueuedAsync(ds));
        Assert.Equal(1, await LoggedAsync(ds));
    }

    [Fact]
    public async Task Settling_waits_for_a_commit_still_writing_the_key()
    {
        var (ds, submitter) = await OpenAsync(await pg.NewDatabaseAsync("commit_key_inflight"));
        await using var _ = ds;
        await using var __ = submitter;
        var key = Guid.CreateVersion7();
        var reached = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        submitter.FaultInjection = async (stage, _, _) =>
        {
            // The transaction holds the key, written and not yet committed, while the gateway asks.
            if (stage != MessageSubmitter.CommitStage.BeforeCommit) return;
            reached.TrySetResult();
            await release.Task;
        };
        var submit = submitter.SubmitAsync(Message("in flight") with { IdempotencyKey = key });
        await reached.Task;
        // Asked while the key is written but not committed: the answer waits for the commit, not "not stored".
        var settle = submitter.SettleAsync(key, TimeSpan.FromSeconds(30));
        // The commit goes on only once the question is seen waiting on the key's row lock, so the wait is what is tested.
        Assert.True(await WaitingOnKeyAsync(ds), "the settle question never waited on the uncommitted key");
        release.SetResult();
        var receipt = await submit;
        Assert.Equal(receipt.MessageId, (await settle)?.MessageId);
        Assert.Equal(1, await QueuedAsync(ds));
    }

    [Fact]
    public async Task A_keyed_submission_that_reaches_its_commit_after_its_gateway_gave_up_stores_nothing()
    {
        var (ds, submitter) = await OpenAsync(await pg.NewDatabaseAsync("commit_key_too_late"));
        await using var _ = ds;
        await using var __ = submitter;
        // Its silo received it long ago and held it (queued while the database could not be reached): its gateway stopped
        // waiting, asked about the key until it gave up, and answered 451. Sent together with one still in time, so that
        // the two may share a batch.
        var late = Guid.CreateVersion7();
        var lateSubmit = submitter.SubmitAsync(Message("late") with { IdempotencyKey = late, CommitBy = DateTimeOffset.UtcNow - TimeSpan.FromMinutes(1) });
        var inTimeSubmit = submitter.SubmitAsync(Message("in time") with { IdempotencyKey = Guid.CreateVersion7(), CommitBy = DateTimeOffset.UtcNow + TimeSpan.FromMinutes(10) });
        var e = await Assert.ThrowsAsync<InvalidOperationException>(() => lateSubmit);
        Assert.Contains("stopped waiting", e.Message, StringComparison.Ordinal);
        var inTime = await inTimeSubmit;
        Assert.NotEqual(Guid.Empty, inTime.MessageId);
        // Only the one in time is stored.
        Assert.Equal(1, await QueuedAsync(ds));
        Assert.Equal(1, await LoggedAsync(ds));
        // The late one's key was never claimed: asked about, it had not committed (and is fenced from now on).
        Assert.Null(await submitter.SettleAsync(late, TimeSpan.FromSeconds(5)));
    }

    [Fact]
    public async Task A_normal_commit_leaves_a_marker_and_the_message()
    {
        var (ds, submitter) = await OpenAsync(await pg.NewDatabaseAsync("commit_normal"));
        await using var _ = ds;
        await using var __ = submitter;
        await submitter.SubmitAsync(Message("normal"));
        Assert.Equal(1, await QueuedAsync(ds));
        Assert.Equal(1, await LoggedAsync(ds));
        await using var cmd = ds.CreateCommand("SELECT count(*) FROM submit_commit");
        Assert.Equal(1L, (long)(await cmd.ExecuteScalarAsync())!);
    }

    [Fact]
    public async Task Messages_committed_together_keep_every_receive_log_line_in_order_with_the_marker()
    {
        var (ds, submitter) = await OpenAsync(await pg.NewDatabaseAsync("commit_receive_log_batch"));
        await using var _ = ds;
        await using var __ = submitter;
        // Two lines per message (as for two recipient mailboxes), submitted at once so that group commits carry several
        // messages: their lines go in one batch with the commit marker (session 12).
        Submission TwoLines(int i) => Message($"m{i}") with
        {
            ReceiveLog = new[] { 1, 2 }.Select(line => new GrainMail.Contracts.Trust.ReceiveLogEntry(DateTimeOffset.UtcNow, "alice@example.com",
                "sender@example.org", "192.0.2.1", "example.org", "deliver", 0.5, $"m{i}.{line}", "mx.example.com; spf=pass")).ToList(),
        };
        await Task.WhenAll(Enumerable.Range(0, 40).Select(i => submitter.SubmitAsync(TwoLines(i))));
        Assert.Equal(40, await QueuedAsync(ds));
        Assert.Equal(80, await LoggedAsync(ds));
        var lines = await new GrainMail.Storage.Trust.ReceiveLogStore(ds).ReadAsync("alice@example.com", 1000);
        Assert.Equal(Enumerable.Range(0, 40).SelectMany(i => new[] { $"m{i}.1", $"m{i}.2" }).Order(), lines.Select(l => l.Symbols).Order());
        // Newest first: each message's second line just before its first.
        for (var k = 0; k < lines.Count; k += 2)
        {
            Assert.EndsWith(".2", lines[k].Symbols);
            Assert.Equal(lines[k].Symbols[..^2] + ".1", lines[k + 1].Symbols);
        }
        await using var cmd = ds.CreateCommand("SELECT count(*) > 0 FROM submit_commit");
        Assert.True((bool)(await cmd.ExecuteScalarAsync())!);
    }
}

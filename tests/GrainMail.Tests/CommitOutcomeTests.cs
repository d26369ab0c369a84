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
        submitter.FaultInjection = async (stage, conn) =>
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
        submitter.FaultInjection = (stage, _) =>
            // COMMIT took effect, but the client never heard (the connection died with the answer).
            stage == MessageSubmitter.CommitStage.AfterCommit ? throw new IOException("connection reset while reading the COMMIT answer") : Task.CompletedTask;
        var receipt = await submitter.SubmitAsync(Message("kept"));
        Assert.NotEqual(Guid.Empty, receipt.MessageId);
        Assert.Equal(1, await QueuedAsync(ds));
        Assert.Equal(1, await LoggedAsync(ds));
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
}

using System.Text.Json.Nodes;
using GrainMail.Contracts.Domains;
using GrainMail.Contracts.Jmap;
using GrainMail.Tests.Infrastructure;
using Npgsql;
using Orleans.TestingHost;

namespace GrainMail.Tests;

/// <summary>
/// The JMAP submission grain's status timer (EmailSubmissionGrain: 1 s, doubling, while a recipient is queued) reads the
/// records from PostgreSQL again on its own, with no call to the grain: a record written there by someone else — here the
/// approval's line in the send log, written by the test as another silo's ApprovalGrain would — moves the submission's
/// status and the account's EmailSubmission state. When the timer's write fails in the database, the grain is unsure of its
/// counter (the write may have landed unseen): no counter value is handed out twice, and the timer keeps looking.
/// </summary>
public sealed class SubmissionStatusTimerTests(PostgresServer pg)
{
    private const string Account = "u@timer.test";
    private const string Rcpt = "partner@outside.test";

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task The_status_timer_sees_a_send_log_line_written_in_postgresql_without_a_call_that_reads()
    {
        var db = await pg.NewDatabaseAsync("subtimer");
        await using var cluster = await TestSilos.StartAsync(db);
        var (submissions, intakeId, created) = await HeldSubmissionAsync(cluster);
        Assert.Equal(("queued", created), await RowAsync(db));

        await ApproverRejectsAsync(db, intakeId);

        // Only State() from here on: it answers the counter in memory and reads nothing, so whatever moves it is the timer.
        await Eventually.Until(async () => await submissions.State() > created, TimeSpan.FromSeconds(60),
            "the status timer storing the rejected recipient", Ct, TimeSpan.FromMilliseconds(200));
        var state = await submissions.State();
        Assert.Equal(created + 1, state);
        // The timer's change is in the row, at the new counter value (EmailSubmission/changes lists it as updated).
        Assert.Equal(("no", state), await RowAsync(db));
    }

    [Fact]
    public async Task After_the_timers_write_failed_in_the_database_the_next_change_takes_a_counter_value_above_the_stored_one()
    {
        var db = await pg.NewDatabaseAsync("subtimerfail");
        await using var cluster = await TestSilos.StartAsync(db);
        var (submissions, landed) = await TimerWriteFailsAsync(db, cluster);

        // The next change through the grain (a second submission, inserted: the trigger stops updates only) reads the
        // counter again: the value the failed write may have taken is not handed out a second time.
        var added = await submissions.Add("s2", DateTimeOffset.UtcNow, new JsonObject { ["id"] = "s2" }.ToJsonString());
        Assert.Equal(landed + 1, added);

        await DropFailingTriggerAsync(db);
        // EmailSubmission/get and /changes: s1's rejected status stored after s2, each change at a counter value of its own.
        var log = await submissions.Read();
        var s1 = Assert.Single(log.Items, i => i.Id == "s1");
        var s2 = Assert.Single(log.Items, i => i.Id == "s2");
        Assert.Equal((added, added), (s2.CreatedSeq, s2.UpdatedSeq));
        Assert.Equal(added + 1, s1.UpdatedSeq);
        Assert.Equal(s1.UpdatedSeq, log.State);
        Assert.Equal(("no", added + 1), await RowAsync(db));
        // EmailSubmission/changes from the landed write's value lists both.
        Assert.Equal(new[] { "s1", "s2" }, log.Items.Where(i => i.UpdatedSeq > landed).Select(i => i.Id).Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task A_status_timer_whose_write_failed_in_the_database_stores_the_status_once_the_database_takes_writes()
    {
        var db = await pg.NewDatabaseAsync("subtimerretry");
        await using var cluster = await TestSilos.StartAsync(db);
        var (submissions, landed) = await TimerWriteFailsAsync(db, cluster);

        await DropFailingTriggerAsync(db);
        // Only State() again: the timer itself looks again, and stores the status above the value the failed write may have taken.
        await Eventually.Until(async () => await submissions.State() >= landed, TimeSpan.FromSeconds(60),
            "the status timer storing the rejected recipient after its failed write", Ct, TimeSpan.FromMilliseconds(200));
        var state = await submissions.State();
        Assert.Equal(landed + 1, state);
        Assert.Equal(("no", state), await RowAsync(db));
    }

    /// <summary>
    /// A submission held for approval (its intake id has no sent record): its recipient outside stays queued until the
    /// send log's approval line for that id says otherwise. Returns the grain, the intake id and the state AddTracked answered.
    /// </summary>
    private static async Task<(IEmailSubmissionGrain Grain, Guid IntakeId, long Created)> HeldSubmissionAsync(InProcessTestCluster cluster)
    {
        Assert.Equal(DomainOpStatus.Ok, await cluster.Client.GetGrain<IDomainGrain>("timer.test").Create(DomainSettings.Default("local")));
        var intakeId = Guid.NewGuid();
        var json = new JsonObject
        {
            ["id"] = "s1",
            ["deliveryStatus"] = new JsonObject
            {
                [Rcpt] = new JsonObject { ["smtpReply"] = $"250 2.0.0 Held for approval ({intakeId:N})", ["delivered"] = "queued", ["displayed"] = "unknown" },
            },
            ["undoStatus"] = "pending",
            ["_targets"] = new JsonObject { [Rcpt] = new JsonObject { ["mailboxes"] = new JsonArray(), ["external"] = new JsonArray(Rcpt) } },
        }.ToJsonString();
        var submissions = cluster.Client.GetGrain<IEmailSubmissionGrain>(Account);
        var created = await submissions.AddTracked("s1", DateTimeOffset.UtcNow, json, intakeId, $"{intakeId:N}@timer.test");
        return (submissions, intakeId, created);
    }

    /// <summary>The approver's rejection in the send log, as another silo's ApprovalGrain writes it: the timer then has a change to store.</summary>
    private static async Task ApproverRejectsAsync(string db, Guid intakeId)
    {
        await using var ds = NpgsqlDataSource.Create(db);
        await using var insert = ds.CreateCommand(
            """
            INSERT INTO outbound_attempt (message_id, sender, recipient, destination, at, link, remote, outcome, reply)
            VALUES (@id, @s, @r, 'outside.test', now(), 'approval', '', 'rejected', 'Rejected by the approver')
            """);
        insert.Parameters.AddWithValue("id", intakeId);
        insert.Parameters.AddWithValue("s", Account);
        insert.Parameters.AddWithValue("r", Rcpt);
        Assert.Equal(1, await insert.ExecuteNonQueryAsync(Ct));
    }

    /// <summary>
    /// A held submission whose timer's write fails in the database after it landed: the test moves the row's counter to
    /// the value that write takes (as a COMMIT that reached the database and whose answer was lost), then a trigger fails
    /// every update of the table with SQL state 57P01 (admin_shutdown), counting its failures in a sequence (which a
    /// rollback does not undo). Returns once the timer's write has failed, with the grain and the landed value.
    /// </summary>
    private static async Task<(IEmailSubmissionGrain Grain, long Landed)> TimerWriteFailsAsync(string db, InProcessTestCluster cluster)
    {
        var (submissions, intakeId, created) = await HeldSubmissionAsync(cluster);
        var landed = created + 1;
        await using (var ds = NpgsqlDataSource.Create(db))
        {
            // Before the send-log line: until it is there the timer finds nothing to store, and writes nothing.
            await using (var move = ds.CreateCommand("UPDATE jmap_email_submission SET updated_seq = @seq WHERE account = @a AND id = 's1'"))
            {
                move.Parameters.AddWithValue("seq", landed);
                move.Parameters.AddWithValue("a", Account);
                Assert.Equal(1, await move.ExecuteNonQueryAsync(Ct));
            }
            await using var fail = ds.CreateCommand(
                """
                CREATE SEQUENCE submission_write_failures;
                CREATE FUNCTION fail_submission_write() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN
                    PERFORM nextval('submission_write_failures');
                    RAISE EXCEPTION 'submission write failed by the test' USING ERRCODE = '57P01';
                END $$;
                CREATE TRIGGER fail_submission_write BEFORE UPDATE ON jmap_email_submission
                    FOR EACH ROW EXECUTE FUNCTION fail_submission_write();
                """);
            await fail.ExecuteNonQueryAsync(Ct);
        }
        await ApproverRejectsAsync(db, intakeId);
        await Eventually.Until(async () => await FailuresAsync(db) > 0, TimeSpan.FromSeconds(60),
            "the status timer's write failing in the database", Ct, TimeSpan.FromMilliseconds(200));
        // The grain did not take the value of the write it saw fail; the database holds it.
        Assert.Equal(created, await submissions.State());
        Assert.Equal(("queued", landed), await RowAsync(db));
        return (submissions, landed);
    }

    private static async Task<long> FailuresAsync(string db)
    {
        await using var ds = NpgsqlDataSource.Create(db);
        await using var cmd = ds.CreateCommand("SELECT coalesce(pg_sequence_last_value('submission_write_failures'), 0)");
        return (long)(await cmd.ExecuteScalarAsync(Ct))!;
    }

    private static async Task DropFailingTriggerAsync(string db)
    {
        await using var ds = NpgsqlDataSource.Create(db);
        await using var cmd = ds.CreateCommand("DROP TRIGGER fail_submission_write ON jmap_email_submission");
        await cmd.ExecuteNonQueryAsync(Ct);
    }

    /// <summary>The stored row's recipient status and its updated_seq, read from PostgreSQL (the grain's Read would look itself).</summary>
    private static async Task<(string? Delivered, long UpdatedSeq)> RowAsync(string db)
    {
        await using var ds = NpgsqlDataSource.Create(db);
        await using var cmd = ds.CreateCommand("SELECT object, updated_seq FROM jmap_email_submission WHERE account = @a AND id = 's1'");
        cmd.Parameters.AddWithValue("a", Account);
        await using var r = await cmd.ExecuteReaderAsync(Ct);
        Assert.True(await r.ReadAsync(Ct));
        var o = JsonNode.Parse(r.GetString(0))!;
        return ((string?)o["deliveryStatus"]![Rcpt]!["delivered"], r.GetInt64(1));
    }
}

using System.Text.Json.Nodes;
using GrainMail.Contracts.Domains;
using GrainMail.Contracts.Jmap;
using GrainMail.Tests.Infrastructure;
using Npgsql;

namespace GrainMail.Tests;

/// <summary>
/// The JMAP submission grain's status timer (EmailSubmissionGrain: 1 s, doubling, while a recipient is queued) reads the
/// records from PostgreSQL again on its own, with no call to the grain: a record written there by someone else — here the
/// approval's line in the send log, written by the test as another silo's ApprovalGrain would — moves the submission's
/// status and the account's EmailSubmission state.
/// </summary>
public sealed class SubmissionStatusTimerTests(PostgresServer pg)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task The_status_timer_sees_a_send_log_line_written_in_postgresql_without_a_call_that_reads()
    {
        var db = await pg.NewDatabaseAsync("subtimer");
        await using var cluster = await TestSilos.StartAsync(db);
        Assert.Equal(DomainOpStatus.Ok, await cluster.Client.GetGrain<IDomainGrain>("timer.test").Create(DomainSettings.Default("local")));
        const string account = "u@timer.test";
        const string rcpt = "partner@outside.test";

        // A submission held for approval (its intake id has no sent record): its recipient outside stays queued until the
        // send log's approval line for that id says otherwise.
        var intakeId = Guid.NewGuid();
        var json = new JsonObject
        {
            ["id"] = "s1",
            ["deliveryStatus"] = new JsonObject
            {
                [rcpt] = new JsonObject { ["smtpReply"] = $"250 2.0.0 Held for approval ({intakeId:N})", ["delivered"] = "queued", ["displayed"] = "unknown" },
            },
            ["undoStatus"] = "pending",
            ["_targets"] = new JsonObject { [rcpt] = new JsonObject { ["mailboxes"] = new JsonArray(), ["external"] = new JsonArray(rcpt) } },
        }.ToJsonString();
        var submissions = cluster.Client.GetGrain<IEmailSubmissionGrain>(account);
        var created = await submissions.AddTracked("s1", DateTimeOffset.UtcNow, json, intakeId, $"{intakeId:N}@timer.test");
        Assert.Equal(("queued", created), await RowAsync(db));

        await using (var ds = NpgsqlDataSource.Create(db))
        await using (var insert = ds.CreateCommand(
            """
            INSERT INTO outbound_attempt (message_id, sender, recipient, destination, at, link, remote, outcome, reply)
            VALUES (@id, @s, @r, 'outside.test', now(), 'approval', '', 'rejected', 'Rejected by the approver')
            """))
        {
            insert.Parameters.AddWithValue("id", intakeId);
            insert.Parameters.AddWithValue("s", account);
            insert.Parameters.AddWithValue("r", rcpt);
            Assert.Equal(1, await insert.ExecuteNonQueryAsync(Ct));
        }

        // Only State() from here on: it answers the counter in memory and reads nothing, so whatever moves it is the timer.
        await Eventually.Until(async () => await submissions.State() > created, TimeSpan.FromSeconds(60),
            "the status timer storing the rejected recipient", Ct, TimeSpan.FromMilliseconds(200));
        var state = await submissions.State();
        Assert.Equal(created + 1, state);
        // The timer's change is in the row, at the new counter value (EmailSubmission/changes lists it as updated).
        Assert.Equal(("no", state), await RowAsync(db));
    }

    /// <summary>The stored row's recipient status and its updated_seq, read from PostgreSQL (the grain's Read would look itself).</summary>
    private static async Task<(string? Delivered, long UpdatedSeq)> RowAsync(string db)
    {
        await using var ds = NpgsqlDataSource.Create(db);
        await using var cmd = ds.CreateCommand("SELECT object, updated_seq FROM jmap_email_submission WHERE account = 'u@timer.test' AND id = 's1'");
        await using var r = await cmd.ExecuteReaderAsync(Ct);
        Assert.True(await r.ReadAsync(Ct));
        var o = JsonNode.Parse(r.GetString(0))!;
        return ((string?)o["deliveryStatus"]!["partner@outside.test"]!["delivered"], r.GetInt64(1));
    }
}

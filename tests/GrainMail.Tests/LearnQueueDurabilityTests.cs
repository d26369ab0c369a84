using System.Net.Http.Json;
using System.Text.Json;
using GrainMail.Tests.Infrastructure;
using MailKit;
using Npgsql;

namespace GrainMail.Tests;

/// <summary>A host with inbound trust on whose learners do not apply the queue (GrainMail:LearnQueue:Apply=false):
/// a verdict stays queued until the test restarts the host with applying on.</summary>
public sealed class LearnQueueHostFixture : SmtpHostFixture
{
    public TestDnsServer Dns { get; } = new();

    public LearnQueueHostFixture() => TrustSenders.Plain(Dns);

    protected override IReadOnlyDictionary<string, string>? Environment => Settings(apply: false);

    public Dictionary<string, string> Settings(bool apply) => new()
    {
        ["GRAINMAIL_TRUST"] = "true",
        ["GRAINMAIL_DNS"] = $"127.0.0.1:{Dns.Port}",
        ["GrainMail__AllowPlaintextAuth"] = "true",
        ["GrainMail__LearnQueue__Apply"] = apply ? "true" : "false",
        // The restarted host sweeps at once and often, so the test need not wait the default half minute.
        ["GrainMail__LearnQueue__StartDelaySeconds"] = "1",
        ["GrainMail__LearnQueue__SweepSeconds"] = "1",
        ["GrainMail__LearnQueue__GraceSeconds"] = "0",
    };

    public override async ValueTask DisposeAsync()
    {
        await base.DisposeAsync();
        Dns.Dispose();
    }
}

/// <summary>
/// A user's verdict is committed with the move that gives it (table learn_queue) and applied by whichever silo runs
/// next: real PostgreSQL, the real host killed with the verdict still queued, a new one started on the same database.
/// </summary>
public sealed class LearnQueueDurabilityTests(LearnQueueHostFixture fixture) : IClassFixture<LearnQueueHostFixture>
{
    private const string Domain = SmtpHostFixture.Domain;

    // The same pitch the content-trust tests teach with.
    private static string Pitch(string to, int n) => ContentTrustEndToEndTests.Pitch(to, n);

    [Fact]
    public async Task A_move_into_junk_is_learned_after_the_host_dies_before_applying_it_and_applying_it_twice_changes_nothing()
    {
        await fixture.NewAccount("nora");
        var nora = $"nora@{Domain}";
        Assert.StartsWith("250 ", await fixture.SendMxAsync("deals@plain.example", nora, Pitch(nora, 1)));
        var first = Assert.Single(await fixture.ReadFolder(nora, "INBOX", 1));
        Assert.DoesNotContain("BAYES_", first.Headers["X-Spam-Status"]);

        // The verdict: MOVE into \Junk. Its OK means the learn request is in PostgreSQL, not only in a silo's memory.
        await fixture.WithImap(nora, async imap =>
        {
            await imap.Inbox.OpenAsync(FolderAccess.ReadWrite);
            await imap.Inbox.MoveToAsync(0, await imap.GetFolderAsync("Junk"));
        });
        Assert.Equal(new List<bool> { true }, await Queued(nora));
        Assert.Equal((0, 0), await Model(nora));

        // The host dies with the verdict unapplied; the next one applies it.
        await fixture.RestartAsync(fixture.Settings(apply: true));
        await Eventually.Value(() => Model(nora), m => m == (1, 0), TimeSpan.FromSeconds(60), "nora's model at 1 spam after the restart",
            poll: TimeSpan.FromMilliseconds(200));
        await Eventually.Value(() => Queued(nora), q => q.Count == 0, TimeSpan.FromSeconds(30), "nora's queue empty");

        // The next message of its kind goes to Junk on the learned model's word.
        Assert.StartsWith("250 ", await fixture.SendMxAsync("deals@plain.example", nora, Pitch(nora, 2)));
        var junk = await fixture.ReadFolder(nora, "Junk", 2);
        Assert.Contains(junk, m => (m.Subject ?? "").EndsWith(" 2", StringComparison.Ordinal)
            && (m.Headers["X-Spam-Status"] ?? "").Contains("BAYES_99", StringComparison.Ordinal));

        // The same verdict queued again (as when a silo dies after applying a row and before deleting it): applied, nothing changes.
        await using (var db = new NpgsqlConnection(fixture.ConnectionString))
        {
            await db.OpenAsync();
            await using var cmd = new NpgsqlCommand("""
                INSERT INTO learn_queue (owner, blob_domain, blob_hash, spam)
                SELECT m.mailbox, m.blob_domain, m.blob_hash, true FROM mailbox_message m JOIN mailbox_folder f ON f.mailbox = m.mailbox AND f.folder_id = m.folder_id
                WHERE m.mailbox = $1 AND f.name = 'Junk' ORDER BY m.uid LIMIT 1
                """, db);
            cmd.Parameters.AddWithValue(nora);
            Assert.Equal(1, await cmd.ExecuteNonQueryAsync());
        }
        await Eventually.Value(() => Queued(nora), q => q.Count == 0, TimeSpan.FromSeconds(30), "the repeated verdict applied");
        Assert.Equal((1, 0), await Model(nora));
    }

    private async Task<(int Spam, int Ham)> Model(string mailbox)
    {
        var m = await fixture.Host.Http.GetFromJsonAsync<JsonElement>($"/api/v1/spam/model?mailbox={mailbox}");
        return (m.GetProperty("spamMessages").GetInt32(), m.GetProperty("hamMessages").GetInt32());
    }

    private async Task<List<bool>> Queued(string mailbox)
    {
        await using var db = new NpgsqlConnection(fixture.ConnectionString);
        await db.OpenAsync();
        await using var cmd = new NpgsqlCommand("SELECT spam FROM learn_queue WHERE owner = $1 ORDER BY id", db);
        cmd.Parameters.AddWithValue(mailbox);
        await using var r = await cmd.ExecuteReaderAsync();
        var list = new List<bool>();
        while (await r.ReadAsync()) list.Add(r.GetBoolean(0));
        return list;
    }
}

using System.Net.Http.Json;
using GrainMail.Tests.Infrastructure;
using MailKit.Net.Smtp;
using MailKit.Security;
using Npgsql;

namespace GrainMail.Tests;

/// <summary>
/// The silo running a submission dies in the middle of it (real processes: two silos and a gateway
/// process, real SMTP). The gateway gave the submission an idempotency key before sending it; when
/// the call fails it asks the surviving silo whether that key committed, so the sender hears 250
/// exactly when the message is stored, once, and 451 exactly when it is not.
/// </summary>
public sealed class SubmitOutcomeTests(PostgresServer pg)
{
    private static readonly string MasterKey = Convert.ToHexString(Enumerable.Range(0, 32).Select(i => (byte)(90 + i)).ToArray());

    private sealed record Cluster(string ConnectionString, HostProcess[] Silos, HostProcess Gateway, HostProcess.Ports GatewayPorts) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync()
        {
            await Gateway.DisposeAsync();
            foreach (var s in Silos) await s.DisposeAsync();
        }
    }

    /// <summary>Two silos that end themselves at <paramref name="fault"/> of a gateway's submission, and a gateway process.</summary>
    private async Task<Cluster> StartAsync(string name, string fault)
    {
        var cs = await pg.NewDatabaseAsync(name);
        var dir = Path.Combine(pg.Root, name + "-" + Guid.NewGuid().ToString("N")[..8]);
        Dictionary<string, string> Env(string role) => new()
        {
            ["GRAINMAIL_ROLE"] = role,
            ["GRAINMAIL_MASTER_KEY"] = MasterKey,
            ["GRAINMAIL_FAULT_SUBMIT"] = role == "silo" ? fault : "",
        };
        var first = await HostProcess.StartAsync(cs, Path.Combine(dir, "silo-1"), HostProcess.Ports.Free(), extraEnvironment: Env("silo"));
        var second = await HostProcess.StartAsync(cs, Path.Combine(dir, "silo-2"), HostProcess.Ports.Free(), extraEnvironment: Env("silo"));
        var ports = HostProcess.Ports.Free();
        // A client of the cluster that finds the silos in the membership table, as in the failover drill.
        var gateway = await HostProcess.StartAsync(cs, Path.Combine(dir, "gateway"), ports, extraEnvironment: Env("gateway"));
        (await gateway.Http.PostAsJsonAsync("/api/v1/domains", new { name = "outcome.test" })).EnsureSuccessStatusCode();
        (await gateway.Http.PostAsJsonAsync("/api/v1/domains/outcome.test/accounts", new { localPart = "ann", password = "correct horse battery" })).EnsureSuccessStatusCode();
        return new Cluster(cs, [first, second], gateway, ports);
    }

    private static async Task<long> CountAsync(string cs, string sql)
    {
        await using var ds = NpgsqlDataSource.Create(cs);
        await using var cmd = ds.CreateCommand(sql);
        return (long)(await cmd.ExecuteScalarAsync())!;
    }

    private static async Task<string> SendAsync(int mx, string subject)
    {
        // An SMTP client waits minutes for its answer to DATA (RFC 5321 4.5.3.2.6); the gateway's outcome wait fits.
        using var smtp = new SmtpClient { Timeout = 120_000 };
        await smtp.ConnectAsync("127.0.0.1", mx, SecureSocketOptions.None);
        var reply = await smtp.SendAsync(TestMail.Text("someone@elsewhere.example", "ann@outcome.test", subject));
        await smtp.DisconnectAsync(true);
        return reply;
    }

    [Fact]
    public async Task Silo_dying_after_its_commit_gets_250_and_one_copy()
    {
        await using var cluster = await StartAsync("outcome_after", "die-after-commit");
        var reply = await SendAsync(cluster.GatewayPorts.Mx, "committed, then the silo died");

        // The silo that ran the commit is gone; the other answered for it.
        Assert.Single(cluster.Silos, s => s.HasExited);
        Assert.Equal(1, await CountAsync(cluster.ConnectionString, "SELECT count(*) FROM submit_key WHERE message_id IS NOT NULL"));
        var stored = await CountAsync(cluster.ConnectionString, "SELECT count(*) FROM submit_key");
        Assert.Equal(1, stored);
        await using (var ds = NpgsqlDataSource.Create(cluster.ConnectionString))
        {
            await using var cmd = ds.CreateCommand("SELECT message_id FROM submit_key");
            var id = (Guid)(await cmd.ExecuteScalarAsync())!;
            Assert.Contains($"queued as {id:N}", reply, StringComparison.Ordinal);
        }
        // Delivered by the surviving silo, once.
        await Eventually.Until(async () => await CountAsync(cluster.ConnectionString, "SELECT count(*) FROM mailbox_message WHERE mailbox = 'ann@outcome.test'") >= 1,
            TimeSpan.FromSeconds(90), "the copy in ann's mailbox", poll: TimeSpan.FromMilliseconds(250));
        await Eventually.HoldsFor(async () => await CountAsync(cluster.ConnectionString, "SELECT count(*) FROM mailbox_message WHERE mailbox = 'ann@outcome.test'") == 1
            && await CountAsync(cluster.ConnectionString, "SELECT count(*) FROM stream_queue") == 0,
            TimeSpan.FromSeconds(3), "exactly one copy, nothing left queued", poll: TimeSpan.FromMilliseconds(250));
    }

    [Fact]
    public async Task Silo_dying_before_its_commit_gets_451_and_nothing_stored()
    {
        await using var cluster = await StartAsync("outcome_before", "die-before-commit");
        var refused = await Assert.ThrowsAsync<SmtpCommandException>(() => SendAsync(cluster.GatewayPorts.Mx, "written, never committed"));
        Assert.Equal(451, (int)refused.StatusCode);

        Assert.Single(cluster.Silos, s => s.HasExited);
        // The key is fenced (recorded with no message): the submission can no longer commit anywhere.
        Assert.Equal(1, await CountAsync(cluster.ConnectionString, "SELECT count(*) FROM submit_key WHERE message_id IS NULL"));
        Assert.Equal(0, await CountAsync(cluster.ConnectionString, "SELECT count(*) FROM submit_key WHERE message_id IS NOT NULL"));
        Assert.Equal(0, await CountAsync(cluster.ConnectionString, "SELECT count(*) FROM stream_queue"));
        Assert.Equal(0, await CountAsync(cluster.ConnectionString, "SELECT count(*) FROM mailbox_message"));
    }
}

using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using GrainMail.Storage.Blobs;
using GrainMail.Tests.Infrastructure;

namespace GrainMail.Tests;

/// <summary>Whole host processes: simultaneous start-up, and SIGKILL in the middle of a delivery run.</summary>
public sealed class HostProcessTests(PostgresServer pg)
{
    private static StringContent Json(object o) => new(JsonSerializer.Serialize(o), Encoding.UTF8, "application/json");

    [Fact]
    public async Task Two_silos_started_at_the_same_moment_on_an_empty_database_both_come_up()
    {
        var cs = await pg.NewDatabaseAsync("twosilos", migrate: false);
        var dir = Path.Combine(pg.Root, "twosilos");
        var starts = await Task.WhenAll(
            HostProcess.StartAsync(cs, Path.Combine(dir, "a"), HostProcess.Ports.Free()),
            HostProcess.StartAsync(cs, Path.Combine(dir, "b"), HostProcess.Ports.Free()));
        await using var a = starts[0];
        await using var b = starts[1];
        // Both are ready, and they form one cluster: a domain made through one is seen through the other.
        Assert.Equal(HttpStatusCode.Created, (await a.Http.PostAsync("/api/v1/domains", Json(new { name = "both.test" }))).StatusCode);
        var info = await b.Http.GetAsync("/api/v1/domains/both.test");
        Assert.Equal(HttpStatusCode.OK, info.StatusCode);
    }

    /// <summary>A host on a fresh database with one domain and <paramref name="count"/> accounts.</summary>
    private async Task<(HostProcess Host, string Cs, string Dir, HostProcess.Ports Ports, List<string> Boxes)> StartWithMailboxesAsync(
        string name, string domain, string prefix, int count)
    {
        var cs = await pg.NewDatabaseAsync(name);
        var dir = Path.Combine(pg.Root, name);
        var ports = HostProcess.Ports.Free();
        var host = await HostProcess.StartAsync(cs, dir, ports);
        Assert.Equal(HttpStatusCode.Created, (await host.Http.PostAsync("/api/v1/domains", Json(new { name = domain }))).StatusCode);
        var boxes = Enumerable.Range(0, count).Select(i => $"{prefix}{i}@{domain}").ToList();
        foreach (var b in boxes)
        {
            Assert.Equal(HttpStatusCode.Created, (await host.Http.PostAsync($"/api/v1/domains/{domain}/accounts",
                Json(new { localPart = b.Split('@')[0], password = "password1" }))).StatusCode);
        }
        return (host, cs, dir, ports, boxes);
    }

    [Fact]
    public async Task Every_message_acknowledged_before_a_SIGKILL_is_there_exactly_once_after_restart()
    {
        var ct = TestContext.Current.CancellationToken;
        var (host, cs, dir, ports, boxes) = await StartWithMailboxesAsync("sigkill", "crash.test", "u", 20);

        var acknowledged = new ConcurrentBag<(string Box, string Hash)>();
        var attempted = new ConcurrentBag<(string Box, string Hash)>();
        using var stop = new CancellationTokenSource();
        var senders = Enumerable.Range(0, 4).Select(s => Task.Run(async () =>
        {
            for (var i = 0; !stop.IsCancellationRequested; i++)
            {
                var box = boxes[(s * 7 + i) % boxes.Count];
                var raw = Messages.OfSize("load@example.org", box, 2048, s * 100_000 + i);
                var hash = Convert.ToHexString(BlobStore.Hash(raw));
                attempted.Add((box, hash));
                try
                {
                    var r = await host.Http.PostAsync("/api/v1/messages",
                        Json(new { from = "load@example.org", to = new[] { box }, raw = Convert.ToBase64String(raw) }));
                    if (r.StatusCode == HttpStatusCode.Accepted) acknowledged.Add((box, hash));
                }
                catch (HttpRequestException)
                {
                    return; // the host is gone: this request was never acknowledged
                }
                catch (TaskCanceledException)
                {
                    return;
                }
            }
        })).ToList();

        while (acknowledged.Count < 150) await Task.Delay(20, ct);
        await host.KillAsync();
        stop.Cancel();
        await Task.WhenAll(senders);
        Assert.True(acknowledged.Count >= 150);

        await using var restarted = await HostProcess.StartAsync(cs, dir, ports);
        var expected = acknowledged.GroupBy(a => a.Box).ToDictionary(g => g.Key, g => g.Select(x => x.Hash).ToHashSet());
        var deadline = DateTime.UtcNow.AddSeconds(90);
        foreach (var box in boxes)
        {
            var want = expected.GetValueOrDefault(box) ?? [];
            while (true)
            {
                var inbox = await restarted.Http.GetFromJsonAsync<JsonElement>($"/api/v1/accounts/{box}/mailbox", ct);
                var n = inbox.GetProperty("quota").GetProperty("messages").GetInt32();
                if (n >= want.Count) break;
                Assert.True(DateTime.UtcNow < deadline, $"{box}: {n} of {want.Count} acknowledged messages after restart");
                await Task.Delay(250, ct);
            }
        }

        // Exactly once: read the stored index directly and compare blob hashes.
        await using var ds = Npgsql.NpgsqlDataSource.Create(cs);
        var stored = new List<(string Box, string Hash)>();
        await using (var cmd = ds.CreateCommand("SELECT mailbox, blob_hash FROM mailbox_message"))
        await using (var r = await cmd.ExecuteReaderAsync(ct))
        {
            while (await r.ReadAsync(ct)) stored.Add((r.GetString(0), Convert.ToHexString((byte[])r[1])));
        }
        Assert.Equal(stored.Count, stored.Distinct().Count());
        foreach (var (box, hashes) in expected)
        {
            foreach (var h in hashes) Assert.Contains((box, h), stored);
        }
        // Whatever else is stored was at least attempted (in flight at the kill, committed but unanswered).
        var attemptedSet = attempted.ToHashSet();
        Assert.All(stored, s => Assert.Contains(s, attemptedSet));
    }

    [Fact]
    public async Task SMTP_host_killed_mid_load_every_250_is_in_its_mailbox_once_after_restart()
    {
        var ct = TestContext.Current.CancellationToken;
        var (host, cs, dir, ports, boxes) = await StartWithMailboxesAsync("smtpkill", "kill.test", "k", 10);

        var acknowledged = new ConcurrentBag<(string Box, string Token)>();
        var attempted = new ConcurrentBag<string>();
        using var stop = new CancellationTokenSource();
        var senders = Enumerable.Range(0, 4).Select(s => Task.Run(async () =>
        {
            try
            {
                var (c, _) = await RawSmtp.ConnectAsync(ports.Mx);
                await using (c)
                {
                    await c.CommandAsync("EHLO load.example.org");
                    for (var i = 0; !stop.IsCancellationRequested; i++)
                    {
                        var box = boxes[(s * 3 + i) % boxes.Count];
                        var token = $"token-{s}-{i}";
                        attempted.Add(token);
                        await c.SendRawAsync($"MAIL FROM:<load@example.org>\r\nRCPT TO:<{box}>\r\nDATA\r\n");
                        if (!(await c.ReadReplyAsync()).StartsWith("250") || !(await c.ReadReplyAsync()).StartsWith("250")
                            || !(await c.ReadReplyAsync()).StartsWith("354")) return;
                        await c.SendRawAsync($"Subject: {token}\r\n\r\n{token}\r\n.\r\n");
                        var reply = await c.ReadReplyAsync();
                        if (!reply.StartsWith("250 ")) return; // no 250: the sender would retry later
                        acknowledged.Add((box, token));
                    }
                }
            }
            catch (IOException)
            {
            }
            catch (System.Net.Sockets.SocketException)
            {
            }
        })).ToList();

        while (acknowledged.Count < 100) await Task.Delay(10, ct);
        await host.KillAsync();
        stop.Cancel();
        await Task.WhenAll(senders);

        await using var restarted = await HostProcess.StartAsync(cs, dir, ports);
        var expected = acknowledged.GroupBy(a => a.Box).ToDictionary(g => g.Key, g => g.Count());
        var deadline = DateTime.UtcNow.AddSeconds(90);
        foreach (var (box, count) in expected)
        {
            while ((await restarted.Http.GetFromJsonAsync<JsonElement>($"/api/v1/accounts/{box}/mailbox", ct)).GetProperty("quota").GetProperty("messages").GetInt32() < count)
            {
                Assert.True(DateTime.UtcNow < deadline, $"{box}: acknowledged messages missing after restart");
                await Task.Delay(250, ct);
            }
        }

        // Identify every stored message by its token (read through the blob store with the host's key).
        await using var ds = Npgsql.NpgsqlDataSource.Create(cs);
        var blobs = new BlobStore(ds, new KeyRing(ds, MasterKey.LoadOrCreate(Path.Combine(dir, "master.key"))));
        var stored = new List<(string Box, string Token)>();
        var rows = new List<(string, string, byte[])>();
        await using (var cmd = ds.CreateCommand("SELECT mailbox, blob_domain, blob_hash FROM mailbox_message"))
        await using (var r = await cmd.ExecuteReaderAsync(ct))
        {
            while (await r.ReadAsync(ct)) rows.Add((r.GetString(0), r.GetString(1), (byte[])r[2]));
        }
        foreach (var (box, d, h) in rows)
        {
            var text = Encoding.UTF8.GetString((await blobs.ReadAsync(d, h))!);
            stored.Add((box, System.Text.RegularExpressions.Regex.Match(text, @"Subject: (token-\d+-\d+)").Groups[1].Value));
        }
        Assert.Equal(stored.Count, stored.Distinct().Count()); // nothing twice
        foreach (var a in acknowledged) Assert.Contains(a, stored); // nothing acknowledged lost
        Assert.All(stored, s => Assert.Contains(s.Token, attempted)); // nothing invented
    }
}

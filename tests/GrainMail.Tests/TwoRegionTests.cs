using System.Net.Http.Json;
using System.Text.Json;
using GrainMail.Tests.Infrastructure;
using MailKit;
using MailKit.Net.Imap;
using MailKit.Net.Smtp;
using MailKit.Security;
using MimeKit;

namespace GrainMail.Tests;

/// <summary>
/// Two regions in one cluster, with real host processes on one PostgreSQL: silos carry their
/// region, a domain's grains live in its home region, fall back to the other when it is dark
/// and go home when it returns; a gateway process serves mail as a client of the cluster.
/// </summary>
public sealed class TwoRegionTests(PostgresServer pg)
{
    // Processes of one cluster share the master key: each reads what the others stored.
    private static readonly string MasterKey = Convert.ToHexString(Enumerable.Range(0, 32).Select(i => (byte)(200 - i)).ToArray());

    private static Dictionary<string, string> Env(string region, string role = "node") => new()
    {
        ["GRAINMAIL_REGION"] = region,
        ["GRAINMAIL_ROLE"] = role,
        ["GRAINMAIL_MASTER_KEY"] = MasterKey,
        ["GrainMail__AllowPlaintextAuth"] = "true",
    };

    private static async Task<JsonElement?> PlacementAsync(HostProcess host, string address)
    {
        try
        {
            using var r = await host.Http.GetAsync($"/api/v1/accounts/{address}/placement");
            return r.IsSuccessStatusCode ? await r.Content.ReadFromJsonAsync<JsonElement>() : null;
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
        {
            return null;
        }
    }

    private static string[] Regions(JsonElement p) =>
        new[] { "domain", "account", "mailbox" }.Select(g => p.GetProperty(g).GetProperty("region").GetString()!).ToArray();

    /// <summary>Polls until every grain of the account runs in <paramref name="region"/>; returns the seconds it took.</summary>
    private static async Task<double> WaitPlacedAsync(HostProcess host, string address, string region, TimeSpan limit)
    {
        var started = DateTime.UtcNow;
        await Eventually.Value(
            async () => await PlacementAsync(host, address) is { } p ? string.Join(",", Regions(p)) : "no answer",
            regions => regions.Split(',').All(r => r == region),
            limit, $"every grain of {address} in {region}", poll: TimeSpan.FromMilliseconds(500));
        return (DateTime.UtcNow - started).TotalSeconds;
    }

    [Fact]
    public async Task Grains_live_in_the_home_region_fall_back_when_it_is_dark_and_go_home_within_60_s()
    {
        var cs = await pg.NewDatabaseAsync("regions");
        var dir = Path.Combine(pg.Root, "regions-" + Guid.NewGuid().ToString("N")[..8]);
        var beijing = await HostProcess.StartAsync(cs, Path.Combine(dir, "bj"), HostProcess.Ports.Free(), extraEnvironment: Env("beijing"));
        var hzPorts = HostProcess.Ports.Free();
        var hangzhou = await HostProcess.StartAsync(cs, Path.Combine(dir, "hz"), hzPorts, extraEnvironment: Env("hangzhou"));
        using var imap = new ImapClient();
        try
        {
            foreach (var (domain, region) in new[] { ("bj.test", "beijing"), ("hz.test", "hangzhou") })
            {
                (await hangzhou.Http.PostAsJsonAsync("/api/v1/domains", new { name = domain, homeRegion = region })).EnsureSuccessStatusCode();
                (await hangzhou.Http.PostAsJsonAsync($"/api/v1/domains/{domain}/accounts", new { localPart = "ann", password = "correct horse battery" })).EnsureSuccessStatusCode();
            }
            // Placed at home (a silo that learns of a new domain late moves its grains home).
            await WaitPlacedAsync(hangzhou, "ann@bj.test", "beijing", TimeSpan.FromSeconds(30));
            await WaitPlacedAsync(beijing, "ann@hz.test", "hangzhou", TimeSpan.FromSeconds(30));

            // Beijing goes dark: its domain is served from Hangzhou.
            await beijing.KillAsync();
            await WaitPlacedAsync(hangzhou, "ann@bj.test", "hangzhou", TimeSpan.FromSeconds(45));

            // A mail client of the Beijing domain, connected to Hangzhou, idles in its INBOX.
            await imap.ConnectAsync("127.0.0.1", hzPorts.Imap, SecureSocketOptions.None);
            await imap.AuthenticateAsync("ann@bj.test", "correct horse battery");
            await imap.Inbox.OpenAsync(FolderAccess.ReadWrite);
            var arrived = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            imap.Inbox.CountChanged += (_, _) => arrived.TrySetResult();
            using var stopIdle = new CancellationTokenSource();
            var idle = imap.IdleAsync(stopIdle.Token);

            // Beijing returns: the grains go home within the minute the issue allows.
            await beijing.DisposeAsync();
            beijing = await HostProcess.StartAsync(cs, Path.Combine(dir, "bj2"), HostProcess.Ports.Free(), extraEnvironment: Env("beijing"));
            var seconds = await WaitPlacedAsync(hangzhou, "ann@bj.test", "beijing", TimeSpan.FromSeconds(60));
            Assert.InRange(seconds, 0, 60);
            // Hangzhou's own domain never moved.
            Assert.All(Regions((await PlacementAsync(hangzhou, "ann@hz.test"))!.Value), r => Assert.Equal("hangzhou", r));

            // The session that was open across the move still hears of new mail, and reads it.
            await TestMail.SendToMxAsync(hzPorts.Mx, "ann@bj.test", "after the move", "x");
            await arrived.Task.WaitAsync(TimeSpan.FromSeconds(20));
            await stopIdle.CancelAsync();
            await idle;
            Assert.Equal("after the move", (await imap.Inbox.GetMessageAsync(imap.Inbox.Count - 1)).Subject);
        }
        finally
        {
            await beijing.DisposeAsync();
            await hangzhou.DisposeAsync();
        }
    }

    [Fact]
    public async Task Outbound_routes_run_in_the_egress_region_and_send_from_the_other_when_it_is_dark()
    {
        using var dns = new TestDnsServer();
        using var remote = new FakeSmtpServer();
        dns.Mx["far.example"] = [(10, "mx.far.example")];
        dns.A["mx.far.example"] = System.Net.IPAddress.Loopback;
        Dictionary<string, string> Env2(string region)
        {
            var env = Env(region);
            env["GRAINMAIL_DNS"] = $"127.0.0.1:{dns.Port}";
            env["GRAINMAIL_SMTP_OUT_PORT"] = remote.Port.ToString();
            // Mail leaves from Beijing's addresses while Beijing is up, from Hangzhou's otherwise.
            env["GrainMail__OutboundLinks__0__Name"] = "direct-beijing";
            env["GrainMail__OutboundLinks__0__Kind"] = "Direct";
            env["GrainMail__OutboundLinks__0__Region"] = "beijing";
            env["GrainMail__OutboundLinks__1__Name"] = "direct-hangzhou";
            env["GrainMail__OutboundLinks__1__Kind"] = "Direct";
            env["GrainMail__OutboundLinks__1__Region"] = "hangzhou";
            return env;
        }
        var cs = await pg.NewDatabaseAsync("egress");
        var dir = Path.Combine(pg.Root, "egress-" + Guid.NewGuid().ToString("N")[..8]);
        var beijing = await HostProcess.StartAsync(cs, Path.Combine(dir, "bj"), HostProcess.Ports.Free(), extraEnvironment: Env2("beijing"));
        var hzPorts = HostProcess.Ports.Free();
        await using var hangzhou = await HostProcess.StartAsync(cs, Path.Combine(dir, "hz"), hzPorts, extraEnvironment: Env2("hangzhou"));
        try
        {
            (await hangzhou.Http.PostAsJsonAsync("/api/v1/domains", new { name = "home.test", homeRegion = "hangzhou" })).EnsureSuccessStatusCode();
            (await hangzhou.Http.PostAsJsonAsync("/api/v1/domains/home.test/accounts", new { localPart = "sam", password = "correct horse battery" })).EnsureSuccessStatusCode();

            Task SendAsync(string subject) => TestMail.SubmitAsync(hzPorts.Submissions, "sam@home.test", "correct horse battery", "pat@far.example", subject);
            async Task<string?> LastLinkAsync(int count)
            {
                await Eventually.Until(() => remote.Received.Count >= count, TimeSpan.FromSeconds(60), $"{count} message(s) at the remote");
                var entries = await Eventually.Value(
                    async () => (await hangzhou.Http.GetFromJsonAsync<JsonElement>("/api/v1/accounts/sam@home.test/sent-log")).EnumerateArray().ToList(),
                    e => e.Count >= count, TimeSpan.FromSeconds(60), $"{count} line(s) in the send log", poll: TimeSpan.FromMilliseconds(200));
                return entries[0].GetProperty("link").GetString();
            }

            await SendAsync("while Beijing is up");
            Assert.Equal("direct-beijing", await LastLinkAsync(1));
            var placed = await hangzhou.Http.GetFromJsonAsync<JsonElement>("/api/v1/outbound/far.example/placement");
            Assert.Equal("beijing", placed.GetProperty("region").GetString());

            await beijing.KillAsync();
            await SendAsync("while Beijing is dark");
            Assert.Equal("direct-hangzhou", await LastLinkAsync(2));
            placed = await hangzhou.Http.GetFromJsonAsync<JsonElement>("/api/v1/outbound/far.example/placement");
            Assert.Equal("hangzhou", placed.GetProperty("region").GetString());
            Assert.Equal(2, remote.Received.Count);

            // Beijing returns: the route moves back when idle (checked every 15 s).
            await beijing.DisposeAsync();
            beijing = await HostProcess.StartAsync(cs, Path.Combine(dir, "bj2"), HostProcess.Ports.Free(), extraEnvironment: Env2("beijing"));
            var region = await Eventually.Value(
                async () => (await hangzhou.Http.GetFromJsonAsync<JsonElement>("/api/v1/outbound/far.example/placement")).GetProperty("region").GetString(),
                r => r == "beijing", TimeSpan.FromSeconds(60), "the far.example route back in Beijing", poll: TimeSpan.FromSeconds(1));
            Assert.Equal("beijing", region);
        }
        finally
        {
            await beijing.DisposeAsync();
        }
    }

    [Fact]
    public async Task A_gateway_process_without_database_or_master_key_serves_SMTP_and_IMAP_with_IDLE()
    {
        var cs = await pg.NewDatabaseAsync("gatewayrole");
        var dir = Path.Combine(pg.Root, "gatewayrole-" + Guid.NewGuid().ToString("N")[..8]);
        var siloPorts = HostProcess.Ports.Free();
        await using var silo = await HostProcess.StartAsync(cs, Path.Combine(dir, "silo"), siloPorts, extraEnvironment: Env("hangzhou", "silo"));
        var ports = HostProcess.Ports.Free();
        // The gateway gets the silos' gateway endpoint and nothing else: no database, no master key.
        var gatewayEnv = Env("hangzhou", "gateway");
        gatewayEnv.Remove("GRAINMAIL_MASTER_KEY");
        gatewayEnv["GRAINMAIL_DB"] = "";
        gatewayEnv["GRAINMAIL_SILOS"] = $"localhost:{siloPorts.Gateway}";
        await using var gateway = await HostProcess.StartAsync(cs, Path.Combine(dir, "gw"), ports, extraEnvironment: gatewayEnv);
        Assert.False(File.Exists(Path.Combine(dir, "gw", "master.key")));
        Assert.False(Directory.Exists(Path.Combine(dir, "gw", "pg")));
        (await gateway.Http.PostAsJsonAsync("/api/v1/domains", new { name = "gw.test", homeRegion = "hangzhou" })).EnsureSuccessStatusCode();
        (await gateway.Http.PostAsJsonAsync("/api/v1/domains/gw.test/accounts", new { localPart = "ida", password = "correct horse battery" })).EnsureSuccessStatusCode();

        using var imap = new ImapClient();
        await imap.ConnectAsync("127.0.0.1", ports.Imap, SecureSocketOptions.None);
        await imap.AuthenticateAsync("ida@gw.test", "correct horse battery");
        await imap.Inbox.OpenAsync(FolderAccess.ReadWrite);
        Assert.Equal(0, imap.Inbox.Count);
        var arrived = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        imap.Inbox.CountChanged += (_, _) => arrived.TrySetResult();
        using var done = new CancellationTokenSource();
        var idle = imap.IdleAsync(done.Token);

        await TestMail.SendToMxAsync(ports.Mx, "ida@gw.test", "through the gateway process", "hello from a separate gateway");
        // The mailbox grain's notice reaches the session through the client's observer.
        await arrived.Task.WaitAsync(TimeSpan.FromSeconds(20));
        await done.CancelAsync();
        await idle;
        Assert.Equal(1, imap.Inbox.Count);
        var read = await imap.Inbox.GetMessageAsync(0);
        Assert.Equal("through the gateway process", read.Subject);
        Assert.Equal("hello from a separate gateway", read.TextBody?.Trim());
        await imap.DisconnectAsync(true);
    }
}

/// <summary>The failover drill's short version: real processes, a PostgreSQL pair, SIGKILL of a region.</summary>
public sealed class FailoverDrillTests
{
    [Fact]
    public async Task Losing_Beijing_loses_no_acknowledged_message_and_duplicates_none()
    {
        var root = Path.GetDirectoryName(Path.GetDirectoryName(Path.GetDirectoryName(HostProcess.SiloDll())))!;
        while (!File.Exists(Path.Combine(root, "Cluster.sln"))) root = Path.GetDirectoryName(root)!;
        var psi = new System.Diagnostics.ProcessStartInfo("bash", [Path.Combine(root, "tests", "chaos", "two-region-failover.sh"), "--short"])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        // Built by the test run already.
        psi.Environment["GRAINMAIL_DRILL_NO_BUILD"] = "1";
        using var p = System.Diagnostics.Process.Start(psi)!;
        var output = p.StandardOutput.ReadToEndAsync();
        var error = p.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(8));
        await p.WaitForExitAsync(timeout.Token);
        var text = await output;
        // The drill's timeline and summary in the test's output (shown with -showliveoutput, and kept by CI's reports).
        TestContext.Current.TestOutputHelper?.WriteLine(text);
        var summary = text.Split('\n').LastOrDefault(l => l.StartsWith("acknowledged=", StringComparison.Ordinal));
        Assert.True(summary is not null, $"no summary line; exit {p.ExitCode}\n{text}\n{await error}");
        var fields = summary!.Split(' ').Select(f => f.Split('=')).ToDictionary(f => f[0], f => double.Parse(f[1], System.Globalization.CultureInfo.InvariantCulture));
        Assert.True(fields["acknowledged"] > 0, summary);
        Assert.True(fields["lost"] == 0, summary + "\n" + text);
        Assert.True(fields["duplicated"] == 0, summary + "\n" + text);
        Assert.True(fields["failback_s"] >= 0, "Beijing's grains did not go home\n" + text);
        Assert.Equal(0, p.ExitCode);
    }
}

using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Text.Json;
using GrainMail.Chaos;
using MailKit;
using MailKit.Net.Imap;
using MailKit.Net.Smtp;
using MailKit.Search;
using MimeKit;

// The two-region failover drill with real processes (see tests/chaos/two-region-failover.sh):
// a PostgreSQL primary (beijing) and synchronous standby (hangzhou), two silos per region, two
// gateway processes, a domain homed in each region, steady SMTP load that records every 250.
// Then Beijing goes dark (both silos and its PostgreSQL, SIGKILL), the standby is promoted,
// the load goes on; Beijing comes back as the new standby and its grains go home. Ends with
//   acknowledged=N lost=L duplicated=D smtp_recovery_s=S imap_recovery_s=I failback_s=F
var opts = DrillOptions.Parse(args);
var root = FindRoot();
var work = opts.Dir ?? Path.Combine(Path.GetTempPath(), $"grainmail-drill-{Environment.ProcessId}");
if (Directory.Exists(work)) Directory.Delete(work, recursive: true);
Directory.CreateDirectory(work);
File.SetUnixFileMode(work, (UnixFileMode)0b111_101_101);
var pgPair = Path.Combine(root, "tests", "chaos", "pg-pair.sh");
var siloDll = Path.Combine(root, "silos", "GrainMail.Silo", "bin", "Release", "net10.0", "GrainMail.Silo.dll");
var clock = Stopwatch.StartNew();
void Say(string what) => Console.WriteLine($"[{clock.Elapsed.TotalSeconds,6:F1}s {DateTime.UtcNow:HH:mm:ss.fff}] {what}");

var ports = new PortPool();
var pgDir = Path.Combine(work, "pg");
var (pgA, pgB) = (ports.Next(), ports.Next());
Sh(pgPair, "setup", pgDir, pgA.ToString(), pgB.ToString());
var db = Sh(pgPair, "url", pgDir).Trim();
Say($"PostgreSQL pair: beijing primary :{pgA}, hangzhou synchronous standby :{pgB}");

const string Token = "drill-admin-token";
var masterKey = Convert.ToHexString(System.Security.Cryptography.RandomNumberGenerator.GetBytes(32));
Dictionary<string, string> Common(string name, string region, string role) => new()
{
    ["GRAINMAIL_DB"] = db,
    ["GRAINMAIL_MASTER_KEY"] = masterKey,
    ["GRAINMAIL_ADMIN_TOKEN"] = Token,
    ["GRAINMAIL_DATA"] = Path.Combine(work, name),
    ["GRAINMAIL_HTTP"] = $"http://127.0.0.1:{ports.Next()}",
    ["GRAINMAIL_REGION"] = region,
    ["GRAINMAIL_ROLE"] = role,
    ["GrainMail__AllowPlaintextAuth"] = "true",
    // The drill's mail comes from senders no resolver here can check: inbound trust stays off.
    ["GRAINMAIL_TRUST"] = "false",
    ["Logging__LogLevel__Default"] = "Warning",
    ["Logging__LogLevel__GrainMail"] = "Information",
    // Wall-clock times in every process's log, to line its events up with the drill's timeline.
    // (FormatterName set: without it the console logger ignores FormatterOptions for its obsolete settings.)
    ["Logging__Console__FormatterName"] = "simple",
    ["Logging__Console__FormatterOptions__TimestampFormat"] = "HH:mm:ss.fff ",
    ["Logging__Console__FormatterOptions__UseUtcTimestamp"] = "true",
};
DrillProcess Silo(string name, string region)
{
    var env = Common(name, region, "silo");
    env["GRAINMAIL_SILO_PORT"] = ports.Next().ToString();
    env["GRAINMAIL_GATEWAY_PORT"] = ports.Next().ToString();
    return new DrillProcess(name, siloDll, work, env);
}
var gatewayPorts = new List<(int Smtp, int Imap)>();
DrillProcess Gateway(string name, string region)
{
    var env = Common(name, region, "gateway");
    var (smtp, imap) = (ports.Next(), ports.Next());
    gatewayPorts.Add((smtp, imap));
    env["GRAINMAIL_SMTP_MX_PORT"] = smtp.ToString();
    env["GRAINMAIL_IMAP_PORT"] = imap.ToString();
    foreach (var off in new[] { "GRAINMAIL_SMTP_SUBMISSION_PORT", "GRAINMAIL_SMTP_SUBMISSIONS_PORT", "GRAINMAIL_IMAPS_PORT", "GRAINMAIL_POP3_PORT", "GRAINMAIL_POP3S_PORT", "GRAINMAIL_HTTPS_PORT", "GRAINMAIL_MANAGESIEVE_PORT" })
        env[off] = "0";
    return new DrillProcess(name, siloDll, work, env);
}

var bj = new[] { Silo("silo-beijing-1", "beijing"), Silo("silo-beijing-2", "beijing") };
var hz = new[] { Silo("silo-hangzhou-1", "hangzhou"), Silo("silo-hangzhou-2", "hangzhou") };
var gateways = new[] { Gateway("gateway-1", "beijing"), Gateway("gateway-2", "hangzhou") };
var all = bj.Concat(hz).Concat(gateways).ToList();
using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(30) };
http.DefaultRequestHeaders.Authorization = new("Bearer", Token);
var exit = 1;
try
{
    // The first silo applies the migrations; the rest start together.
    bj[0].Start();
    await bj[0].WaitReadyAsync(http, TimeSpan.FromSeconds(120));
    foreach (var p in all.Skip(1)) p.Start();
    foreach (var p in all.Skip(1)) await p.WaitReadyAsync(http, TimeSpan.FromSeconds(180));
    Say("4 silos (2 beijing, 2 hangzhou) and 2 gateway processes ready");

    var api = $"http://127.0.0.1:{gateways[0].HttpPort}/api/v1";
    var accounts = new List<string>();
    foreach (var (domain, region) in new[] { ("bj.drill.test", "beijing"), ("hz.drill.test", "hangzhou") })
    {
        (await http.PostAsJsonAsync($"{api}/domains", new { name = domain, homeRegion = region })).EnsureSuccessStatusCode();
        for (var i = 0; i < opts.AccountsPerDomain; i++)
        {
            (await http.PostAsJsonAsync($"{api}/domains/{domain}/accounts", new { localPart = $"u{i}", password = DrillOptions.Password })).EnsureSuccessStatusCode();
            accounts.Add($"u{i}@{domain}");
        }
    }
    var bjAccounts = accounts.Where(a => a.EndsWith("@bj.drill.test", StringComparison.Ordinal)).ToList();
    // Silos learn a new domain's home region within 5 s and move early placements home within
    // another 15: the drill starts from a cluster at rest, every grain at home.
    var homeDeadline = clock.Elapsed + TimeSpan.FromSeconds(45);
    List<(string Account, bool AtHome)> home;
    while (true)
    {
        home = await PlacementAsync(http, api, accounts);
        if (home.All(p => p.AtHome) || clock.Elapsed > homeDeadline) break;
        await Task.Delay(1000);
    }
    Say($"placement: {home.Count(p => p.AtHome)}/{home.Count} accounts' grains in their home region");

    var load = new Load(gatewayPorts, accounts, opts, clock);
    var imap = new ImapProbe(gatewayPorts, bjAccounts[0], clock);
    using var stop = new CancellationTokenSource();
    var loadTask = load.RunAsync(stop.Token);
    var probeTask = imap.RunAsync(stop.Token);
    await Task.Delay(TimeSpan.FromSeconds(opts.Before)); // drill pacing: load runs undisturbed for the "before" phase

    Say($"Beijing goes dark: SIGKILL both Beijing silos and the Beijing PostgreSQL ({load.Acknowledged} acknowledged so far)");
    var killedAt = clock.Elapsed;
    // The database first, so that commits are in flight when it goes (the silos follow at once).
    Sh(pgPair, "kill", pgDir, "beijing");
    foreach (var p in bj) p.Kill();
    await Task.Delay(TimeSpan.FromSeconds(opts.DetectDelay)); // drill pacing: the time an operator (or monitor) needs to notice
    Sh(pgPair, "promote", pgDir, "hangzhou");
    var promotedAt = clock.Elapsed;
    Say("hangzhou PostgreSQL promoted");
    await Task.Delay(TimeSpan.FromSeconds(opts.Outage)); // drill pacing: how long Beijing stays dark

    Say($"Beijing returns: its PostgreSQL rejoins as the standby, its silos start ({load.Acknowledged} acknowledged so far)");
    Sh(pgPair, "rejoin", pgDir, "beijing");
    foreach (var p in bj) p.Start();
    foreach (var p in bj) await p.WaitReadyAsync(http, TimeSpan.FromSeconds(180));
    var backAt = clock.Elapsed;
    double failback = -1;
    var failbackDeadline = clock.Elapsed + TimeSpan.FromSeconds(opts.FailbackLimit);
    while (clock.Elapsed < failbackDeadline)
    {
        var placed = await PlacementAsync(http, api, bjAccounts);
        if (placed.All(p => p.AtHome))
        {
            failback = (clock.Elapsed - backAt).TotalSeconds;
            break;
        }
        await Task.Delay(1000);
    }
    Say(failback >= 0 ? $"Beijing's grains are home {failback:F1} s after its silos were ready" : "Beijing's grains did not all go home");
    await Task.Delay(TimeSpan.FromSeconds(opts.After)); // drill pacing: load goes on after failback
    await stop.CancelAsync();
    await Task.WhenAll(loadTask, probeTask);

    Say($"load stopped: {load.Acknowledged} acknowledged, {load.Attempts.Count(a => !a.Ok)} failed attempts; checking every mailbox over IMAP");
    Timeline(load.Attempts, imap.Attempts, killedAt, promotedAt, backAt);
    var (lost, duplicated) = await Verify.RunAsync(gatewayPorts[1], load.Acks, TimeSpan.FromSeconds(opts.DrainLimit), Say);
    var smtpRecovery = Recovery(load.Attempts, killedAt, promotedAt, backAt);
    var imapRecovery = Recovery(imap.Attempts, killedAt, promotedAt, backAt);
    // The IMAP attempts that make the recovery figure: the last bad ones that began in the outage.
    foreach (var a in imap.Attempts.Where(a => a.Start >= killedAt && a.Start < backAt && a.Bad).OrderBy(a => a.End).TakeLast(5))
        Say($"imap probe {(a.Start - promotedAt).TotalSeconds:F1}..{(a.End - promotedAt).TotalSeconds:F1} s after the promotion " +
            $"(Beijing back at {(backAt - promotedAt).TotalSeconds:F1} s): {(a.Ok ? "slow" : "failed")}, {a.Detail}");
    await Task.WhenAll(all.Select(p => p.StopAsync()));
    // The silos' submitters log a broken commit's outcome; the gateways log what they learnt of a
    // submission whose silo call failed, and their retried grain calls.
    var logs = all.Select(g => Path.Combine(work, g.Name + ".log")).Where(File.Exists).SelectMany(File.ReadLines).ToList();
    int Count(string what) => logs.Count(l => l.Contains(what, StringComparison.Ordinal));
    Say($"commits whose connection broke: {Count("had committed: accepted")} had committed (250), {Count("had not committed: refused")} had not (451); " +
        $"submissions whose silo call failed: {Count("submission had committed")} had committed (250), {Count("submission had not committed")} had not (451), " +
        $"{Count("submission outcome unknown")} unknown; grain calls retried across the failure: {Count("retrying while the cluster recovers")}");
    Console.WriteLine($"acknowledged={load.Acknowledged} lost={lost} duplicated={duplicated} smtp_recovery_s={smtpRecovery:F1} imap_recovery_s={imapRecovery:F1} failback_s={failback:F1}");
    exit = lost == 0 && duplicated == 0 && failback >= 0 ? 0 : 1;
}
catch (Exception e)
{
    Console.Error.WriteLine("drill failed: " + e);
    exit = 2;
}
finally
{
    await Task.WhenAll(all.Select(p => p.StopAsync()));
    try
    {
        Sh(pgPair, "stop", pgDir);
    }
    catch (InvalidOperationException)
    {
        // Already down.
    }
    if (exit == 0 && !opts.Keep) Directory.Delete(work, recursive: true);
    else Console.Error.WriteLine("drill directory (logs) kept: " + work);
}
return exit;

// Seconds from the promotion until the service worked again: the end of the last attempt that
// began during the outage and failed or took longer than 2 s (0 when none ended after the promotion).
static double Recovery(IEnumerable<Attempt> attempts, TimeSpan killed, TimeSpan promoted, TimeSpan back)
{
    var lastBad = attempts.Where(a => a.Start >= killed && a.Start < back && a.Bad).Select(a => a.End).DefaultIfEmpty(TimeSpan.Zero).Max();
    return Math.Max(0, (lastBad - promoted).TotalSeconds);
}

// Per 5 s: SMTP 250s, failed SMTP attempts, slowest SMTP answer, IMAP probes ok/failed.
static void Timeline(IEnumerable<Attempt> smtp, IEnumerable<Attempt> imap, TimeSpan killed, TimeSpan promoted, TimeSpan back)
{
    var s = smtp.ToList();
    var i = imap.ToList();
    var end = s.Concat(i).Select(a => a.End).DefaultIfEmpty().Max();
    Console.WriteLine("   window      smtp 250  smtp fail  slowest s  imap ok  imap fail");
    for (var t = TimeSpan.Zero; t < end; t += TimeSpan.FromSeconds(5))
    {
        var next = t + TimeSpan.FromSeconds(5);
        bool In(Attempt a) => a.End >= t && a.End < next;
        var w = s.Where(In).ToList();
        var iw = i.Where(In).ToList();
        if (w.Count + iw.Count == 0 && !s.Concat(i).Any(a => a.End < t)) continue;
        var mark = killed >= t && killed < next ? "  <- Beijing dark" : promoted >= t && promoted < next ? "  <- standby promoted" : back >= t && back < next ? "  <- Beijing back" : "";
        Console.WriteLine($"  {t.TotalSeconds,5:F0}-{next.TotalSeconds,-5:F0} {w.Count(a => a.Ok),9} {w.Count(a => !a.Ok),10} {w.Select(a => (a.End - a.Start).TotalSeconds).DefaultIfEmpty().Max(),10:F1} {iw.Count(a => a.Ok),8} {iw.Count(a => !a.Ok),10}{mark}");
    }
}

static async Task<List<(string Account, bool AtHome)>> PlacementAsync(HttpClient http, string api, IEnumerable<string> accounts)
{
    var result = new List<(string, bool)>();
    foreach (var a in accounts)
    {
        try
        {
            var p = await http.GetFromJsonAsync<JsonElement>($"{api}/accounts/{a}/placement");
            var homeRegion = p.GetProperty("homeRegion").GetString();
            var atHome = new[] { "domain", "account", "mailbox" }.All(g => p.GetProperty(g).GetProperty("region").GetString() == homeRegion);
            result.Add((a, atHome));
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException or JsonException)
        {
            result.Add((a, false));
        }
    }
    return result;
}

static string FindRoot()
{
    var dir = new DirectoryInfo(AppContext.BaseDirectory);
    while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Cluster.sln"))) dir = dir.Parent;
    return dir?.FullName ?? throw new InvalidOperationException("Cluster.sln not found");
}

static string Sh(string script, params string[] args)
{
    var psi = new ProcessStartInfo("bash", [script, .. args]) { RedirectStandardOutput = true, RedirectStandardError = true };
    using var p = Process.Start(psi)!;
    var output = p.StandardOutput.ReadToEndAsync();
    var error = p.StandardError.ReadToEndAsync();
    if (!p.WaitForExit(180_000))
    {
        p.Kill(true);
        throw new InvalidOperationException($"{script} {string.Join(' ', args)} did not finish");
    }
    if (p.ExitCode != 0) throw new InvalidOperationException($"{script} {string.Join(' ', args)} failed: {error.Result}");
    return output.Result;
}

namespace GrainMail.Chaos
{
    internal sealed record DrillOptions(double Before, double DetectDelay, double Outage, double After, int Senders, int AccountsPerDomain,
        double FailbackLimit, double DrainLimit, string? Dir, bool Keep, int IntervalMs = 20)
    {
        public const string Password = "drill-password-1";

        // The defaults are the long run; --short is the CI run.
        public static DrillOptions Parse(string[] args)
        {
            var o = new DrillOptions(Before: 30, DetectDelay: 2, Outage: 45, After: 20, Senders: 4, AccountsPerDomain: 4,
                FailbackLimit: 120, DrainLimit: 120, Dir: null, Keep: false);
            for (var i = 0; i < args.Length; i++)
            {
                string Next() => args[++i];
                o = args[i] switch
                {
                    "--short" => o with { Before = 10, Outage = 15, After = 5, Senders = 3, AccountsPerDomain = 2 },
                    "--before" => o with { Before = double.Parse(Next()) },
                    "--outage" => o with { Outage = double.Parse(Next()) },
                    "--after" => o with { After = double.Parse(Next()) },
                    "--senders" => o with { Senders = int.Parse(Next()) },
                    "--accounts" => o with { AccountsPerDomain = int.Parse(Next()) },
                    "--dir" => o with { Dir = Next() },
                    "--keep" => o with { Keep = true },
                    _ => throw new ArgumentException("unknown option " + args[i]),
                };
            }
            return o;
        }
    }

    /// <summary>Free loopback ports below the ephemeral range, never the same twice.</summary>
    internal sealed class PortPool
    {
        private int _next = 20000 + Environment.ProcessId % 6000;

        public int Next()
        {
            while (true)
            {
                var port = _next++;
                try
                {
                    using var l = new TcpListener(IPAddress.Loopback, port);
                    l.Start();
                    return port;
                }
                catch (SocketException)
                {
                    // Taken.
                }
            }
        }
    }
}

using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;

namespace GrainMail.Tests.Infrastructure;

/// <summary>
/// The real GrainMail host (silos/GrainMail.Silo) as a child process on loopback ports, against
/// a given database: what an operator runs, reached over real HTTP.
/// </summary>
public sealed class HostProcess : IAsyncDisposable
{
    public const string Token = "test-admin-token-7f3a";

    private readonly Process _process;
    private readonly Task _drain;

    private HostProcess(Process process, Task drain, int httpPort)
    {
        _process = process;
        _drain = drain;
        BaseUrl = $"http://127.0.0.1:{httpPort}";
        Http = new HttpClient { BaseAddress = new Uri(BaseUrl), Timeout = TimeSpan.FromSeconds(60) };
        Http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", Token);
    }

    public string BaseUrl { get; }

    /// <summary>The host's standard output (and, with ".err", standard error).</summary>
    public string LogPath { get; private init; } = "";

    public HttpClient Http { get; }

    public bool HasExited => _process.HasExited;

    public static string SiloDll()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        var config = AppContext.BaseDirectory.Contains("/Release/", StringComparison.Ordinal) ? "Release" : "Debug";
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Cluster.sln"))) dir = dir.Parent;
        if (dir is null) throw new InvalidOperationException("Cluster.sln not found above " + AppContext.BaseDirectory);
        return Path.Combine(dir.FullName, "silos", "GrainMail.Silo", "bin", config, "net10.0", "GrainMail.Silo.dll");
    }

    private static readonly HashSet<int> HandedOut = [];
    private static readonly Lock PortLock = new();

    /// <summary>
    /// A port for a host's listener. Taken below the kernel's ephemeral range (32768–60999 here),
    /// where outgoing connections of the tests and hosts take their local ports, and never the
    /// same one twice in a run: a port "free" at the moment of the check could otherwise be taken
    /// by a client socket or another host before the host under test binds it.
    /// </summary>
    public static int FreePort()
    {
        lock (PortLock)
        {
            var start = 20000 + Environment.ProcessId % 8000;
            for (var i = 0; i < 12000; i++)
            {
                var port = 20000 + (start - 20000 + i) % 12000;
                if (HandedOut.Contains(port)) continue;
                try
                {
                    using var l = new TcpListener(IPAddress.Loopback, port);
                    l.Start();
                }
                catch (SocketException)
                {
                    continue;
                }
                HandedOut.Add(port);
                return port;
            }
        }
        throw new InvalidOperationException("no free port between 20000 and 32000");
    }

    public sealed record Ports(int Http, int Silo, int Gateway, int Mx, int Submission, int Submissions, int Imap = 0, int Imaps = 0, int Pop3 = 0, int Pop3s = 0)
    {
        public static Ports Free() => new(FreePort(), FreePort(), FreePort(), FreePort(), FreePort(), FreePort(), FreePort(), FreePort(), FreePort(), FreePort());
    }

    public Ports Listening { get; private init; } = null!;

    public static async Task<HostProcess> StartAsync(string connectionString, string dataDir, Ports ports, bool waitReady = true,
        IReadOnlyDictionary<string, string>? extraEnvironment = null)
    {
        Directory.CreateDirectory(dataDir);
        var psi = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        psi.ArgumentList.Add(SiloDll());
        psi.Environment["GRAINMAIL_DB"] = connectionString;
        psi.Environment["GRAINMAIL_DATA"] = dataDir;
        psi.Environment["GRAINMAIL_HTTP"] = $"http://127.0.0.1:{ports.Http}";
        psi.Environment["GRAINMAIL_SILO_PORT"] = ports.Silo.ToString();
        psi.Environment["GRAINMAIL_GATEWAY_PORT"] = ports.Gateway.ToString();
        psi.Environment["GRAINMAIL_SMTP_MX_PORT"] = ports.Mx.ToString();
        psi.Environment["GRAINMAIL_SMTP_SUBMISSION_PORT"] = ports.Submission.ToString();
        psi.Environment["GRAINMAIL_SMTP_SUBMISSIONS_PORT"] = ports.Submissions.ToString();
        psi.Environment["GRAINMAIL_IMAP_PORT"] = ports.Imap.ToString();
        psi.Environment["GRAINMAIL_IMAPS_PORT"] = ports.Imaps.ToString();
        psi.Environment["GRAINMAIL_POP3_PORT"] = ports.Pop3.ToString();
        psi.Environment["GRAINMAIL_POP3S_PORT"] = ports.Pop3s.ToString();
        psi.Environment["GrainMail__HostName"] = "mx.grainmail.test";
        // No resolver answers in the test machine: inbound trust checks (SPF, DKIM, DMARC, blocklists)
        // would all end in DNS errors. Tests of the checks turn them on with their own DNS server.
        psi.Environment["GRAINMAIL_TRUST"] = "false";
        // Off unless a test asks for it: hosts of parallel tests cannot all have the default 8443.
        psi.Environment["GRAINMAIL_HTTPS_PORT"] = "0";
        // Likewise ManageSieve's default 4190.
        psi.Environment["GRAINMAIL_MANAGESIEVE_PORT"] = "0";
        if (extraEnvironment is not null)
        {
            foreach (var (k, v) in extraEnvironment) psi.Environment[k] = v;
        }
        psi.Environment["GRAINMAIL_ADMIN_TOKEN"] = Token;
        psi.Environment["Logging__LogLevel__Default"] = "Warning";
        psi.Environment["GrainMail__PasswordHashMemoryKiB"] = "1024";
        psi.Environment["GrainMail__PasswordHashIterations"] = "1";
        psi.Environment["GrainMail__QueueVisibilityTimeout"] = "00:00:20";
        var process = Process.Start(psi)!;
        var log = Path.Combine(dataDir, $"host-{process.Id}.log");
        var drain = Task.WhenAll(Drain(process.StandardOutput, log), Drain(process.StandardError, log + ".err"));
        var host = new HostProcess(process, drain, ports.Http) { Listening = ports, LogPath = log };
        if (waitReady) await host.WaitReadyAsync(TimeSpan.FromSeconds(90));
        return host;
    }

    public async Task WaitReadyAsync(TimeSpan timeout)
    {
        await Eventually.Until(async () =>
        {
            if (_process.HasExited)
            {
                await _drain;
                // What the host said last is what explains an exit at start-up.
                string Tail(string path) => File.Exists(path) ? string.Join('\n', File.ReadLines(path).TakeLast(30)) : "";
                throw new InvalidOperationException($"host exited with {_process.ExitCode}\n{Tail(LogPath)}\n{Tail(LogPath + ".err")}");
            }
            try
            {
                return (await Http.GetAsync("/readyz")).IsSuccessStatusCode;
            }
            catch (HttpRequestException)
            {
                return false; // not listening yet
            }
        }, timeout, $"the host on port {Listening.Http} to be ready", poll: TimeSpan.FromMilliseconds(250));
    }

    /// <summary>
    /// For a host expected to stop by itself (a start refused): its exit code and everything it
    /// wrote, standard output and standard error together.
    /// </summary>
    public async Task<(int ExitCode, string Output)> WaitForExitAsync(TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        await _process.WaitForExitAsync(cts.Token);
        await _drain;
        string Read(string path) => File.Exists(path) ? File.ReadAllText(path) : "";
        return (_process.ExitCode, Read(LogPath) + Read(LogPath + ".err"));
    }

    /// <summary>SIGKILL: no shutdown code runs, as in a crash or an OOM kill.</summary>
    public async Task KillAsync()
    {
        if (!_process.HasExited) _process.Kill(entireProcessTree: true);
        await _process.WaitForExitAsync();
        await _drain;
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            // SIGTERM first, as an operator would; then make sure.
            Process.Start("kill", ["-TERM", _process.Id.ToString()])?.WaitForExit();
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            try
            {
                await _process.WaitForExitAsync(cts.Token);
            }
            catch (OperationCanceledException)
            {
                _process.Kill(entireProcessTree: true);
            }
        }
        await _drain;
        Http.Dispose();
        _process.Dispose();
    }

    private static async Task Drain(StreamReader reader, string path)
    {
        await using var w = new StreamWriter(path, append: true);
        while (await reader.ReadLineAsync() is { } line) await w.WriteLineAsync(line);
    }
}

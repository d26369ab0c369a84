using System.Diagnostics;

namespace GrainMail.Chaos;

/// <summary>One GrainMail host process of the drill (a silo or a gateway), its log in the drill directory.</summary>
internal sealed class DrillProcess(string name, string dll, string logDir, IReadOnlyDictionary<string, string> env)
{
    private Process? _process;

    public string Name { get; } = name;

    public int HttpPort => new Uri(env["GRAINMAIL_HTTP"]).Port;

    public bool Running => _process is { HasExited: false };

    public void Start()
    {
        var psi = new ProcessStartInfo("dotnet", [dll])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var (k, v) in env) psi.Environment[k] = v;
        _process = Process.Start(psi) ?? throw new InvalidOperationException("could not start " + Name);
        var log = new StreamWriter(Path.Combine(logDir, Name + ".log"), append: true) { AutoFlush = true };
        var gate = new Lock();
        void Write(string? line)
        {
            if (line is null) return;
            lock (gate) log.WriteLine(line);
        }
        _process.OutputDataReceived += (_, e) => Write(e.Data);
        _process.ErrorDataReceived += (_, e) => Write(e.Data);
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
    }

    /// <summary>SIGKILL: the datacenter goes dark, nothing is flushed or said goodbye.</summary>
    public void Kill()
    {
        if (_process is { HasExited: false }) _process.Kill(entireProcessTree: true);
        _process?.WaitForExit(10_000);
    }

    public async Task StopAsync()
    {
        if (_process is not { HasExited: false }) return;
        Process.Start("kill", ["-TERM", _process.Id.ToString()])?.WaitForExit();
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        try
        {
            await _process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            Kill();
        }
    }

    public async Task WaitReadyAsync(HttpClient http, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (DateTime.UtcNow < deadline)
        {
            if (_process is { HasExited: true }) throw new InvalidOperationException($"{Name} exited with {_process.ExitCode}; see {Name}.log");
            try
            {
                using var r = await http.GetAsync($"http://127.0.0.1:{HttpPort}/readyz");
                if (r.IsSuccessStatusCode) return;
            }
            catch (HttpRequestException)
            {
                // Not listening yet.
            }
            catch (TaskCanceledException)
            {
                // Slow to answer while it starts.
            }
            await Task.Delay(250);
        }
        throw new TimeoutException($"{Name} not ready after {timeout.TotalSeconds} s; see {Name}.log");
    }
}

using System.Diagnostics;
using System.Net.Sockets;
using System.Text;
using GrainMail.TestSupport;

namespace GrainMail.Tests.Infrastructure;

/// <summary>
/// A clamd of the tests' own (Debian's clamav-daemon), in the foreground on a Unix socket in a temp
/// directory, with a signature database made here by sigtool: no signature can be downloaded. The
/// database holds the EICAR test string (an .ndb body signature from <c>sigtool --hex-dump</c>) and the
/// MD5 of clamav-testfiles' clam.exe (an .hdb line from <c>sigtool --md5</c>).
/// </summary>
public sealed class ClamdServer : IAsyncDisposable
{
    /// <summary>The EICAR anti-virus test file (its published 68 characters).</summary>
    public const string Eicar = @"X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*";

    public const string EicarSignature = "GrainMail.Test.EICAR";

    public const string ClamExeSignature = "GrainMail.Test.ClamExe";

    public const string ClamExe = "/usr/share/clamav-testfiles/clam.exe";

    /// <summary>clamd's StreamMaxLength here.</summary>
    public const int StreamMaxLength = 100 * 1024;

    private readonly string _directory = Directory.CreateTempSubdirectory("gm-clamd-").FullName;
    private Process? _process;

    public string SocketPath => Path.Combine(_directory, "clamd.sock");

    public ClamdServer()
    {
        var hex = Run("sigtool", "--hex-dump", Eicar).Replace("\n", "", StringComparison.Ordinal).Trim();
        File.WriteAllText(Path.Combine(_directory, "grainmail.ndb"), $"{EicarSignature}:0:*:{hex}\n");
        var md5 = Run("sigtool", $"--md5 {ClamExe}", null).Trim(); // hash:size:clam.exe
        File.WriteAllText(Path.Combine(_directory, "grainmail.hdb"), md5[..md5.LastIndexOf(':')] + ":" + ClamExeSignature + "\n");
        File.WriteAllText(Path.Combine(_directory, "clamd.conf"), $"""
            Foreground yes
            LocalSocket {SocketPath}
            DatabaseDirectory {_directory}
            LogFile {Path.Combine(_directory, "clamd.log")}
            StreamMaxLength {StreamMaxLength}
            IdleTimeout 30
            MaxThreads 4

            """);
    }

    public bool Running => _process is { HasExited: false };

    public async Task StartAsync()
    {
        if (Running) return;
        File.Delete(SocketPath);
        var start = new ProcessStartInfo("clamd", $"-c {Path.Combine(_directory, "clamd.conf")}")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        try
        {
            _process = Process.Start(start)!;
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            throw new InvalidOperationException($"clamd is missing ({e.Message}): install Debian's clamav-daemon (tests/run-tests.sh does)", e);
        }
        _process.OutputDataReceived += (_, _) => { };
        _process.ErrorDataReceived += (_, _) => { };
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
        await Eventually.Until(async () => !Running || await PingAsync(), TimeSpan.FromSeconds(60), "clamd answering PING", poll: TimeSpan.FromMilliseconds(200));
        if (!Running) throw new InvalidOperationException("clamd exited: " + (File.Exists(Path.Combine(_directory, "clamd.log")) ? File.ReadAllText(Path.Combine(_directory, "clamd.log")) : ""));
    }

    /// <summary>Ends clamd at once (as a crash would), leaving its socket file behind.</summary>
    public async Task StopAsync()
    {
        if (_process is null) return;
        if (!_process.HasExited) _process.Kill(entireProcessTree: true);
        await _process.WaitForExitAsync();
        _process.Dispose();
        _process = null;
    }

    private async Task<bool> PingAsync()
    {
        try
        {
            using var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            await socket.ConnectAsync(new UnixDomainSocketEndPoint(SocketPath));
            await socket.SendAsync("zPING\0"u8.ToArray());
            var buffer = new byte[16];
            var n = await socket.ReceiveAsync(buffer);
            return Encoding.ASCII.GetString(buffer, 0, n).StartsWith("PONG", StringComparison.Ordinal);
        }
        catch (SocketException)
        {
            return false;
        }
    }

    private static string Run(string tool, string args, string? stdin) => DebianTool.Run(tool, args, "clamav and clamav-testfiles", stdin: stdin);

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        try
        {
            Directory.Delete(_directory, recursive: true);
        }
        catch (IOException)
        {
            // A leftover temp directory is harmless.
        }
    }
}

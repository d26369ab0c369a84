using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;
using System.Text;

namespace GrainMail.Tests.Infrastructure;

/// <summary>
/// A real host with every TLS listener on (HTTPS, SMTP 465 and STARTTLS, IMAP 993 and STARTTLS,
/// POP3 995 and STLS, ManageSieve) and the security clock shifted through a file, for per-domain
/// certificates, large attachments and the JMAP extras. Restartable on the same ports and database.
/// </summary>
public sealed class JmapExtrasHost : IAsyncLifetime
{
    public const string Password = "correct horse battery";

    public HostProcess Host { get; private set; } = null!;
    public string ConnectionString { get; private set; } = "";
    public int HttpsPort { get; private set; }
    public int ManageSievePort { get; private set; }
    public HostProcess.Ports Ports { get; private set; } = null!;
    public string DataDir { get; private set; } = "";
    private string _clockFile = "";
    private int _writes;
    private TimeSpan _offset;

    public HttpClient Super => Host.Http;

    /// <summary>The node's own (default, self-signed) certificate.</summary>
    public X509Certificate2 DefaultCertificate => X509CertificateLoader.LoadCertificateFromFile(Path.Combine(DataDir, "tls", "cert.pem"));

    public async ValueTask InitializeAsync()
    {
        var pg = (await TestContext.Current.GetFixture<PostgresServer>())!;
        ConnectionString = await pg.NewDatabaseAsync("jmapx");
        HttpsPort = HostProcess.FreePort();
        ManageSievePort = HostProcess.FreePort();
        Ports = HostProcess.Ports.Free();
        DataDir = Path.Combine(pg.Root, $"jmapx-{Guid.NewGuid():N}"[..20]);
        Directory.CreateDirectory(DataDir);
        _clockFile = Path.Combine(DataDir, "clock-offset");
        await File.WriteAllTextAsync(_clockFile, "0");
        Host = await StartAsync();
    }

    private Task<HostProcess> StartAsync() => HostProcess.StartAsync(ConnectionString, DataDir, Ports, extraEnvironment: new Dictionary<string, string>
    {
        ["GRAINMAIL_HTTPS_PORT"] = HttpsPort.ToString(CultureInfo.InvariantCulture),
        ["GRAINMAIL_MANAGESIEVE_PORT"] = ManageSievePort.ToString(CultureInfo.InvariantCulture),
        ["GRAINMAIL_TEST_CLOCK_FILE"] = _clockFile,
    });

    /// <summary>Stops the host (SIGTERM) and starts it again: same data directory, database and ports.</summary>
    public async Task RestartAsync()
    {
        await Host.DisposeAsync();
        Host = await StartAsync();
    }

    public async ValueTask DisposeAsync() => await Host.DisposeAsync();

    public async Task AdvanceClockAsync(TimeSpan by)
    {
        _offset += by;
        await File.WriteAllTextAsync(_clockFile, _offset.TotalSeconds.ToString(CultureInfo.InvariantCulture));
        File.SetLastWriteTimeUtc(_clockFile, new DateTime(2001, 1, 1, 0, 0, 0, DateTimeKind.Utc).AddSeconds(++_writes));
    }

    public async Task<string> NewDomain(string prefix = "x")
    {
        var name = $"{prefix}{Guid.NewGuid():N}"[..12] + ".test";
        var r = await Super.PostAsJsonAsync("/api/v1/domains", new { name });
        Assert.True(r.StatusCode == HttpStatusCode.Created, await r.Content.ReadAsStringAsync());
        return name;
    }

    public async Task<string> NewAccount(string domain, string localPart)
    {
        var r = await Super.PostAsJsonAsync($"/api/v1/domains/{domain}/accounts", new { localPart, password = Password, displayName = localPart });
        Assert.True(r.StatusCode == HttpStatusCode.Created, await r.Content.ReadAsStringAsync());
        return $"{localPart}@{domain}";
    }

    /// <summary>An HTTPS client (any certificate accepted: these tests check certificates themselves) with Basic credentials.</summary>
    public HttpClient User(string? user = null)
    {
        var handler = new SocketsHttpHandler
        {
            SslOptions = { RemoteCertificateValidationCallback = (_, _, _, _) => true },
        };
        var http = new HttpClient(handler) { BaseAddress = new Uri($"https://127.0.0.1:{HttpsPort}"), Timeout = TimeSpan.FromSeconds(120) };
        if (user is not null) http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes($"{user}:{Password}")));
        return http;
    }
}

/// <summary>How a TLS client gets to its handshake on a listener.</summary>
public enum TlsStart
{
    Implicit,
    Smtp,
    Imap,
    Pop3,
    ManageSieve,
}

/// <summary>A TLS client that connects, upgrades as its protocol says, asks for a server name by SNI, and reports the certificate it got.</summary>
public static class TlsProbe
{
    public static async Task<X509Certificate2> PresentedAsync(int port, string? serverName, TlsStart start)
    {
        using var tcp = new TcpClient();
        await tcp.ConnectAsync(IPAddress.Loopback, port);
        var stream = tcp.GetStream();
        switch (start)
        {
            case TlsStart.Smtp:
                await Until(stream, l => l.StartsWith("220 ", StringComparison.Ordinal));
                await Send(stream, "EHLO probe.test");
                await Until(stream, l => l.StartsWith("250 ", StringComparison.Ordinal));
                await Send(stream, "STARTTLS");
                await Until(stream, l => l.StartsWith("220 ", StringComparison.Ordinal));
                break;
            case TlsStart.Imap:
                await Until(stream, l => l.StartsWith("* OK", StringComparison.Ordinal));
                await Send(stream, "a STARTTLS");
                await Until(stream, l => l.StartsWith("a OK", StringComparison.Ordinal));
                break;
            case TlsStart.Pop3:
                await Until(stream, l => l.StartsWith("+OK", StringComparison.Ordinal));
                await Send(stream, "STLS");
                await Until(stream, l => l.StartsWith("+OK", StringComparison.Ordinal));
                break;
            case TlsStart.ManageSieve:
                await Until(stream, l => l.StartsWith("OK", StringComparison.Ordinal));
                await Send(stream, "STARTTLS");
                await Until(stream, l => l.StartsWith("OK", StringComparison.Ordinal));
                break;
        }
        X509Certificate2? presented = null;
        await using var ssl = new SslStream(stream, leaveInnerStreamOpen: false);
        await ssl.AuthenticateAsClientAsync(new SslClientAuthenticationOptions
        {
            // An empty target host sends no SNI at all.
            TargetHost = serverName ?? "",
            RemoteCertificateValidationCallback = (_, cert, _, _) =>
            {
                presented = cert is null ? null : X509CertificateLoader.LoadCertificate(cert.GetRawCertData());
                return true;
            },
        });
        return presented ?? throw new InvalidOperationException("no certificate presented");
    }

    private static async Task Send(NetworkStream s, string line) => await s.WriteAsync(Encoding.ASCII.GetBytes(line + "\r\n"));

    // Byte by byte, so that nothing of the TLS handshake that follows is read here.
    private static async Task Until(NetworkStream s, Func<string, bool> last)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        var line = new StringBuilder();
        var one = new byte[1];
        while (true)
        {
            if (await s.ReadAsync(one, timeout.Token) == 0) throw new IOException("closed before the expected line; had: " + line);
            if (one[0] == '\n')
            {
                var text = line.ToString().TrimEnd('\r');
                if (last(text)) return;
                line.Clear();
            }
            else line.Append((char)one[0]);
        }
    }
}

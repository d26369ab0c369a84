using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using MailKit;
using MailKit.Net.Imap;
using MailKit.Net.Pop3;
using MailKit.Net.Smtp;
using MailKit.Security;
using Npgsql;

namespace GrainMail.Tests.Infrastructure;

/// <summary>
/// A real host for the login-security tests: IMAP, POP3, SMTP, HTTP and HTTPS listeners, and a
/// GeoIP CSV that puts 127.0.0.2 and 127.0.0.3 in two different places (loopback covers 127/8,
/// so clients bind those as their source addresses).
/// </summary>
public sealed class LoginSecurityHostFixture : IAsyncLifetime
{
    public const string Password = "correct horse battery";
    public const string PlaceA = "127.0.0.2";
    public const string PlaceB = "127.0.0.3";

    public HostProcess Host { get; private set; } = null!;
    public string ConnectionString { get; private set; } = "";
    public DirectorySeed Directory { get; private set; } = null!;
    public int HttpsPort { get; private set; }
    public string CertificatePath { get; private set; } = "";

    public async ValueTask InitializeAsync()
    {
        var pg = (await TestContext.Current.GetFixture<PostgresServer>())!;
        ConnectionString = await pg.NewDatabaseAsync("logins");
        Directory = new DirectorySeed(ConnectionString);
        var dir = Path.Combine(pg.Root, $"logins-{Guid.NewGuid():N}"[..20]);
        System.IO.Directory.CreateDirectory(dir);
        var csv = Path.Combine(dir, "geoip.csv");
        await File.WriteAllTextAsync(csv,
            "network,country,region,city\n" +
            "127.0.0.2/32,AT,Wien,Wien\n" +
            "127.0.0.3/32,JP,\"Tokyo, Kanto\",Shinjuku\n");
        HttpsPort = HostProcess.FreePort();
        Host = await HostProcess.StartAsync(ConnectionString, dir, HostProcess.Ports.Free(), extraEnvironment: new Dictionary<string, string>
        {
            ["GRAINMAIL_GEOIP"] = csv,
            ["GRAINMAIL_HTTPS_PORT"] = HttpsPort.ToString(),
        });
        CertificatePath = Path.Combine(dir, "tls", "cert.pem");
    }

    public async ValueTask DisposeAsync() => await Host.DisposeAsync();

    public HttpClient Super => Host.Http;

    public static StringContent Json(object o) => new(JsonSerializer.Serialize(o), Encoding.UTF8, "application/json");

    public async Task<string> NewDomain()
    {
        var name = $"l{Guid.NewGuid():N}"[..12] + ".test";
        var r = await Super.PostAsync("/api/v1/domains", Json(new { name }));
        Assert.Equal(HttpStatusCode.Created, r.StatusCode);
        return name;
    }

    public async Task<string> NewAccount(string domain, string localPart)
    {
        var r = await Super.PostAsync($"/api/v1/domains/{domain}/accounts", Json(new { localPart, password = Password }));
        Assert.Equal(HttpStatusCode.Created, r.StatusCode);
        return $"{localPart}@{domain}";
    }

    /// <summary>A user-API session for the account, as single sign-on would start it (row written directly).</summary>
    public async Task<HttpClient> UserSession(string account)
    {
        var token = "gms_" + Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)).TrimEnd('=').Replace('+', '-').Replace('/', '_');
        await Sql("INSERT INTO admin_session (token_hash, account, kind, expires_at) VALUES (@h, @a, 'user', now() + interval '1 hour')",
            ("h", SHA256.HashData(Encoding.UTF8.GetBytes(token))), ("a", account));
        return Bearer(token);
    }

    public HttpClient Bearer(string token)
    {
        var c = new HttpClient { BaseAddress = new Uri(Host.BaseUrl), Timeout = TimeSpan.FromSeconds(60) };
        c.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        return c;
    }

    /// <summary>Logs an account with an admin role in (POST /sessions) and returns a client with its token.</summary>
    public async Task<HttpClient> AdminSession(string account)
    {
        using var anon = new HttpClient { BaseAddress = new Uri(Host.BaseUrl) };
        var r = await anon.PostAsync("/api/v1/sessions", Json(new { address = account, password = Password }));
        Assert.Equal(HttpStatusCode.Created, r.StatusCode);
        return Bearer((await r.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("token").GetString()!);
    }

    public async Task Grant(string account, string role, string domain, long? departmentId = null)
    {
        var r = await Super.PostAsync("/api/v1/roles", Json(new { account, role, domain, departmentId }));
        Assert.Equal(HttpStatusCode.Created, r.StatusCode);
    }

    public HttpClient Https(string user, string password, string? actFor = null)
    {
        var expected = System.Security.Cryptography.X509Certificates.X509CertificateLoader.LoadCertificateFromFile(CertificatePath);
        var handler = new HttpClientHandler
        {
            ServerCertificateCustomValidationCallback = (_, cert, _, _) => cert is not null && cert.RawData.AsSpan().SequenceEqual(expected.RawData),
        };
        var http = new HttpClient(handler) { BaseAddress = new Uri($"https://127.0.0.1:{HttpsPort}"), Timeout = TimeSpan.FromSeconds(60) };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes($"{user}:{password}")));
        http.DefaultRequestHeaders.UserAgent.ParseAdd("LoginTests/1.0");
        if (actFor is not null) http.DefaultRequestHeaders.Add("GrainMail-Act-For", actFor);
        return http;
    }

    private static IPEndPoint From(string source) => new(IPAddress.Parse(source), 0);

    /// <summary>An IMAPS client from <paramref name="source"/>, identified by ID (RFC 2971), logged in with AUTHENTICATE PLAIN.</summary>
    public async Task<ImapClient> Imap(string user, string password = Password, string source = "127.0.0.1", string? authzid = null,
        string clientName = "LoginTests", Stream? log = null)
    {
        var c = new ImapClient(log is null ? new NullProtocolLogger() : new ProtocolLogger(log, leaveOpen: true)) { ServerCertificateValidationCallback = (_, _, _, _) => true, Timeout = 30_000, LocalEndPoint = From(source) };
        await c.ConnectAsync("127.0.0.1", Host.Listening.Imaps, SecureSocketOptions.SslOnConnect);
        await c.IdentifyAsync(new ImapImplementation { Name = clientName, Version = "1.0" });
        await c.AuthenticateAsync(new SaslMechanismPlain(new NetworkCredential(user, password)) { AuthorizationId = authzid ?? "" });
        return c;
    }

    public async Task<Pop3Client> Pop3(string user, string password = Password, string source = "127.0.0.1", string? authzid = null)
    {
        var c = new Pop3Client { ServerCertificateValidationCallback = (_, _, _, _) => true, Timeout = 30_000, LocalEndPoint = From(source) };
        await c.ConnectAsync("127.0.0.1", Host.Listening.Pop3s, SecureSocketOptions.SslOnConnect);
        await c.AuthenticateAsync(new SaslMechanismPlain(new NetworkCredential(user, password)) { AuthorizationId = authzid ?? "" });
        return c;
    }

    public async Task<SmtpClient> Smtp(string user, string password = Password, string source = "127.0.0.1", string? authzid = null, Stream? log = null)
    {
        var c = new SmtpClient(log is null ? new NullProtocolLogger() : new ProtocolLogger(log, leaveOpen: true)) { ServerCertificateValidationCallback = (_, _, _, _) => true, Timeout = 30_000, LocalEndPoint = From(source), LocalDomain = "client.example" };
        await c.ConnectAsync("127.0.0.1", Host.Listening.Submissions, SecureSocketOptions.SslOnConnect);
        await c.AuthenticateAsync(new SaslMechanismPlain(new NetworkCredential(user, password)) { AuthorizationId = authzid ?? "" });
        return c;
    }

    /// <summary>Subjects of the INBOX, read over IMAP from 127.0.0.1 (no place: the CSV does not list it, GeoIP knows no country for it).</summary>
    public async Task<List<string>> InboxSubjects(string account)
    {
        using var c = await Imap(account);
        await c.Inbox.OpenAsync(FolderAccess.ReadOnly);
        var subjects = c.Inbox.Count == 0 ? [] : (await c.Inbox.FetchAsync(0, -1, MessageSummaryItems.Envelope)).Select(m => m.Envelope?.Subject ?? "").ToList();
        await c.DisconnectAsync(true);
        return subjects;
    }

    public async Task<int> InboxCount(string address) =>
        (await Super.GetFromJsonAsync<JsonElement>($"/api/v1/accounts/{address}/mailbox")).GetProperty("quota").GetProperty("messages").GetInt32();

    /// <summary>The account's login records as the admin API lists them, newest first.</summary>
    public async Task<List<JsonElement>> Logins(string account, HttpClient? client = null)
    {
        var doc = await (client ?? Super).GetFromJsonAsync<JsonElement>($"/api/v1/accounts/{account}/logins?limit=200");
        return [.. doc.GetProperty("logins").EnumerateArray()];
    }

    /// <summary>Runs <c>./grainmail ARGS</c> against the host with the bootstrap token; exit code and standard output.</summary>
    public async Task<(int ExitCode, string Out)> Cli(params string[] args)
    {
        var r = await GrainmailCli.AsOperator(Host.BaseUrl, args);
        return (r.ExitCode, r.Out);
    }

    public async Task<int> Sql(string sql, params (string Name, object Value)[] parameters)
    {
        await using var ds = NpgsqlDataSource.Create(ConnectionString);
        await using var cmd = ds.CreateCommand(sql);
        foreach (var (n, v) in parameters) cmd.Parameters.AddWithValue(n, v);
        return await cmd.ExecuteNonQueryAsync();
    }

    /// <summary>True once the server has closed the client's connection (a NOOP fails).</summary>
    public static async Task<bool> Closed(IMailService client, Func<Task> noop)
    {
        if (!client.IsConnected) return true;
        try
        {
            await noop();
            return !client.IsConnected;
        }
        catch (Exception e) when (e is IOException or ServiceNotConnectedException or ImapProtocolException or Pop3ProtocolException or System.Net.Sockets.SocketException)
        {
            return true;
        }
    }
}

using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;
using MailKit.Net.Imap;
using MailKit.Security;
using Npgsql;
using OtpNet;

namespace GrainMail.Tests.Infrastructure;

/// <summary>
/// A real host with every listener (HTTPS for users, IMAP, POP3, SMTP submission) and the account
/// security clock shifted through a file (GRAINMAIL_TEST_CLOCK_FILE), so that tests can let
/// minutes pass: reset links expire, new TOTP steps arrive.
/// </summary>
public sealed class AccountSecurityFixture : IAsyncLifetime
{
    public const string Password = "correct horse battery";

    public HostProcess Host { get; private set; } = null!;
    public string ConnectionString { get; private set; } = "";
    public int HttpsPort { get; private set; }
    private string _certificatePath = "";
    private string _clockFile = "";
    private int _writes;

    /// <summary>How far the host's security clock is ahead of the real one.</summary>
    public TimeSpan ClockOffset { get; private set; }

    public HttpClient Super => Host.Http;

    public async ValueTask InitializeAsync()
    {
        var pg = (await TestContext.Current.GetFixture<PostgresServer>())!;
        ConnectionString = await pg.NewDatabaseAsync("security");
        HttpsPort = HostProcess.FreePort();
        var dir = Path.Combine(pg.Root, $"security-{Guid.NewGuid():N}"[..20]);
        Directory.CreateDirectory(dir);
        _clockFile = Path.Combine(dir, "clock-offset");
        await File.WriteAllTextAsync(_clockFile, "0");
        Host = await HostProcess.StartAsync(ConnectionString, dir, HostProcess.Ports.Free(), extraEnvironment: new Dictionary<string, string>
        {
            ["GRAINMAIL_HTTPS_PORT"] = HttpsPort.ToString(),
            ["GRAINMAIL_TEST_CLOCK_FILE"] = _clockFile,
        });
        _certificatePath = Path.Combine(dir, "tls", "cert.pem");
    }

    public async ValueTask DisposeAsync() => await Host.DisposeAsync();

    /// <summary>Moves the host's security clock forward (never back: TOTP steps only grow).</summary>
    public async Task AdvanceClockAsync(TimeSpan by)
    {
        ClockOffset += by;
        await File.WriteAllTextAsync(_clockFile, ClockOffset.TotalSeconds.ToString(CultureInfo.InvariantCulture));
        // The host notices the file by its modification time: a distinct one per write, whatever the file system's resolution.
        File.SetLastWriteTimeUtc(_clockFile, new DateTime(2001, 1, 1, 0, 0, 0, DateTimeKind.Utc).AddSeconds(++_writes));
    }

    /// <summary>The code an authenticator app shows now on the host's clock (plus <paramref name="steps"/> 30-second steps).</summary>
    public string Code(string secret, int steps = 0) =>
        new Totp(Base32Encoding.ToBytes(secret)).ComputeTotp(DateTime.UtcNow + ClockOffset + TimeSpan.FromSeconds(30 * steps));

    public async Task<string> NewDomain()
    {
        var name = $"s{Guid.NewGuid():N}"[..12] + ".test";
        Assert.Equal(HttpStatusCode.Created, (await Super.PostAsJsonAsync("/api/v1/domains", new { name })).StatusCode);
        return name;
    }

    public async Task<string> NewAccount(string domain, string localPart, string password = Password)
    {
        var r = await Super.PostAsJsonAsync($"/api/v1/domains/{domain}/accounts", new { localPart, password, displayName = localPart });
        Assert.True(r.StatusCode == HttpStatusCode.Created, await r.Content.ReadAsStringAsync());
        return $"{localPart}@{domain}";
    }

    /// <summary>An HTTPS client that trusts exactly the node's certificate; Basic credentials or a bearer token when given.</summary>
    public HttpClient User(string? user = null, string? password = null, string? bearer = null)
    {
        var expected = X509CertificateLoader.LoadCertificateFromFile(_certificatePath);
        var handler = new HttpClientHandler
        {
            ServerCertificateCustomValidationCallback = (_, cert, _, _) => cert is not null && cert.RawData.AsSpan().SequenceEqual(expected.RawData),
        };
        var http = new HttpClient(handler) { BaseAddress = new Uri($"https://127.0.0.1:{HttpsPort}"), Timeout = TimeSpan.FromSeconds(60) };
        if (user is not null) http.DefaultRequestHeaders.Authorization = AddressBookHostFixture.Basic(user, password ?? Password);
        if (bearer is not null) http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", bearer);
        return http;
    }

    /// <summary>POST /api/v1/me/sessions.</summary>
    public async Task<HttpResponseMessage> UserLogin(string address, string password = Password, string? totp = null)
    {
        using var anon = User();
        return await anon.PostAsJsonAsync("/api/v1/me/sessions", new { address, password, totp });
    }

    /// <summary>Enrols the account in two-factor (HTTP Basic) and returns the TOTP secret and the recovery codes.</summary>
    public async Task<(string Secret, List<string> RecoveryCodes)> Enrol(string address, string password = Password)
    {
        using var me = User(address, password);
        var begin = await me.PostAsync("/api/v1/me/two-factor", null);
        Assert.Equal(HttpStatusCode.OK, begin.StatusCode);
        var e = await begin.Content.ReadFromJsonAsync<JsonElement>();
        var secret = e.GetProperty("secret").GetString()!;
        var codes = e.GetProperty("recoveryCodes").EnumerateArray().Select(c => c.GetString()!).ToList();
        var confirm = await me.PostAsJsonAsync("/api/v1/me/two-factor/confirm", new { code = Code(secret) });
        Assert.Equal(HttpStatusCode.NoContent, confirm.StatusCode);
        return (secret, codes);
    }

    public async Task<string> AppPassword(string address, string name = "phone")
    {
        var r = await Super.PostAsJsonAsync($"/api/v1/accounts/{address}/app-passwords", new { name });
        Assert.Equal(HttpStatusCode.Created, r.StatusCode);
        return (await r.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("password").GetString()!;
    }

    public async Task<ImapClient> Imap(string user, string password)
    {
        var c = new ImapClient { ServerCertificateValidationCallback = (_, _, _, _) => true, Timeout = 30_000 };
        await c.ConnectAsync("127.0.0.1", Host.Listening.Imaps, SecureSocketOptions.SslOnConnect);
        await c.AuthenticateAsync(user, password);
        return c;
    }

    /// <summary>The text of the newest INBOX message whose subject is <paramref name="subject"/>, waiting for it to arrive.</summary>
    public async Task<string> WaitForMail(string user, string password, string subject, int count = 1)
    {
        return await Eventually.Value(async () =>
        {
            using var c = await Imap(user, password);
            await c.Inbox.OpenAsync(MailKit.FolderAccess.ReadOnly);
            var ids = await c.Inbox.SearchAsync(MailKit.Search.SearchQuery.SubjectContains(subject));
            if (ids.Count < count) return null;
            var m = await c.Inbox.GetMessageAsync(ids[^1]);
            await c.DisconnectAsync(true);
            return m.TextBody;
        }, t => t is not null, TimeSpan.FromSeconds(30), $"mail '{subject}' #{count} for {user}", poll: TimeSpan.FromMilliseconds(250)) ?? "";
    }

    public async Task<int> Sql(string sql, params (string Name, object Value)[] parameters)
    {
        await using var ds = NpgsqlDataSource.Create(ConnectionString);
        await using var cmd = ds.CreateCommand(sql);
        foreach (var (n, v) in parameters) cmd.Parameters.AddWithValue(n, v);
        return await cmd.ExecuteNonQueryAsync();
    }

    public static async Task<JsonElement> Problem(HttpResponseMessage r, HttpStatusCode status) => await AdminAccessFixture.AssertProblem(r, status);
}

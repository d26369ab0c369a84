using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;
using MailKit.Net.Imap;
using MailKit.Security;
using Microsoft.Playwright;
using OtpNet;

namespace GrainMail.Tests.Infrastructure;

/// <summary>
/// A real host with the users' HTTPS listener (webmail at /mail/, JMAP) and IMAP/SMTP, and one
/// Debian Chromium driven by Playwright (ExecutablePath /usr/bin/chromium: nothing is downloaded).
/// The webmail is built first when webmail/dist is missing (webmail/build.sh, as the test script does).
/// </summary>
public sealed class WebmailHostFixture : IAsyncLifetime
{
    public const string Password = "correct horse battery";
    public const string ChromiumPath = "/usr/bin/chromium";

    /// <summary>The flags this machine's closed network needs (no background connections, no QUIC, no GPU).</summary>
    public static readonly string[] ChromiumArgs =
    [
        "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--lang=en-US",
    ];

    public HostProcess Host { get; private set; } = null!;
    public int HttpsPort { get; private set; }
    public string HttpsUrl => $"https://127.0.0.1:{HttpsPort}";
    public IPlaywright Playwright { get; private set; } = null!;
    public IBrowser Browser { get; private set; } = null!;
    private string _certificatePath = "";

    /// <summary>Screenshots land here (under the test output directory) and are kept.</summary>
    public static string ScreenshotDir { get; } = Path.Combine(AppContext.BaseDirectory, "screenshots", "webmail");

    public async ValueTask InitializeAsync()
    {
        EnsureWebmailBuilt();
        var pg = (await TestContext.Current.GetFixture<PostgresServer>())!;
        var db = await pg.NewDatabaseAsync("webmail");
        HttpsPort = HostProcess.FreePort();
        var dir = Path.Combine(pg.Root, $"webmail-{Guid.NewGuid():N}"[..20]);
        Host = await HostProcess.StartAsync(db, dir, HostProcess.Ports.Free(), extraEnvironment: new Dictionary<string, string>
        {
            ["GRAINMAIL_HTTPS_PORT"] = HttpsPort.ToString(),
            ["GRAINMAIL_WEBMAIL"] = RepoFiles.PathOf("webmail", "dist"),
        });
        _certificatePath = Path.Combine(dir, "tls", "cert.pem");
        Directory.CreateDirectory(ScreenshotDir);
        Playwright = await Microsoft.Playwright.Playwright.CreateAsync();
        Browser = await Playwright.Chromium.LaunchAsync(new() { ExecutablePath = ChromiumPath, Headless = true, Args = ChromiumArgs });
    }

    public async ValueTask DisposeAsync()
    {
        if (Browser is not null) await Browser.DisposeAsync();
        Playwright?.Dispose();
        if (Host is not null) await Host.DisposeAsync();
    }

    private static void EnsureWebmailBuilt()
    {
        if (File.Exists(RepoFiles.PathOf("webmail", "dist", "index.html"))) return;
        var psi = new ProcessStartInfo("bash", [RepoFiles.PathOf("webmail", "build.sh")]) { RedirectStandardOutput = true, RedirectStandardError = true };
        using var p = Process.Start(psi)!;
        var output = p.StandardOutput.ReadToEndAsync();
        var error = p.StandardError.ReadToEnd();
        p.WaitForExit();
        if (p.ExitCode != 0) throw new InvalidOperationException($"webmail/build.sh failed ({p.ExitCode}): {output.Result}\n{error}");
    }

    /// <summary>A new browser context (own storage) with the page at /mail/; the node's self-signed certificate accepted.</summary>
    public async Task<IPage> NewPage(string locale = "en-US")
    {
        var context = await Browser.NewContextAsync(new() { IgnoreHTTPSErrors = true, Locale = locale, ViewportSize = new() { Width = 1400, Height = 860 } });
        var page = await context.NewPageAsync();
        page.SetDefaultTimeout(20_000);
        await page.GotoAsync(HttpsUrl + "/mail/");
        return page;
    }

    public static async Task Screenshot(IPage page, string name) =>
        await page.ScreenshotAsync(new() { Path = Path.Combine(ScreenshotDir, name + ".png") });

    public async Task<string> NewDomain()
    {
        var name = $"w{Guid.NewGuid():N}"[..12] + ".test";
        Assert.Equal(HttpStatusCode.Created, (await Host.Http.PostAsJsonAsync("/api/v1/domains", new { name })).StatusCode);
        return name;
    }

    public async Task<string> NewAccount(string domain, string localPart, string? displayName = null)
    {
        var r = await Host.Http.PostAsJsonAsync($"/api/v1/domains/{domain}/accounts", new { localPart, password = Password, displayName = displayName ?? localPart });
        Assert.True(r.StatusCode == HttpStatusCode.Created, await r.Content.ReadAsStringAsync());
        return $"{localPart}@{domain}";
    }

    /// <summary>An HTTPS client that trusts exactly the node's certificate.</summary>
    public HttpClient User(string? bearer = null, string? basicUser = null)
    {
        var expected = X509CertificateLoader.LoadCertificateFromFile(_certificatePath);
        var handler = new HttpClientHandler
        {
            AllowAutoRedirect = false,
            ServerCertificateCustomValidationCallback = (_, cert, _, _) => cert is not null && cert.RawData.AsSpan().SequenceEqual(expected.RawData),
        };
        var http = new HttpClient(handler) { BaseAddress = new Uri(HttpsUrl), Timeout = TimeSpan.FromSeconds(60) };
        if (bearer is not null) http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", bearer);
        if (basicUser is not null) http.DefaultRequestHeaders.Authorization = AddressBookHostFixture.Basic(basicUser, Password);
        return http;
    }

    public async Task<string> SessionToken(string address, string? totp = null)
    {
        using var anon = User();
        var r = await anon.PostAsJsonAsync("/api/v1/me/sessions", new { address, password = Password, totp });
        Assert.True(r.StatusCode == HttpStatusCode.Created, await r.Content.ReadAsStringAsync());
        return (await r.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("token").GetString()!;
    }

    /// <summary>The JMAP session resource's capabilities, or null while this branch has no JMAP server.</summary>
    public async Task<JsonElement?> JmapSession(string address)
    {
        using var me = User(bearer: await SessionToken(address));
        var r = await me.GetAsync("/.well-known/jmap");
        if (r.StatusCode is HttpStatusCode.NotFound or HttpStatusCode.MethodNotAllowed) return null;
        Assert.True(r.IsSuccessStatusCode, $"GET /.well-known/jmap: {(int)r.StatusCode} {await r.Content.ReadAsStringAsync()}");
        return await r.Content.ReadFromJsonAsync<JsonElement>();
    }

    /// <summary>
    /// Skips a test while the JMAP server it needs is not part of this build: no
    /// gateways/GrainMail.Gateways.Jmap, or one of <paramref name="methods"/> unknown to it
    /// (RFC 8620 3.6.2 unknownMethod, probed with harmless /get calls). Once they are there, they must work.
    /// </summary>
    public async Task RequireJmap(string address, params string[] methods)
    {
        if (!File.Exists(Path.Combine(Path.GetDirectoryName(HostProcess.SiloDll())!, "GrainMail.Gateways.Jmap.dll")))
            Assert.Skip("no JMAP server in this build yet (gateways/GrainMail.Gateways.Jmap)");
        var session = await JmapSession(address) ?? throw new InvalidOperationException("/.well-known/jmap is missing");
        var accountId = session.GetProperty("primaryAccounts").GetProperty("urn:ietf:params:jmap:mail").GetString();
        var using_ = session.GetProperty("capabilities").EnumerateObject().Select(p => p.Name).ToArray();
        var probes = new[] { "Mailbox/get", "Email/get", "Thread/get" }.Concat(methods)
            .Select((m, i) => new object[] { m, new Dictionary<string, object?> { ["accountId"] = accountId, ["ids"] = Array.Empty<string>() }, $"p{i}" })
            .ToArray();
        using var me = User(bearer: await SessionToken(address));
        var r = await me.PostAsJsonAsync("/jmap/api", new { @using = using_, methodCalls = probes });
        Assert.True(r.IsSuccessStatusCode, $"POST /jmap/api: {(int)r.StatusCode} {await r.Content.ReadAsStringAsync()}");
        var body = await r.Content.ReadFromJsonAsync<JsonElement>();
        foreach (var response in body.GetProperty("methodResponses").EnumerateArray())
        {
            if (response[0].GetString() == "error" && response[1].GetProperty("type").GetString() == "unknownMethod")
                Assert.Skip($"the JMAP server in this build lacks {probes[int.Parse(response[2].GetString()![1..])][0]} yet");
        }
    }

    /// <summary>Enrols two-factor with HTTP Basic and returns the TOTP secret.</summary>
    public async Task<string> EnrolTwoFactor(string address)
    {
        using var me = User(basicUser: address);
        var begin = await me.PostAsync("/api/v1/me/two-factor", null);
        Assert.Equal(HttpStatusCode.OK, begin.StatusCode);
        var secret = (await begin.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("secret").GetString()!;
        var confirm = await me.PostAsJsonAsync("/api/v1/me/two-factor/confirm", new { code = Code(secret) });
        Assert.Equal(HttpStatusCode.NoContent, confirm.StatusCode);
        return secret;
    }

    public static string Code(string secret, int steps = 0) =>
        new Totp(Base32Encoding.ToBytes(secret)).ComputeTotp(DateTime.UtcNow + TimeSpan.FromSeconds(30 * steps));

    public async Task<ImapClient> Imap(string user)
    {
        var c = new ImapClient { ServerCertificateValidationCallback = (_, _, _, _) => true, Timeout = 30_000 };
        await c.ConnectAsync("127.0.0.1", Host.Listening.Imaps, SecureSocketOptions.SslOnConnect);
        await c.AuthenticateAsync(user, Password);
        return c;
    }

    /// <summary>Logs in through the page's form (address, password, and the TOTP step when asked).</summary>
    public static async Task LogIn(IPage page, string address, string password = Password)
    {
        await page.FillAsync("input[name=address]", address);
        await page.FillAsync("input[name=password]", password);
        await page.ClickAsync("button[type=submit]");
    }
}

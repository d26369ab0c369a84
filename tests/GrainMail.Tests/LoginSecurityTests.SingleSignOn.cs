using System.Net;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Text.Json;
using GrainMail.Tests.Infrastructure;
using MailKit;
using static GrainMail.Tests.Infrastructure.LoginSecurityHostFixture;

namespace GrainMail.Tests;

/// <summary>
/// Single sign-on as a login like the others (issue 15): the browser that redeems the ticket is
/// judged by the login IP rules, recorded in the login history and may cause the new-location
/// notice; the link handed to it points at the HTTPS listener.
/// </summary>
public sealed partial class LoginSecurityTests
{
    private sealed record SsoLink(string Ticket, string LoginUrl, string WebmailUrl);

    private async Task<Guid> RegisterIntegration(string domain, IntegrationKey key)
    {
        var r = await host.Super.PostAsync("/api/v1/integrations", Json(new { name = "portal", domain, publicKey = key.PublicPem, allowedSources = new[] { "127.0.0.1" } }));
        Assert.True(r.StatusCode == HttpStatusCode.Created, await r.Content.ReadAsStringAsync());
        return Guid.Parse((await r.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetString()!);
    }

    /// <summary>A ticket asked for by the integration over the plain admin listener (from 127.0.0.1).</summary>
    private async Task<SsoLink> SsoTicket(Guid integration, IntegrationKey key, string account)
    {
        using var anon = new HttpClient { BaseAddress = new Uri(host.Host.BaseUrl) };
        var r = await anon.SendAsync(IntegrationSigner.Request(integration, key, HttpMethod.Post, "/api/v1/integration/sso", IntegrationSigner.Utf8($"{{\"address\":\"{account}\"}}")));
        Assert.True(r.StatusCode == HttpStatusCode.Created, await r.Content.ReadAsStringAsync());
        var sso = await r.Content.ReadFromJsonAsync<JsonElement>();
        return new SsoLink(sso.GetProperty("ticket").GetString()!, sso.GetProperty("loginUrl").GetString()!, sso.GetProperty("webmailUrl").GetString()!);
    }

    /// <summary>A browser on the HTTPS listener whose connections come from <paramref name="source"/>.</summary>
    private HttpClient Browser(string source)
    {
        var expected = System.Security.Cryptography.X509Certificates.X509CertificateLoader.LoadCertificateFromFile(host.CertificatePath);
        var handler = new SocketsHttpHandler
        {
            SslOptions = { RemoteCertificateValidationCallback = (_, cert, _, _) => cert is not null && cert.GetRawCertData().AsSpan().SequenceEqual(expected.RawData) },
            ConnectCallback = async (context, ct) =>
            {
                var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
                try
                {
                    socket.Bind(new IPEndPoint(IPAddress.Parse(source), 0));
                    await socket.ConnectAsync(context.DnsEndPoint, ct);
                    return new NetworkStream(socket, ownsSocket: true);
                }
                catch
                {
                    socket.Dispose();
                    throw;
                }
            },
        };
        var browser = new HttpClient(handler) { BaseAddress = new Uri($"https://127.0.0.1:{host.HttpsPort}"), Timeout = TimeSpan.FromSeconds(60) };
        browser.DefaultRequestHeaders.UserAgent.ParseAdd("PortalBrowser/3.0");
        return browser;
    }

    /// <summary>What the webmail page does with the ticket from its URL fragment.</summary>
    private static Task<HttpResponseMessage> Redeem(HttpClient browser, string ticket) => browser.PostAsync("/api/v1/sso", Json(new { ticket }));

    [Fact]
    public async Task A_sign_on_link_asked_for_over_plain_http_points_at_the_https_listener_and_works_there()
    {
        var d = await host.NewDomain();
        var a = await host.NewAccount(d, "linked");
        var key = IntegrationSigner.NewKey("ed25519");
        var link = await SsoTicket(await RegisterIntegration(d, key), key, a);
        // The integration called http://127.0.0.1:<admin port>; the browser is sent to the HTTPS listener.
        Assert.Equal($"https://127.0.0.1:{host.HttpsPort}/api/v1/sso/{link.Ticket}", link.LoginUrl);
        Assert.Equal($"https://127.0.0.1:{host.HttpsPort}/mail/#sso={link.Ticket}", link.WebmailUrl);
        using var browser = Browser("127.0.0.1");
        var session = await browser.GetAsync(link.LoginUrl);
        Assert.Equal(HttpStatusCode.OK, session.StatusCode);
        Assert.Equal(a, (await session.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("account").GetString());
    }

    [Fact]
    public async Task Sign_ons_are_in_the_login_history_and_a_new_place_sends_the_notice()
    {
        var d = await host.NewDomain();
        var a = await host.NewAccount(d, "portal");
        var key = IntegrationSigner.NewKey("ed25519");
        var integration = await RegisterIntegration(d, key);

        using (var vienna = Browser(PlaceA))
            Assert.Equal(HttpStatusCode.OK, (await Redeem(vienna, (await SsoTicket(integration, key, a)).Ticket)).StatusCode);
        var rows = await WaitForLogins(a, l => l.Count >= 1, "the sign-on's login record");
        var first = Assert.Single(rows);
        Assert.Equal(("sso", "success", PlaceA, "PortalBrowser/3.0", "AT", "Wien"),
            (Text(first, "channel"), Text(first, "result"), Text(first, "clientIp"), Text(first, "clientName"), Text(first, "country"), Text(first, "city")));

        // The first located login was the baseline; a sign-on from elsewhere is news, as on IMAP.
        using (var tokyo = Browser(PlaceB))
            Assert.Equal(HttpStatusCode.OK, (await Redeem(tokyo, (await SsoTicket(integration, key, a)).Ticket)).StatusCode);
        await WaitForLogins(a, l => l.Any(r => Text(r, "clientIp") == PlaceB && Text(r, "channel") == "sso"), "the sign-on from 127.0.0.3 recorded");
        var subjects = await Eventually.Value(() => host.InboxSubjects(a), s => s.Count >= 1, Wait, "the new-location notice");
        Assert.Equal(["New sign-in to your mail account"], subjects);
        using var imap = await host.Imap(a);
        await imap.Inbox.OpenAsync(FolderAccess.ReadOnly);
        var body = (await imap.Inbox.GetMessageAsync(0)).TextBody;
        Assert.Contains(PlaceB, body);
        Assert.Contains("Shinjuku, Tokyo, Kanto, JP", body);
        Assert.Contains("PortalBrowser/3.0 over SSO", body);
    }

    [Fact]
    public async Task The_login_ip_rules_judge_the_browser_that_redeems_a_ticket()
    {
        var d = await host.NewDomain();
        var a = await host.NewAccount(d, "guarded");
        // The domain lets users in from 127.0.0.2 only; the integration itself calls from 127.0.0.1,
        // which the rule does not cover: the integration's address is not the user's.
        Assert.Equal(HttpStatusCode.Created, (await host.Super.PostAsync($"/api/v1/domains/{d}/login-ip-rules", Json(new { network = "127.0.0.2/32" }))).StatusCode);
        var key = IntegrationSigner.NewKey("ed25519");
        var integration = await RegisterIntegration(d, key);

        using var tokyo = Browser(PlaceB);
        var refusedTicket = (await SsoTicket(integration, key, a)).Ticket;
        var refused = await Redeem(tokyo, refusedTicket);
        Assert.Equal(HttpStatusCode.Forbidden, refused.StatusCode);
        var problem = await refused.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal("Login not allowed from this address", problem.GetProperty("title").GetString());
        Assert.Contains($"Logins from {PlaceB} are not allowed", problem.GetProperty("detail").GetString());

        // The refused ticket is spent; a fresh one from the allowed place works.
        using var vienna = Browser(PlaceA);
        Assert.Equal(HttpStatusCode.NotFound, (await Redeem(vienna, refusedTicket)).StatusCode);
        var ok = await Redeem(vienna, (await SsoTicket(integration, key, a)).Ticket);
        Assert.Equal(HttpStatusCode.OK, ok.StatusCode);

        var rows = await WaitForLogins(a, l => l.Count >= 2, "the refused and the allowed sign-on");
        Assert.Contains(rows, r => Text(r, "channel") == "sso" && Text(r, "result") == "address-not-allowed" && Text(r, "clientIp") == PlaceB);
        Assert.Contains(rows, r => Text(r, "channel") == "sso" && Text(r, "result") == "success" && Text(r, "clientIp") == PlaceA);

        // An account disabled between the ticket and its redemption does not get in.
        var late = (await SsoTicket(integration, key, a)).Ticket;
        Assert.Equal(HttpStatusCode.NoContent, (await host.Super.PutAsync($"/api/v1/accounts/{a}/enabled", Json(new { enabled = false }))).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await Redeem(vienna, late)).StatusCode);
    }
}

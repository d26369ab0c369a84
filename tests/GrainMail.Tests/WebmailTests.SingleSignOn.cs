using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using GrainMail.Tests.Infrastructure;
using Microsoft.Playwright;

namespace GrainMail.Tests;

/// <summary>Single sign-on (issue 15): the enterprise's one-time link opens the user's webmail, once.</summary>
public sealed partial class WebmailTests
{
    [Fact]
    public async Task A_sign_on_link_opens_the_users_mailbox_once_and_then_is_refused()
    {
        var domain = await f.NewDomain();
        var erin = await f.NewAccount(domain, "erin");
        await f.RequireJmap(erin);
        var key = IntegrationSigner.NewKey("ed25519");
        var registered = await f.Host.Http.PostAsJsonAsync("/api/v1/integrations",
            new { name = "Portal", domain, publicKey = key.PublicPem, allowedSources = new[] { "127.0.0.1", "::1" } });
        Assert.True(registered.StatusCode == HttpStatusCode.Created, await registered.Content.ReadAsStringAsync());
        var id = Guid.Parse((await registered.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetString()!);

        // The portal asks over the HTTPS listener, so the link it hands out is the webmail's origin.
        using var https = f.User();
        var issued = await https.SendAsync(IntegrationSigner.Request(id, key, HttpMethod.Post, "/api/v1/integration/sso",
            IntegrationSigner.Utf8($"{{\"address\":\"{erin}\"}}")));
        Assert.True(issued.StatusCode == HttpStatusCode.Created, await issued.Content.ReadAsStringAsync());
        var sso = await issued.Content.ReadFromJsonAsync<JsonElement>();
        var loginUrl = sso.GetProperty("loginUrl").GetString()!;
        var ticket = sso.GetProperty("ticket").GetString()!;
        Assert.StartsWith(f.HttpsUrl + "/api/v1/sso/gmt_", loginUrl);

        // Opened: the user's own mailbox list, without a password, and nothing of the ticket or token left in the address.
        var page = await f.NewPage();
        await page.GotoAsync(loginUrl);
        await Assertions.Expect(page.GetByTestId("account")).ToHaveTextAsync(erin);
        await Assertions.Expect(page.GetByTestId("mailbox-inbox")).ToBeVisibleAsync();
        await Assertions.Expect(page.GetByText("Inbox").First).ToBeVisibleAsync();
        Assert.Equal(f.HttpsUrl + "/mail/", await page.EvaluateAsync<string>("location.href"));
        var token = await page.EvaluateAsync<string>("sessionStorage.getItem('grainmail.token')");
        Assert.StartsWith("gms_", token);
        await WebmailHostFixture.Screenshot(page, "sso-mailbox");
        await page.Context.CloseAsync();

        // Used again (another browser, or the same link again): the login page says why.
        var again = await f.NewPage();
        await again.GotoAsync(loginUrl);
        await Assertions.Expect(again.GetByRole(AriaRole.Alert)).ToContainTextAsync("already been used or has expired");
        await Assertions.Expect(again.Locator("input[name=address]")).ToBeVisibleAsync();
        Assert.Null(await again.EvaluateAsync<string?>("sessionStorage.getItem('grainmail.token')"));
        Assert.DoesNotContain(ticket, again.Url);
        await WebmailHostFixture.Screenshot(again, "sso-refused-en");
        await again.Context.CloseAsync();

        var zh = await f.NewPage("zh-CN");
        await zh.GotoAsync(loginUrl);
        await Assertions.Expect(zh.GetByRole(AriaRole.Alert)).ToContainTextAsync("此登录链接已被使用或已过期");
        await WebmailHostFixture.Screenshot(zh, "sso-refused-zh");
        await zh.Context.CloseAsync();
    }
}

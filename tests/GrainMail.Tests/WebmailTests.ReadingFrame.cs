using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using GrainMail.Tests.Infrastructure;
using Microsoft.Playwright;

namespace GrainMail.Tests;

/// <summary>
/// The reading pane's one frame (issue 18, opening a message in ≤ 200 ms): its document is loaded
/// before the first message is opened and reused for the next ones, and the reuse keeps the
/// safety of a fresh document per message — no script runs, nothing remote loads until allowed.
/// </summary>
public sealed partial class WebmailTests
{
    [Fact]
    public async Task Messages_opened_one_after_another_show_in_the_same_frame_and_hostile_html_still_neither_runs_nor_loads()
    {
        var domain = await f.NewDomain();
        var alice = await f.NewAccount(domain, "alice");
        await f.RequireJmap(alice);
        await using var recorder = new RequestRecorder();
        var mark = "window.__pwned=1;try{top.__pwned=1;top.document.title='PWNED'}catch(e){};" +
                   $"new Image().src='{recorder.Url("script-ran")}';fetch('{recorder.Url("script-fetch")}')";
        await SendHtml(alice, "Alpha report", "<p>the alpha figures are final</p>");
        await SendHtml(alice, "Beta hostile", $"<p>beta text here</p><script>{mark}</script><img src=x onerror=\"{mark}\">" +
            $"<img src=\"{recorder.Url("beta-image.gif")}\" alt=\"tracker\"><style>@import url('{recorder.Url("beta.css")}')</style>" +
            $"<a href=\"javascript:{mark}\">beta link</a>");

        var page = await LoggedIn(alice);
        var dialogs = new List<string>();
        page.Dialog += (_, d) =>
        {
            dialogs.Add(d.Message);
            _ = d.DismissAsync();
        };
        await Assertions.Expect(page.GetByTestId("row")).ToHaveCountAsync(2);
        // Before any message is opened the reading frame exists (hidden) with its document loaded; remember the element.
        var frame = page.GetByTestId("message-body");
        await Assertions.Expect(frame).ToHaveCountAsync(1);
        await Assertions.Expect(frame).ToBeHiddenAsync();
        await page.EvaluateAsync("() => { window.__readingFrame = document.querySelector('[data-testid=message-body]'); }");
        var sameFrame = "() => document.querySelectorAll('[data-testid=message-body]').length === 1 && document.querySelector('[data-testid=message-body]') === window.__readingFrame";
        var body = page.FrameLocator("[data-testid=message-body]").Locator("body");

        var alphaRow = page.GetByTestId("row").Filter(new() { HasText = "Alpha report" });
        var alphaId = (await alphaRow.GetAttributeAsync("data-email-id"))!;
        await alphaRow.ClickAsync();
        await Assertions.Expect(page.GetByTestId("subject")).ToHaveTextAsync("Alpha report");
        await Assertions.Expect(frame).ToHaveAttributeAsync("data-shown-id", alphaId);
        await Assertions.Expect(body).ToContainTextAsync("the alpha figures are final");
        Assert.True(await page.EvaluateAsync<bool>(sameFrame), "the first message went into the frame loaded ahead");

        var betaRow = page.GetByTestId("row").Filter(new() { HasText = "Beta hostile" });
        var betaId = (await betaRow.GetAttributeAsync("data-email-id"))!;
        await betaRow.ClickAsync();
        await Assertions.Expect(page.GetByTestId("subject")).ToHaveTextAsync("Beta hostile");
        await Assertions.Expect(frame).ToHaveAttributeAsync("data-shown-id", betaId);
        await Assertions.Expect(body).ToContainTextAsync("beta text here");
        await Assertions.Expect(body).Not.ToContainTextAsync("alpha figures");
        Assert.True(await page.EvaluateAsync<bool>(sameFrame), "the second message went into the same frame");
        await page.FrameLocator("[data-testid=message-body]").Locator("a").ClickAsync(new() { Force = true });
        await WebmailHostFixture.Screenshot(page, "reading-frame-reused");

        // The page measured each opening from its click (what WebmailBench reads).
        var opens = await page.EvaluateAsync<JsonElement>("() => performance.getEntriesByName('grainmail.open', 'measure').map(m => [m.detail.emailId, m.detail.via, m.duration])");
        Assert.Equal(new List<(string?, string?)> { (alphaId, "click"), (betaId, "click") }, opens.EnumerateArray().Select(o => (o[0].GetString(), o[1].GetString())).ToList());
        Assert.All(opens.EnumerateArray(), o => Assert.True(o[2].GetDouble() > 0));

        // Nothing ran and nothing was fetched, in the reused frame as in a fresh one.
        await page.WaitForTimeoutAsync(1000);
        Assert.Empty(recorder.Requests);
        Assert.Empty(dialogs);
        Assert.True(await page.EvaluateAsync<bool>("() => window.__pwned === undefined && !document.title.includes('PWNED') && window.__readingFrame.contentWindow.__pwned === undefined"));
        Assert.Single(page.Context.Pages);

        // Allowed for this message: the frame changes to the policy that lets images in, and now (only now) the image is fetched.
        await page.GetByTestId("show-images").ClickAsync();
        await Eventually.Until(() => Task.FromResult(recorder.Requests.Any(r => r.Contains("/beta-image.gif"))), TimeSpan.FromSeconds(10),
            "the allowed image to be fetched", poll: TimeSpan.FromMilliseconds(100));
        await Assertions.Expect(body).ToContainTextAsync("beta text here");
        Assert.DoesNotContain(recorder.Requests, r => r.Contains("script") || r.Contains("beta.css"));

        // Back to the first message: its body again, under the blocking policy (the allowance was for the other message only).
        var before = recorder.Requests.Count;
        await alphaRow.ClickAsync();
        await Assertions.Expect(frame).ToHaveAttributeAsync("data-shown-id", alphaId);
        await Assertions.Expect(body).ToContainTextAsync("the alpha figures are final");
        await Assertions.Expect(body).Not.ToContainTextAsync("beta text");
        Assert.Equal("blocked", await page.EvaluateAsync<string>("() => window.__readingFrame.contentDocument.documentElement.dataset.shell"));
        Assert.True(await page.EvaluateAsync<bool>(sameFrame), "still the one frame");
        await page.WaitForTimeoutAsync(500);
        Assert.Equal(before, recorder.Requests.Count);
        await page.Context.CloseAsync();
    }

    /// <summary>A sign-on link refused by the domain's login address rules (403) says why, in the user's language.</summary>
    [Fact]
    public async Task A_sign_on_link_refused_for_the_browsers_address_says_so_in_english_and_chinese()
    {
        var domain = await f.NewDomain();
        var frank = await f.NewAccount(domain, "frank");
        // Users of this domain may sign in from 127.0.0.2 only; the test's browser comes from 127.0.0.1.
        var rule = await f.Host.Http.PostAsJsonAsync($"/api/v1/domains/{domain}/login-ip-rules", new { network = "127.0.0.2/32" });
        Assert.True(rule.StatusCode == HttpStatusCode.Created, await rule.Content.ReadAsStringAsync());
        var key = IntegrationSigner.NewKey("ed25519");
        var registered = await f.Host.Http.PostAsJsonAsync("/api/v1/integrations",
            new { name = "Portal", domain, publicKey = key.PublicPem, allowedSources = new[] { "127.0.0.1", "::1" } });
        Assert.True(registered.StatusCode == HttpStatusCode.Created, await registered.Content.ReadAsStringAsync());
        var id = Guid.Parse((await registered.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetString()!);
        using var https = f.User();

        async Task<string> Link()
        {
            var issued = await https.SendAsync(IntegrationSigner.Request(id, key, HttpMethod.Post, "/api/v1/integration/sso",
                IntegrationSigner.Utf8($"{{\"address\":\"{frank}\"}}")));
            Assert.True(issued.StatusCode == HttpStatusCode.Created, await issued.Content.ReadAsStringAsync());
            return (await issued.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("loginUrl").GetString()!;
        }

        foreach (var (locale, text, shot) in new[]
        {
            ("en-US", "does not allow signing in from this network", "sso-address-refused-en"),
            ("zh-CN", "不允许从当前网络登录", "sso-address-refused-zh"),
        })
        {
            var page = await f.NewPage(locale);
            await page.GotoAsync(await Link());
            var alert = page.GetByRole(AriaRole.Alert);
            await Assertions.Expect(alert).ToContainTextAsync(text);
            // The server's English problem text is not what the user reads.
            await Assertions.Expect(alert).Not.ToContainTextAsync("Login not allowed");
            await Assertions.Expect(page.Locator("input[name=address]")).ToBeVisibleAsync();
            Assert.Null(await page.EvaluateAsync<string?>("sessionStorage.getItem('grainmail.token')"));
            await WebmailHostFixture.Screenshot(page, shot);
            await page.Context.CloseAsync();
        }
    }
}

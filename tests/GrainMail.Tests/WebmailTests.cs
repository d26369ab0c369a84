using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.RegularExpressions;
using GrainMail.Tests.Infrastructure;
using MailKit;
using MailKit.Net.Smtp;
using MailKit.Security;
using Microsoft.Playwright;
using MimeKit;

namespace GrainMail.Tests;

/// <summary>
/// The webmail at /mail/ in a real Chromium (Debian's, driven by Playwright) against a real host:
/// how the files are served, the login (with the two-factor step), the language switch, reading,
/// replying, searching, Junk, and a corpus of hostile HTML mails that must neither run nor load
/// anything. Every test keeps screenshots under bin/.../screenshots/webmail/.
/// </summary>
public sealed partial class WebmailTests(WebmailHostFixture f) : IClassFixture<WebmailHostFixture>
{
    private static readonly Regex AssetScript = AssetScriptPattern();

    [Fact]
    public async Task Mail_is_served_over_https_only_with_a_strict_policy()
    {
        using var https = f.User();
        var index = await https.GetAsync("/mail/");
        Assert.Equal(HttpStatusCode.OK, index.StatusCode);
        Assert.Equal("text/html", index.Content.Headers.ContentType?.MediaType);
        var csp = string.Join(" ", index.Headers.GetValues("Content-Security-Policy"));
        Assert.Contains("script-src 'self';", csp);
        Assert.Contains("frame-ancestors 'none'", csp);
        Assert.Contains("object-src 'none'", csp);
        Assert.DoesNotContain("unsafe-eval", csp);
        Assert.DoesNotContain("script-src 'self' 'unsafe-inline'", csp);
        Assert.Equal("nosniff", index.Headers.GetValues("X-Content-Type-Options").Single());
        var html = await index.Content.ReadAsStringAsync();
        Assert.DoesNotContain("<script>", html); // no inline script: the CSP would refuse it
        Assert.DoesNotContain("http://", html.Replace("http://www.w3.org", ""));

        // The hashed bundle is cached for good; index.html is revalidated.
        var script = AssetScript.Match(html);
        Assert.True(script.Success, html);
        var asset = await https.GetAsync(script.Groups[1].Value);
        Assert.Equal(HttpStatusCode.OK, asset.StatusCode);
        Assert.Equal("text/javascript", asset.Content.Headers.ContentType?.MediaType);
        Assert.Contains("immutable", asset.Headers.CacheControl?.ToString());
        Assert.True(index.Headers.CacheControl?.NoCache);

        // A client route gets the app; a missing file is a 404; nothing outside the folder is reachable.
        var route = await https.GetAsync("/mail/folder/inbox");
        Assert.Equal(HttpStatusCode.OK, route.StatusCode);
        Assert.Equal(html, await route.Content.ReadAsStringAsync());
        Assert.Equal(HttpStatusCode.NotFound, (await https.GetAsync("/mail/assets/missing-file.js")).StatusCode);
        var escape = await https.GetAsync("/mail/..%2F..%2Fpackage.json");
        Assert.DoesNotContain("grainmail-webmail", await escape.Content.ReadAsStringAsync());
        Assert.Equal(HttpStatusCode.Redirect, (await https.GetAsync("/mail")).StatusCode);

        // Not on the plain-HTTP admin listener: the app sends passwords.
        Assert.Equal(HttpStatusCode.NotFound, (await f.Host.Http.GetAsync("/mail/")).StatusCode);
    }

    [Fact]
    public async Task Login_shows_the_mailbox_and_the_language_follows_the_browser_and_the_switch()
    {
        var domain = await f.NewDomain();
        var alice = await f.NewAccount(domain, "alice");

        var page = await f.NewPage("en-US");
        await Assertions.Expect(page.Locator("h2")).ToHaveTextAsync("Sign in to your mailbox");
        await WebmailHostFixture.LogIn(page, alice, "wrong password");
        await Assertions.Expect(page.GetByRole(AriaRole.Alert)).ToHaveTextAsync("Wrong address or password");
        await WebmailHostFixture.Screenshot(page, "login-refused-en");
        await WebmailHostFixture.LogIn(page, alice);
        await Assertions.Expect(page.GetByTestId("account")).ToHaveTextAsync(alice);
        await Assertions.Expect(page.GetByTestId("compose")).ToHaveTextAsync("Compose");

        // Switched: every text changes at once, and the choice survives a reload.
        await page.GetByTestId("language").First.SelectOptionAsync("zh-CN");
        await Assertions.Expect(page.GetByTestId("compose")).ToHaveTextAsync("写信");
        await Assertions.Expect(page.GetByTestId("logout")).ToHaveTextAsync("退出");
        Assert.Equal("zh-CN", await page.EvaluateAsync<string>("document.documentElement.lang"));
        // The folder tree is named in Chinese too, and the empty list says so (both loaded before the screenshot is taken:
        // a screenshot taken while the list still loads showed it blank).
        await Assertions.Expect(page.GetByText("收件箱").First).ToBeVisibleAsync();
        await Assertions.Expect(page.GetByTestId("message-list")).ToHaveAttributeAsync("data-state", "empty");
        await Assertions.Expect(page.GetByTestId("list-empty")).ToHaveTextAsync("没有邮件");
        await WebmailHostFixture.Screenshot(page, "mailbox-zh");
        await page.ReloadAsync();
        await Assertions.Expect(page.GetByTestId("logout")).ToHaveTextAsync("退出");

        // Signing out ends the session on the server too.
        var token = await page.EvaluateAsync<string>("sessionStorage.getItem('grainmail.token')");
        await page.GetByTestId("logout").ClickAsync();
        await Assertions.Expect(page.Locator("input[name=address]")).ToBeVisibleAsync();
        using (var old = f.User(bearer: token))
            Assert.Equal(HttpStatusCode.Unauthorized, (await old.GetAsync("/api/v1/me/two-factor")).StatusCode);
        await page.Context.CloseAsync();

        // A Chinese browser gets Chinese from the first page.
        var zh = await f.NewPage("zh-CN");
        await Assertions.Expect(zh.Locator("h2")).ToHaveTextAsync("登录邮箱");
        await WebmailHostFixture.Screenshot(zh, "login-zh");
        await zh.Context.CloseAsync();
    }

    [Fact]
    public async Task Two_factor_login_asks_for_the_code_after_the_password()
    {
        var domain = await f.NewDomain();
        var carol = await f.NewAccount(domain, "carol");
        var secret = await f.EnrolTwoFactor(carol);

        var page = await f.NewPage();
        await WebmailHostFixture.LogIn(page, carol);
        var totp = page.Locator("input[name=totp]");
        await Assertions.Expect(totp).ToBeVisibleAsync();
        await WebmailHostFixture.Screenshot(page, "two-factor-step");
        // A wrong code is refused with the form still there; the next step's code (the enrolment spent this one) opens the mailbox.
        var next = WebmailHostFixture.Code(secret, 1);
        await totp.FillAsync(next == "000000" ? "111111" : "000000");
        await page.ClickAsync("button[type=submit]");
        await Assertions.Expect(page.GetByRole(AriaRole.Alert)).ToHaveTextAsync("Wrong code, try again");
        await totp.FillAsync(next);
        await page.ClickAsync("button[type=submit]");
        await Assertions.Expect(page.GetByTestId("account")).ToHaveTextAsync(carol);
        await WebmailHostFixture.Screenshot(page, "two-factor-done");
        await page.Context.CloseAsync();
    }

    [Fact]
    public async Task A_message_delivered_by_smtp_is_read_in_the_conversation_view()
    {
        var domain = await f.NewDomain();
        var alice = await f.NewAccount(domain, "alice", "Alice Zhang");
        await f.RequireJmap(alice);
        var subject = $"Quarterly plan {Guid.NewGuid():N}"[..24];
        await SendHtml(alice, subject, "<p>Hello <b>Alice</b>, the plan is attached. 你好！</p>");

        var page = await LoggedIn(alice);
        var row = page.GetByTestId("row").Filter(new() { HasText = subject });
        await Assertions.Expect(row).ToBeVisibleAsync();
        await Assertions.Expect(page.GetByTestId("mailbox-inbox").GetByTestId("unread")).ToHaveTextAsync("1");
        await row.ClickAsync();
        await Assertions.Expect(page.GetByTestId("subject")).ToHaveTextAsync(subject);
        var body = page.FrameLocator("[data-testid=message-body]").Locator("body");
        await Assertions.Expect(body).ToContainTextAsync("the plan is attached. 你好！");
        await Assertions.Expect(body.Locator("b")).ToHaveTextAsync("Alice");
        // Reading marks it seen: the unread count goes.
        await Assertions.Expect(page.GetByTestId("mailbox-inbox").GetByTestId("unread")).ToHaveCountAsync(0);
        await WebmailHostFixture.Screenshot(page, "read-message");
        await page.Context.CloseAsync();
    }

    [Fact]
    public async Task Search_finds_the_message_by_a_word_of_its_body()
    {
        var domain = await f.NewDomain();
        var alice = await f.NewAccount(domain, "alice");
        await f.RequireJmap(alice);
        await SendHtml(alice, "Lunch on Friday", "<p>Shall we try the noodle place?</p>");
        await SendHtml(alice, "Budget review", "<p>The numbers for pineapple division are in.</p>");

        var page = await LoggedIn(alice);
        await Assertions.Expect(page.GetByTestId("row")).ToHaveCountAsync(2);
        await page.GetByTestId("search").FillAsync("pineapple");
        await page.GetByTestId("search").PressAsync("Enter");
        await Assertions.Expect(page.GetByTestId("row")).ToHaveCountAsync(1);
        await Assertions.Expect(page.GetByTestId("row")).ToContainTextAsync("Budget review");
        await WebmailHostFixture.Screenshot(page, "search");
        await page.Context.CloseAsync();
    }

    [Fact]
    public async Task Junk_moves_the_message_to_the_junk_mailbox_seen_over_imap()
    {
        var domain = await f.NewDomain();
        var alice = await f.NewAccount(domain, "alice");
        await f.RequireJmap(alice);
        await SendHtml(alice, "Cheap watches", "<p>Best prices!</p>");

        var page = await LoggedIn(alice);
        await page.GetByTestId("row").Filter(new() { HasText = "Cheap watches" }).ClickAsync();
        await page.GetByTestId("junk").ClickAsync();
        await Assertions.Expect(page.GetByTestId("row")).ToHaveCountAsync(0);
        await page.GetByTestId("mailbox-junk").ClickAsync();
        await Assertions.Expect(page.GetByTestId("row").Filter(new() { HasText = "Cheap watches" })).ToBeVisibleAsync();
        await WebmailHostFixture.Screenshot(page, "junk");

        using var imap = await f.Imap(alice);
        var junk = await imap.GetFolderAsync("Junk");
        await junk.OpenAsync(FolderAccess.ReadOnly);
        Assert.Single(await junk.SearchAsync(MailKit.Search.SearchQuery.SubjectContains("Cheap watches")));
        await imap.Inbox.OpenAsync(FolderAccess.ReadOnly);
        Assert.Empty(await imap.Inbox.SearchAsync(MailKit.Search.SearchQuery.SubjectContains("Cheap watches")));
        await page.Context.CloseAsync();
    }

    [Fact]
    public async Task A_reply_with_an_attachment_arrives_over_imap()
    {
        var domain = await f.NewDomain();
        var alice = await f.NewAccount(domain, "alice");
        var bob = await f.NewAccount(domain, "bob");
        await f.RequireJmap(alice, "Identity/get", "EmailSubmission/get");
        await TestMail.SubmitAsync(f.Host.Listening.Submissions, bob, WebmailHostFixture.Password, alice, "Contract draft");

        var page = await LoggedIn(alice);
        await page.GetByTestId("row").Filter(new() { HasText = "Contract draft" }).ClickAsync();
        await page.GetByTestId("reply").ClickAsync();
        await Assertions.Expect(page.GetByTestId("to-input")).ToHaveValueAsync(new Regex(Regex.Escape(bob)));
        await page.GetByTestId("editor").PressAsync("Control+Home");
        await page.GetByTestId("editor").PressSequentiallyAsync("Signed copy attached.");
        var file = Path.Combine(Path.GetTempPath(), $"signed-{Guid.NewGuid():N}.txt");
        await File.WriteAllTextAsync(file, "the signed contract\n");
        await page.GetByTestId("attach").SetInputFilesAsync(file);
        await Assertions.Expect(page.GetByTestId("upload-progress")).ToHaveAttributeAsync("data-done", "yes");
        await WebmailHostFixture.Screenshot(page, "reply-compose");
        await page.GetByTestId("send").ClickAsync();
        await Assertions.Expect(page.GetByTestId("compose-window")).ToHaveCountAsync(0);

        var reply = await Eventually.Value(async () =>
        {
            using var imap = await f.Imap(bob);
            await imap.Inbox.OpenAsync(FolderAccess.ReadOnly);
            var ids = await imap.Inbox.SearchAsync(MailKit.Search.SearchQuery.SubjectContains("Re: Contract draft"));
            return ids.Count == 0 ? null : await imap.Inbox.GetMessageAsync(ids[^1]);
        }, m => m is not null, TimeSpan.FromSeconds(30), "the reply in bob's INBOX", poll: TimeSpan.FromMilliseconds(300));
        Assert.Contains("Signed copy attached.", reply!.TextBody);
        var attachment = Assert.Single(reply.Attachments.OfType<MimePart>());
        Assert.Equal(Path.GetFileName(file), attachment.FileName);
        using var content = new MemoryStream();
        await attachment.Content!.DecodeToAsync(content);
        Assert.Equal("the signed contract\n", System.Text.Encoding.UTF8.GetString(content.ToArray()));
        Assert.False(string.IsNullOrEmpty(reply.InReplyTo)); // threaded under the original
        await page.Context.CloseAsync();
    }

    /// <summary>
    /// The vacation setting is the server's VacationResponse (RFC 8621 8): saved in the page, it is the
    /// singleton JMAP returns and the "jmap-vacation" Sieve script; opened again, the page shows it.
    /// </summary>
    [Fact]
    public async Task The_vacation_setting_is_saved_as_the_servers_vacation_response()
    {
        var domain = await f.NewDomain();
        var alice = await f.NewAccount(domain, "alice");
        await f.RequireJmap(alice, "VacationResponse/get");
        var page = await LoggedIn(alice);
        await page.GetByTestId("open-settings").ClickAsync();
        await page.GetByTestId("tab-vacation").ClickAsync();
        await page.GetByTestId("vacation-on").CheckAsync();
        await page.GetByTestId("vacation-subject").FillAsync("Away this week");
        await page.GetByTestId("vacation-body").FillAsync("Back on Monday; ask Bob meanwhile.");
        await page.GetByTestId("vacation-save").ClickAsync();

        using var me = f.User(bearer: await f.SessionToken(alice));
        var accountId = (await f.JmapSession(alice))!.Value.GetProperty("primaryAccounts").GetProperty("urn:ietf:params:jmap:mail").GetString();
        var vacation = await Eventually.Value(async () =>
        {
            var r = await me.PostAsJsonAsync("/jmap/api", new
            {
                @using = new[] { "urn:ietf:params:jmap:core", "urn:ietf:params:jmap:vacationresponse" },
                methodCalls = new object[] { new object[] { "VacationResponse/get", new Dictionary<string, object?> { ["accountId"] = accountId }, "v" } },
            });
            return await r.Content.ReadFromJsonAsync<JsonElement>();
        }, v => v.GetProperty("methodResponses")[0][1].GetProperty("list")[0].GetProperty("isEnabled").GetBoolean(),
            TimeSpan.FromSeconds(20), "the vacation response enabled", poll: TimeSpan.FromMilliseconds(300));
        var v = vacation.GetProperty("methodResponses")[0][1].GetProperty("list")[0];
        Assert.Equal(("Away this week", "Back on Monday; ask Bob meanwhile."), (v.GetProperty("subject").GetString(), v.GetProperty("textBody").GetString()));
        var scripts = await me.GetFromJsonAsync<JsonElement>("/api/v1/me/sieve");
        Assert.Contains(scripts.EnumerateArray(), s => s.GetProperty("name").GetString() == "jmap-vacation");
        await WebmailHostFixture.Screenshot(page, "vacation-settings");

        // Opened again, the page reads it back from the server.
        await page.ReloadAsync();
        await page.GetByTestId("open-settings").ClickAsync();
        await page.GetByTestId("tab-vacation").ClickAsync();
        await Assertions.Expect(page.GetByTestId("vacation-on")).ToBeCheckedAsync();
        await Assertions.Expect(page.GetByTestId("vacation-subject")).ToHaveValueAsync("Away this week");
        await page.Context.CloseAsync();
    }

    /// <summary>
    /// The signature is the JMAP Identity's textSignature (RFC 8621 6): saved in the page it is stored
    /// on the server (Identity/set used to be refused with "forbidden"), and a fresh browser, with
    /// nothing in its local storage, reads it back.
    /// </summary>
    [Fact]
    public async Task The_signature_is_saved_as_the_identitys_text_signature()
    {
        var domain = await f.NewDomain();
        var alice = await f.NewAccount(domain, "alice");
        await f.RequireJmap(alice, "Identity/set");
        var page = await LoggedIn(alice);
        await page.GetByTestId("open-settings").ClickAsync();
        await page.GetByTestId("tab-signature").ClickAsync();
        await page.GetByTestId("signature-text").FillAsync("Alice Liddell\nWonderland Ltd.");
        await page.GetByTestId("signature-save").ClickAsync();
        await Assertions.Expect(page.GetByTestId("settings").GetByRole(AriaRole.Status)).ToHaveClassAsync("ok");

        using var me = f.User(bearer: await f.SessionToken(alice));
        var accountId = (await f.JmapSession(alice))!.Value.GetProperty("primaryAccounts").GetProperty("urn:ietf:params:jmap:mail").GetString();
        var identity = await Eventually.Value(async () =>
        {
            var r = await me.PostAsJsonAsync("/jmap/api", new
            {
                @using = new[] { "urn:ietf:params:jmap:core", "urn:ietf:params:jmap:submission" },
                methodCalls = new object[] { new object[] { "Identity/get", new Dictionary<string, object?> { ["accountId"] = accountId }, "i" } },
            });
            return (await r.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("methodResponses")[0][1].GetProperty("list")[0];
        }, i => i.GetProperty("textSignature").GetString() != "", TimeSpan.FromSeconds(20), "the identity's signature", poll: TimeSpan.FromMilliseconds(300));
        Assert.Equal((alice, "Alice Liddell\nWonderland Ltd."), (identity.GetProperty("email").GetString(), identity.GetProperty("textSignature").GetString()));
        await WebmailHostFixture.Screenshot(page, "signature-settings");
        await page.Context.CloseAsync();

        // Another browser (empty local storage) shows the server's signature.
        var fresh = await LoggedIn(alice);
        await fresh.GetByTestId("open-settings").ClickAsync();
        await fresh.GetByTestId("tab-signature").ClickAsync();
        await Assertions.Expect(fresh.GetByTestId("signature-text")).ToHaveValueAsync("Alice Liddell\nWonderland Ltd.");
        await fresh.Context.CloseAsync();
    }

    /// <summary>
    /// A file over the message limit goes by link (4.1.3): the page uploads it in resumable pieces
    /// (several PATCH requests, progress shown), puts the link into the message, and the link
    /// downloads the same bytes, resumably (Range).
    /// </summary>
    [Fact]
    public async Task A_large_attachment_is_uploaded_in_pieces_and_downloads_by_its_link()
    {
        var domain = await f.NewDomain();
        var alice = await f.NewAccount(domain, "alice");
        var bytes = new byte[21 * 1024 * 1024 + 12345];
        new Random(18).NextBytes(bytes);
        var file = Path.Combine(Path.GetTempPath(), $"survey-{Guid.NewGuid():N}.bin");
        await File.WriteAllBytesAsync(file, bytes);
        try
        {
            var page = await LoggedIn(alice);
            var patches = 0;
            page.Request += (_, r) =>
            {
                if (r.Method == "PATCH" && r.Url.Contains("/jmap/large/", StringComparison.Ordinal)) Interlocked.Increment(ref patches);
            };
            await Assertions.Expect(page.GetByTestId("compose")).ToBeEnabledAsync();
            await page.GetByTestId("compose").ClickAsync();
            await page.GetByTestId("attach").SetInputFilesAsync(file);
            await Assertions.Expect(page.GetByTestId("upload-progress")).ToHaveAttributeAsync("data-done", "yes", new() { Timeout = 120_000 });
            var link = page.GetByTestId("editor").Locator(".large-link a");
            await Assertions.Expect(link).ToHaveTextAsync(Path.GetFileName(file));
            await WebmailHostFixture.Screenshot(page, "large-attachment");
            Assert.True(patches >= 3, $"{patches} PATCH requests for {bytes.Length} bytes");
            var href = await link.GetAttributeAsync("href");
            Assert.NotNull(href);

            // The link needs no account (the recipient has none); a broken-off download resumes with Range.
            using var anon = f.User();
            Assert.Equal(System.Security.Cryptography.SHA256.HashData(bytes), System.Security.Cryptography.SHA256.HashData(await anon.GetByteArrayAsync(href)));
            using var tail = new HttpRequestMessage(HttpMethod.Get, href);
            tail.Headers.Range = new System.Net.Http.Headers.RangeHeaderValue(20_000_000, null);
            var partial = await anon.SendAsync(tail);
            Assert.Equal(HttpStatusCode.PartialContent, partial.StatusCode);
            Assert.Equal(bytes.AsSpan(20_000_000).ToArray(), await partial.Content.ReadAsByteArrayAsync());
            await page.Context.CloseAsync();
        }
        finally
        {
            File.Delete(file);
        }
    }

    /// <summary>
    /// Hostile HTML mails (scripts, event handlers, javascript: links, SVG with script, CSS that
    /// fetches, meta refresh, forms, frames, objects) opened one by one: no script runs (no marker in
    /// the page, no dialog) and nothing is requested from the recorder. Then the user allows images
    /// for the last one and the recorder does see that image: the check could have failed.
    /// </summary>
    [Fact]
    public async Task Hostile_html_mails_neither_run_nor_load_anything()
    {
        var domain = await f.NewDomain();
        var alice = await f.NewAccount(domain, "alice");
        await f.RequireJmap(alice);
        await using var recorder = new RequestRecorder();
        var corpus = HostileCorpus(recorder);
        foreach (var (subject, html) in corpus) await SendHtml(alice, subject, html);

        var page = await LoggedIn(alice);
        var dialogs = new List<string>();
        page.Dialog += (_, d) =>
        {
            dialogs.Add(d.Message);
            _ = d.DismissAsync();
        };
        var offsite = new List<string>();
        page.Request += (_, r) =>
        {
            if (!r.Url.StartsWith(f.HttpsUrl, StringComparison.Ordinal) && !r.Url.StartsWith("data:", StringComparison.Ordinal)
                && !r.Url.StartsWith("blob:", StringComparison.Ordinal) && !r.Url.StartsWith("about:", StringComparison.Ordinal))
                offsite.Add(r.Url);
        };
        await Assertions.Expect(page.GetByTestId("row")).ToHaveCountAsync(corpus.Count);
        foreach (var (subject, _) in corpus)
        {
            await page.GetByTestId("row").Filter(new() { HasText = subject }).ClickAsync();
            await Assertions.Expect(page.GetByTestId("subject")).ToHaveTextAsync(subject);
            await Assertions.Expect(page.FrameLocator("[data-testid=message-body]").Locator("body")).ToContainTextAsync("visible text");
            // Clicks on what an attacker would want clicked: links and the SVG.
            foreach (var link in await page.FrameLocator("[data-testid=message-body]").Locator("a").AllAsync())
            {
                try
                {
                    await link.ClickAsync(new() { Force = true, Timeout = 2000 });
                }
                catch (TimeoutException)
                {
                    // an element without a box: nothing to click
                }
            }
            await WebmailHostFixture.Screenshot(page, "hostile-" + subject.Split(' ')[0]);
        }
        // Any request would have been made by now (loads start when the frame renders); a marker is never set.
        await page.WaitForTimeoutAsync(1000);
        Assert.Empty(recorder.Requests);
        Assert.Empty(offsite);
        Assert.Empty(dialogs);
        Assert.True(await page.EvaluateAsync<bool>("() => window.__pwned === undefined && !document.title.includes('PWNED')"));
        foreach (var frame in page.Frames.Skip(1))
        {
            // The message frames: same origin (allow-same-origin), so the page can look into them.
            Assert.True(await page.EvaluateAsync<bool>("n => [...document.querySelectorAll('iframe')].every(f => f.contentWindow.__pwned === undefined)", frame.Name));
        }
        Assert.Single(page.Context.Pages); // no popup, no navigation away
        Assert.StartsWith(f.HttpsUrl + "/mail/", page.Url);

        // The remote image of the last mail, allowed by the user: now (and only now) it is fetched.
        await Assertions.Expect(page.GetByTestId("images-blocked")).ToBeVisibleAsync();
        await page.GetByTestId("show-images").ClickAsync();
        await Eventually.Until(() => Task.FromResult(recorder.Requests.Any(r => r.Contains("/allowed-image.gif"))), TimeSpan.FromSeconds(10),
            "the allowed image to be fetched", poll: TimeSpan.FromMilliseconds(100));
        Assert.DoesNotContain(recorder.Requests, r => r.Contains("/script"));
        await WebmailHostFixture.Screenshot(page, "hostile-images-allowed");
        await page.Context.CloseAsync();
    }

    private static List<(string Subject, string Html)> HostileCorpus(RequestRecorder r)
    {
        var mark = "window.__pwned=1;try{top.__pwned=1;top.document.title='PWNED'}catch(e){};" +
                   $"new Image().src='{r.Url("script-ran")}';fetch('{r.Url("script-fetch")}')";
        return
        [
            ("Scripts and handlers", $"<p>visible text</p><script>{mark}</script><img src=x onerror=\"{mark}\"><body onload=\"{mark}\">" +
                $"<div onmouseover=\"{mark}\">hover</div><a href=\"javascript:{mark}\">click me</a><a href=\" jAvAsCrIpT:{mark}\">spaced</a>" +
                $"<a href=\"vbscript:msgbox(1)\">vb</a><a href=\"data:text/html,<script>{mark}</script>\">data link</a>"),
            ("SVG and MathML", $"<p>visible text</p><svg onload=\"{mark}\"><script>{mark}</script><image href=\"{r.Url("svg-image")}\"/>" +
                $"<a xlink:href=\"javascript:{mark}\"><text y=\"20\">svg link</text></a></svg>" +
                $"<math><mtext><table><mglyph><style><img src=x onerror=\"{mark}\"></style></mglyph></table></mtext></math>"),
            ("CSS loads", $"<style>@import url('{r.Url("import.css")}'); body {{ background: url('{r.Url("bg-style-tag.png")}') }}" +
                $"@font-face {{ font-family: x; src: url('{r.Url("font.woff")}') }} p {{ font-family: x }}</style>" +
                $"<link rel=stylesheet href=\"{r.Url("link.css")}\"><p style=\"background-image:url({r.Url("bg-attr.png")})\">visible text</p>" +
                $"<table background=\"{r.Url("table-bg.png")}\"><tr><td>cell</td></tr></table><img srcset=\"{r.Url("srcset.png")} 2x\">"),
            ("Refresh forms frames", $"<meta http-equiv=\"refresh\" content=\"0;url={r.Url("refresh")}\"><p>visible text</p>" +
                $"<form action=\"{r.Url("form")}\" method=post><input name=p value=secret><button>Send</button></form>" +
                $"<iframe src=\"{r.Url("iframe")}\"></iframe><object data=\"{r.Url("object")}\"></object><embed src=\"{r.Url("embed")}\">" +
                $"<base href=\"{r.Url("base/")}\"><a href=\"relative\">relative</a><video src=\"{r.Url("video")}\" autoplay></video>" +
                $"<audio src=\"{r.Url("audio")}\" autoplay></audio><link rel=prefetch href=\"{r.Url("prefetch")}\">"),
            ("Remote image", $"<p>visible text</p><img src=\"{r.Url("allowed-image.gif")}\" alt=\"tracker\">"),
        ];
    }

    /// <summary>An HTML mail from outside over the MX port, as a newsletter or an attacker sends it.</summary>
    private async Task SendHtml(string to, string subject, string html)
    {
        var m = new MimeMessage();
        m.From.Add(MailboxAddress.Parse("sender@elsewhere.example"));
        m.To.Add(MailboxAddress.Parse(to));
        m.Subject = subject;
        m.Body = new BodyBuilder { HtmlBody = $"<html><head></head><body>{html}</body></html>", TextBody = "visible text" }.ToMessageBody();
        using var smtp = new SmtpClient();
        await smtp.ConnectAsync("127.0.0.1", f.Host.Listening.Mx, SecureSocketOptions.None);
        await smtp.SendAsync(m);
        await smtp.DisconnectAsync(true);
        await Eventually.Until(async () =>
        {
            using var imap = await f.Imap(to);
            await imap.Inbox.OpenAsync(FolderAccess.ReadOnly);
            return (await imap.Inbox.SearchAsync(MailKit.Search.SearchQuery.SubjectContains(subject))).Count > 0;
        }, TimeSpan.FromSeconds(30), $"'{subject}' delivered", poll: TimeSpan.FromMilliseconds(250));
    }

    private async Task<IPage> LoggedIn(string address)
    {
        var page = await f.NewPage();
        await WebmailHostFixture.LogIn(page, address);
        await Assertions.Expect(page.GetByTestId("account")).ToHaveTextAsync(address);
        return page;
    }

    [GeneratedRegex("src=\"(/mail/assets/index-[^\"]+\\.js)\"")]
    private static partial Regex AssetScriptPattern();
}

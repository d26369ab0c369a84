using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using GrainMail.Tests.Infrastructure;
using MailKit;
using MailKit.Security;
using MimeKit;
using static GrainMail.Tests.Infrastructure.LoginSecurityHostFixture;

namespace GrainMail.Tests;

/// <summary>
/// Login security (issue 16) and delegation (issue 17) end to end: real host, real TCP, MailKit
/// clients bound to 127.0.0.2 / 127.0.0.3 so that the GeoIP CSV places them.
/// </summary>
public sealed partial class LoginSecurityTests(LoginSecurityHostFixture host) : IClassFixture<LoginSecurityHostFixture>
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);

    private static string Raw(string from, string to, string subject) => Convert.ToBase64String(System.Text.Encoding.UTF8.GetBytes(
        $"From: {from}\r\nTo: {to}\r\nSubject: {subject}\r\nMessage-ID: <{Guid.NewGuid():N}@test>\r\nDate: {DateTimeOffset.UtcNow:R}\r\n\r\n{subject}\r\n"));

    private static string Text(JsonElement e, string name) => e.GetProperty(name).ValueKind == JsonValueKind.Null ? "" : e.GetProperty(name).GetString()!;

    private async Task<List<JsonElement>> WaitForLogins(string account, Func<List<JsonElement>, bool> accept, string what) =>
        await Eventually.Value(() => host.Logins(account), accept, Wait, what, poll: TimeSpan.FromMilliseconds(100));

    [Fact]
    public async Task Every_channel_records_its_attempts_with_client_and_place()
    {
        var d = await host.NewDomain();
        var a = await host.NewAccount(d, "rec");
        using (var imap = await host.Imap(a, source: PlaceA, clientName: "Thunderbird")) await imap.DisconnectAsync(true);
        using (var pop = await host.Pop3(a, source: PlaceB)) await pop.DisconnectAsync(true);
        using (var smtp = await host.Smtp(a)) await smtp.DisconnectAsync(true);
        // A wrong password over HTTP (the admin session login): recorded, with the User-Agent.
        using (var anon = new HttpClient { BaseAddress = new Uri(host.Host.BaseUrl) })
        {
            anon.DefaultRequestHeaders.UserAgent.ParseAdd("LoginTests-Agent/2.0");
            var r = await anon.PostAsync("/api/v1/sessions", Json(new { address = a, password = "wrong" }));
            Assert.Equal(HttpStatusCode.Unauthorized, r.StatusCode);
        }
        // HTTP Basic over HTTPS (the user API).
        using (var basic = host.Https(a, Password))
            Assert.Equal(HttpStatusCode.OK, (await basic.GetAsync("/api/v1/me/address-book")).StatusCode);

        var rows = await WaitForLogins(a, l => l.Count >= 5, "five login records");
        var imapRow = rows.Single(r => Text(r, "channel") == "imap");
        Assert.Equal(("success", "Thunderbird 1.0", PlaceA, "AT", "Wien", "Wien"),
            (Text(imapRow, "result"), Text(imapRow, "clientName"), Text(imapRow, "clientIp"), Text(imapRow, "country"), Text(imapRow, "region"), Text(imapRow, "city")));
        var popRow = rows.Single(r => Text(r, "channel") == "pop3");
        Assert.Equal(("success", PlaceB, "JP", "Tokyo, Kanto"), (Text(popRow, "result"), Text(popRow, "clientIp"), Text(popRow, "country"), Text(popRow, "region")));
        var smtpRow = rows.Single(r => Text(r, "channel") == "smtp");
        Assert.Equal(("success", "client.example", "127.0.0.1", ""), (Text(smtpRow, "result"), Text(smtpRow, "clientName"), Text(smtpRow, "clientIp"), Text(smtpRow, "country")));
        var httpRow = rows.Single(r => Text(r, "channel") == "admin-session");
        Assert.Equal(("bad-credentials", "LoginTests-Agent/2.0"), (Text(httpRow, "result"), Text(httpRow, "clientName")));
        var basicRow = rows.Single(r => Text(r, "channel") == "http-basic");
        Assert.Equal(("success", "LoginTests/1.0"), (Text(basicRow, "result"), Text(basicRow, "clientName")));
    }

    [Fact]
    public async Task A_login_from_a_new_place_sends_exactly_one_notice_into_the_inbox()
    {
        var d = await host.NewDomain();
        var a = await host.NewAccount(d, "traveller");
        // The first located login is the baseline: no notice.
        using (var first = await host.Imap(a, source: PlaceA, clientName: "Phone")) await first.DisconnectAsync(true);
        await WaitForLogins(a, l => l.Any(r => Text(r, "clientIp") == PlaceA), "the login from 127.0.0.2 recorded");
        using (var second = await host.Imap(a, source: PlaceB, clientName: "Laptop")) await second.DisconnectAsync(true);
        var subjects = await Eventually.Value(() => host.InboxSubjects(a), s => s.Count >= 1, Wait, "the new-location notice");
        // Known places now: neither login sends another notice. A marker message sent afterwards
        // arrives behind anything they could have caused.
        using (var again = await host.Imap(a, source: PlaceB)) await again.DisconnectAsync(true);
        using (var back = await host.Imap(a, source: PlaceA)) await back.DisconnectAsync(true);
        var r = await host.Super.PostAsync("/api/v1/messages", Json(new { from = $"marker@{d}", to = new[] { a }, raw = Raw($"marker@{d}", a, "marker") }));
        Assert.True(r.IsSuccessStatusCode, await r.Content.ReadAsStringAsync());
        subjects = await Eventually.Value(() => host.InboxSubjects(a), s => s.Contains("marker"), Wait, "the marker");
        Assert.Single(subjects, s => s == "New sign-in to your mail account");
        Assert.Equal(2, subjects.Count);

        using var imap = await host.Imap(a);
        await imap.Inbox.OpenAsync(FolderAccess.ReadOnly);
        var notice = await imap.Inbox.GetMessageAsync(0);
        Assert.Equal("New sign-in to your mail account", notice.Subject);
        var body = notice.TextBody;
        Assert.Contains(PlaceB, body);
        Assert.Contains("Shinjuku, Tokyo, Kanto, JP", body);
        Assert.Contains("Laptop 1.0", body);
        Assert.Contains("Change your password", body);
        Assert.Equal("auto-generated", notice.Headers[HeaderId.AutoSubmitted]);
    }

    [Fact]
    public async Task A_lockout_notifies_the_user_and_the_domain_admins_and_an_admin_unlocks()
    {
        var d = await host.NewDomain();
        var a = await host.NewAccount(d, "forgetful");
        var admin = await host.NewAccount(d, "boss");
        await host.Grant(admin, "domain-admin", d);
        using var anon = new HttpClient { BaseAddress = new Uri(host.Host.BaseUrl) };
        HttpStatusCode last = default;
        for (var i = 0; i < 10; i++)
            last = (await anon.PostAsync("/api/v1/sessions", Json(new { address = a, password = "guess" + i }))).StatusCode;
        Assert.Equal(HttpStatusCode.TooManyRequests, last);
        // Locked: the right password is refused too, and a further attempt sends no second notice.
        await Assert.ThrowsAsync<AuthenticationException>(() => host.Imap(a));

        await Eventually.Until(async () => await host.InboxCount(admin) >= 1, Wait, "the lockout notice to the domain admin");
        using var bossApi = await host.AdminSession(admin);
        var unlock = await bossApi.PostAsync($"/api/v1/accounts/{a}/unlock", null);
        Assert.Equal(HttpStatusCode.OK, unlock.StatusCode);
        Assert.True((await unlock.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("wasLocked").GetBoolean());

        using (var imap = await host.Imap(a)) await imap.DisconnectAsync(true);
        var subjects = await host.InboxSubjects(a);
        Assert.Equal(["Mail account locked after failed sign-ins"], subjects);
        Assert.Equal(1, await host.InboxCount(admin));

        var rows = await WaitForLogins(a, l => l.Count(r => Text(r, "result") == "locked-out") >= 2, "the locked-out attempts");
        Assert.Equal(9, rows.Count(r => Text(r, "result") == "bad-credentials"));
        // A user may not unlock: only an admin of the account's scope.
        using var user = await host.UserSession(a);
        Assert.Equal(HttpStatusCode.Forbidden, (await user.PostAsync($"/api/v1/accounts/{a}/unlock", null)).StatusCode);
    }

    [Fact]
    public async Task Ip_allow_lists_of_the_domain_and_a_department_refuse_and_log()
    {
        var d = await host.NewDomain();
        var inside = await host.NewAccount(d, "lab");
        var outside = await host.NewAccount(d, "office");
        var dep = await host.Super.PostAsync($"/api/v1/domains/{d}/departments", Json(new { name = "Lab" }));
        Assert.Equal(HttpStatusCode.Created, dep.StatusCode);
        var depId = (await dep.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetInt64();
        await host.Directory.AccountAsync(d, "lab", depId);

        // The domain lets in 127.0.0.2 and .3; the lab only .2.
        Assert.Equal(HttpStatusCode.Created, (await host.Super.PostAsync($"/api/v1/domains/{d}/login-ip-rules", Json(new { network = "127.0.0.2/32" }))).StatusCode);
        Assert.Equal(HttpStatusCode.Created, (await host.Super.PostAsync($"/api/v1/domains/{d}/login-ip-rules", Json(new { network = "127.0.0.3/32" }))).StatusCode);
        var labRule = await host.Super.PostAsync($"/api/v1/domains/{d}/login-ip-rules", Json(new { network = "127.0.0.2/32", departmentId = depId, note = "lab bench" }));
        Assert.Equal(HttpStatusCode.Created, labRule.StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await host.Super.PostAsync($"/api/v1/domains/{d}/login-ip-rules", Json(new { network = "10.0.0.1/8" }))).StatusCode);
        Assert.Equal(HttpStatusCode.Conflict, (await host.Super.PostAsync($"/api/v1/domains/{d}/login-ip-rules", Json(new { network = "127.0.0.3/32" }))).StatusCode);
        var rules = await host.Super.GetFromJsonAsync<JsonElement>($"/api/v1/domains/{d}/login-ip-rules");
        Assert.Equal(3, rules.GetArrayLength());

        // Rules are cached up to 5 s per silo: wait until the refusal shows.
        // The client is told why (the server's words, as MailKit's protocol log shows them).
        var refused = await Eventually.Value(async () =>
        {
            var log = new MemoryStream();
            try
            {
                using var c = await host.Imap(outside, log: log);
                await c.DisconnectAsync(true);
                return null;
            }
            catch (AuthenticationException)
            {
                return System.Text.Encoding.UTF8.GetString(log.ToArray());
            }
        }, m => m is not null, Wait, "the domain's allow-list to refuse 127.0.0.1");
        Assert.Contains("NO [AUTHENTICATIONFAILED] Logins from 127.0.0.1 are not allowed", refused);
        using (var c = await host.Imap(outside, source: PlaceB)) await c.DisconnectAsync(true);
        using (var c = await host.Imap(inside, source: PlaceA)) await c.DisconnectAsync(true);
        var labLog = new MemoryStream();
        await Assert.ThrowsAsync<AuthenticationException>(() => host.Imap(inside, source: PlaceB, log: labLog));
        Assert.Contains("outside the department's allow-list", System.Text.Encoding.UTF8.GetString(labLog.ToArray()));
        var smtpLog = new MemoryStream();
        await Assert.ThrowsAsync<AuthenticationException>(() => host.Smtp(inside, log: smtpLog));
        Assert.Contains("535 5.7.8 Logins from 127.0.0.1 are not allowed", System.Text.Encoding.UTF8.GetString(smtpLog.ToArray()));

        var rows = await WaitForLogins(inside, l => l.Count(r => Text(r, "result") == "address-not-allowed") >= 2, "the refusals of the lab account");
        Assert.Contains(rows, r => Text(r, "result") == "address-not-allowed" && Text(r, "clientIp") == PlaceB && Text(r, "reason").Contains("department"));

        // Removing the rules opens the domain again.
        foreach (var rule in rules.EnumerateArray())
            Assert.Equal(HttpStatusCode.NoContent, (await host.Super.DeleteAsync($"/api/v1/domains/{d}/login-ip-rules/{rule.GetProperty("id").GetInt64()}")).StatusCode);
        await Eventually.Until(async () =>
        {
            try
            {
                using var c = await host.Imap(outside);
                await c.DisconnectAsync(true);
                return true;
            }
            catch (AuthenticationException)
            {
                return false;
            }
        }, Wait, "127.0.0.1 allowed again");
    }

    [Fact]
    public async Task The_user_and_the_admins_see_login_history_and_the_send_and_receive_logs()
    {
        var d = await host.NewDomain();
        var a = await host.NewAccount(d, "me");
        var other = await host.NewAccount(d, "other");
        var admin = await host.NewAccount(d, "admin");
        await host.Grant(admin, "domain-admin", d);
        using (var c = await host.Imap(a, source: PlaceA)) await c.DisconnectAsync(true);
        await Assert.ThrowsAsync<AuthenticationException>(() => host.Imap(a, "wrong"));
        using (var c = await host.Imap(other)) await c.DisconnectAsync(true);
        await WaitForLogins(a, l => l.Count >= 2, "two records");

        using var user = await host.UserSession(a);
        var mine = await user.GetFromJsonAsync<JsonElement>("/api/v1/me/logins");
        var list = mine.GetProperty("logins").EnumerateArray().ToList();
        Assert.All(list, r => Assert.Equal(a, Text(r, "account")));
        Assert.Equal(["bad-credentials", "success"], list.Select(r => Text(r, "result")));
        // Paging: one at a time, newest first.
        var page = await user.GetFromJsonAsync<JsonElement>("/api/v1/me/logins?limit=1");
        var next = page.GetProperty("next").GetInt64();
        var page2 = await user.GetFromJsonAsync<JsonElement>($"/api/v1/me/logins?limit=1&before={next}");
        Assert.Equal("success", Text(page2.GetProperty("logins")[0], "result"));
        // A user sees no one else's.
        Assert.Equal(HttpStatusCode.Forbidden, (await user.GetAsync($"/api/v1/accounts/{other}/logins")).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await user.GetAsync($"/api/v1/domains/{d}/logins")).StatusCode);

        // The send and receive logs with their delivery status.
        using (var smtp = await host.Smtp(a))
        {
            var m = new MimeMessage();
            m.From.Add(MailboxAddress.Parse(a));
            m.To.Add(MailboxAddress.Parse(other));
            m.Subject = "hello";
            m.Body = new TextPart("plain") { Text = "hi" };
            await smtp.SendAsync(m);
            await smtp.DisconnectAsync(true);
        }
        await Eventually.Until(async () => await host.InboxCount(other) >= 1, Wait, "the message delivered");
        Assert.Equal(HttpStatusCode.OK, (await user.GetAsync("/api/v1/me/sent-log")).StatusCode);
        Assert.Equal(JsonValueKind.Array, (await user.GetFromJsonAsync<JsonElement>("/api/v1/me/received-log")).ValueKind);

        // The domain admin sees the domain's logins, every account's.
        using var boss = await host.AdminSession(admin);
        var domainRows = (await boss.GetFromJsonAsync<JsonElement>($"/api/v1/domains/{d}/logins")).GetProperty("logins").EnumerateArray().ToList();
        Assert.Contains(domainRows, r => Text(r, "account") == a);
        Assert.Contains(domainRows, r => Text(r, "account") == other);
        await Eventually.Value(() => host.Logins(a, boss), l => l.Count(r => Text(r, "channel") is "imap" or "smtp") == 3, Wait,
            "the admin sees the account's three logins");
        // An admin of another domain does not.
        var d2 = await host.NewDomain();
        var stranger = await host.NewAccount(d2, "admin");
        await host.Grant(stranger, "domain-admin", d2);
        using var strangerApi = await host.AdminSession(stranger);
        Assert.Equal(HttpStatusCode.Forbidden, (await strangerApi.GetAsync($"/api/v1/domains/{d}/logins")).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await strangerApi.GetAsync($"/api/v1/accounts/{a}/logins")).StatusCode);
    }

    [Fact]
    public async Task The_cli_manages_ip_rules_delegations_and_unlocks()
    {
        var d = await host.NewDomain();
        var a = await host.NewAccount(d, "cli");
        var b = await host.NewAccount(d, "cli2");
        var (code, output) = await host.Cli("login-ip-rule", "add", d, "192.0.2.0/24");
        Assert.Equal(0, code);
        var id = JsonDocument.Parse(output).RootElement.GetProperty("id").GetInt64();
        Assert.Equal(22, (await host.Cli("login-ip-rule", "add", d, "192.0.2.1/24")).ExitCode);
        Assert.Contains("192.0.2.0/24", (await host.Cli("login-ip-rule", "list", d)).Out);
        Assert.Equal(0, (await host.Cli("login-ip-rule", "del", d, id.ToString())).ExitCode);
        Assert.Equal("[]", (await host.Cli("login-ip-rule", "list", d)).Out);

        Assert.Equal(0, (await host.Cli("delegation", "add", a, b)).ExitCode);
        Assert.Contains(b, (await host.Cli("delegation", "list", a)).Out);
        Assert.Equal(0, (await host.Cli("delegation", "del", a, b)).ExitCode);
        Assert.Equal(22, (await host.Cli("delegation", "del", a, b)).ExitCode);

        await Assert.ThrowsAsync<AuthenticationException>(() => host.Imap(a, "wrong"));
        var logins = await Eventually.Value(async () => (await host.Cli("logins", a)).Out, o => o.Contains("bad-credentials"), Wait, "the failure listed");
        Assert.Contains("\"channel\":\"imap\"", logins);
        var unlock = await host.Cli("logins", "unlock", a);
        Assert.Equal(0, unlock.ExitCode);
        Assert.False(JsonDocument.Parse(unlock.Out).RootElement.GetProperty("wasLocked").GetBoolean());
    }

    // Known failing (issue 16, left open): the app password is revoked (204, and logins with it fail) but
    // the IMAP session that used it is not closed; the cause is not found yet.
    [Fact]
    public async Task Revoking_an_app_password_closes_the_imap_session_that_logged_in_with_it()
    {
        var d = await host.NewDomain();
        var a = await host.NewAccount(d, "phone");
        var created = await host.Super.PostAsync($"/api/v1/accounts/{a}/app-passwords", Json(new { name = "phone" }));
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        var appPassword = (await created.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("password").GetString()!;

        using var withApp = await host.Imap(a, appPassword);
        await withApp.Inbox.OpenAsync(FolderAccess.ReadWrite);
        using var withPassword = await host.Imap(a);
        await withPassword.Inbox.OpenAsync(FolderAccess.ReadOnly);

        using var user = await host.UserSession(a);
        var sessions = await user.GetFromJsonAsync<JsonElement>("/api/v1/me/sessions");
        Assert.Contains(sessions.EnumerateArray(), s => Text(s, "type") == "mail" && Text(s, "appPassword") == "phone");
        Assert.Contains(sessions.EnumerateArray(), s => Text(s, "type") == "api" && Text(s, "kind") == "user");
        var apps = await user.GetFromJsonAsync<JsonElement>("/api/v1/me/app-passwords");
        Assert.Equal("phone", Text(apps[0], "name"));

        Assert.Equal(HttpStatusCode.NoContent, (await user.DeleteAsync("/api/v1/me/app-passwords/phone")).StatusCode);
        await Eventually.Until(() => Closed(withApp, () => withApp.NoOpAsync()), Wait, "the app password's IMAP session closed");
        // The session of the account's password is another credential: it stays.
        await withPassword.NoOpAsync();
        Assert.True(withPassword.IsConnected);
        await Assert.ThrowsAsync<AuthenticationException>(() => host.Imap(a, appPassword));

        // Changing the password ends the sessions that used it.
        Assert.Equal(HttpStatusCode.NoContent, (await host.Super.PutAsync($"/api/v1/accounts/{a}/password", Json(new { password = "a new long password" }))).StatusCode);
        await Eventually.Until(() => Closed(withPassword, () => withPassword.NoOpAsync()), Wait, "the password's IMAP session closed");
    }

    [Fact]
    public async Task Revoking_an_app_password_is_audited_through_the_admin_endpoint_and_the_user_s_own()
    {
        var d = await host.NewDomain();
        var a = await host.NewAccount(d, "tablet");
        foreach (var name in new[] { "tablet", "laptop" })
            Assert.Equal(HttpStatusCode.Created, (await host.Super.PostAsync($"/api/v1/accounts/{a}/app-passwords", Json(new { name }))).StatusCode);

        Assert.Equal(HttpStatusCode.NoContent, (await host.Super.DeleteAsync($"/api/v1/accounts/{a}/app-passwords/tablet")).StatusCode);
        using (var user = await host.UserSession(a))
            Assert.Equal(HttpStatusCode.NoContent, (await user.DeleteAsync("/api/v1/me/app-passwords/laptop")).StatusCode);
        // Revoking what is gone already changes nothing and is no revocation.
        Assert.Equal(HttpStatusCode.NotFound, (await host.Super.DeleteAsync($"/api/v1/accounts/{a}/app-passwords/tablet")).StatusCode);

        var page = await host.Super.GetFromJsonAsync<JsonElement>($"/api/v1/audit?action=app-password.revoke&target={Uri.EscapeDataString(a)}");
        var revocations = page.GetProperty("items").EnumerateArray()
            .Select(e => (Text(e, "actor"), Text(e, "actorRole"), Text(e, "result"), JsonDocument.Parse(Text(e, "detail")).RootElement.GetProperty("name").GetString()))
            .ToList();
        Assert.Equal([("super", "super", "ok", "tablet"), (a, "user", "ok", "laptop")], revocations);
    }

    [Fact]
    public async Task The_user_and_the_admin_end_single_sessions()
    {
        var d = await host.NewDomain();
        var a = await host.NewAccount(d, "reader");
        using var pop = await host.Pop3(a, source: PlaceA);
        using var user = await host.UserSession(a);
        var mail = (await user.GetFromJsonAsync<JsonElement>("/api/v1/me/sessions")).EnumerateArray().Single(s => Text(s, "type") == "mail");
        Assert.Equal(("pop3", PlaceA), (Text(mail, "kind"), Text(mail, "clientIp")));
        Assert.Equal(HttpStatusCode.NoContent, (await user.DeleteAsync($"/api/v1/me/sessions/{Text(mail, "id")}")).StatusCode);
        await Eventually.Until(() => Closed(pop, () => pop.NoOpAsync()), Wait, "the POP3 session closed");

        // The admin ends the user's API session; the token stops working.
        var api = (await host.Super.GetFromJsonAsync<JsonElement>($"/api/v1/accounts/{a}/sessions")).EnumerateArray().Single(s => Text(s, "type") == "api");
        Assert.Equal(HttpStatusCode.NoContent, (await host.Super.DeleteAsync($"/api/v1/accounts/{a}/sessions/{Text(api, "id")}")).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await user.GetAsync("/api/v1/me/logins")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await host.Super.DeleteAsync($"/api/v1/accounts/{a}/sessions/{Text(api, "id")}")).StatusCode);
    }

    [Fact]
    public async Task A_delegate_logs_in_to_the_owners_mailbox_everywhere_and_loses_it_when_the_delegation_goes()
    {
        var d = await host.NewDomain();
        var owner = await host.NewAccount(d, "anna");
        var deputy = await host.NewAccount(d, "bert");
        var stranger = await host.NewAccount(d, "carl");
        var r = await host.Super.PostAsync("/api/v1/messages", Json(new { from = $"x@{d}", to = new[] { owner }, raw = Raw($"x@{d}", owner, "for anna") }));
        Assert.True(r.IsSuccessStatusCode);
        await Eventually.Until(async () => await host.InboxCount(owner) == 1, Wait, "anna's message");

        // Without a delegation an authzid is refused, and the refusal is logged as "bert for anna".
        await Assert.ThrowsAsync<AuthenticationException>(() => host.Imap(deputy, authzid: owner));
        using var annaApi = await host.UserSession(owner);
        var added = await annaApi.PostAsync("/api/v1/me/delegations", Json(new { @delegate = deputy }));
        Assert.Equal(HttpStatusCode.Created, added.StatusCode);
        Assert.Equal(HttpStatusCode.Conflict, (await annaApi.PostAsync("/api/v1/me/delegations", Json(new { @delegate = deputy }))).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await annaApi.PostAsync("/api/v1/me/delegations", Json(new { @delegate = owner }))).StatusCode);

        // IMAP and POP3 with bert's own password and the authzid anna: anna's mailbox.
        using var imap = await host.Imap(deputy, authzid: owner);
        await imap.Inbox.OpenAsync(FolderAccess.ReadOnly);
        Assert.Equal(1, imap.Inbox.Count);
        Assert.Equal("for anna", (await imap.Inbox.GetMessageAsync(0)).Subject);
        using (var pop = await host.Pop3(deputy, authzid: owner))
        {
            Assert.Equal(1, pop.Count);
            await pop.DisconnectAsync(true);
        }
        // SMTP: bert sends as anna.
        using (var smtp = await host.Smtp(deputy, authzid: owner))
        {
            var m = new MimeMessage();
            m.From.Add(MailboxAddress.Parse(owner));
            m.To.Add(MailboxAddress.Parse(stranger));
            m.Subject = "sent by bert for anna";
            m.Body = new TextPart("plain") { Text = "hi" };
            await smtp.SendAsync(m);
            await smtp.DisconnectAsync(true);
        }
        await Eventually.Until(async () => await host.InboxCount(stranger) == 1, Wait, "the message bert sent as anna");
        // Someone without a delegation still cannot.
        await Assert.ThrowsAsync<AuthenticationException>(() => host.Smtp(stranger, authzid: owner));
        // The user API: HTTP Basic with bert's credentials, acting for anna.
        using (var basic = host.Https(deputy, Password, actFor: owner))
            Assert.Equal(HttpStatusCode.OK, (await basic.GetAsync("/api/v1/me/address-book")).StatusCode);
        using (var basic = host.Https(stranger, Password, actFor: owner))
            Assert.Equal(HttpStatusCode.Unauthorized, (await basic.GetAsync("/api/v1/me/address-book")).StatusCode);

        var rows = await WaitForLogins(deputy, l => l.Count(x => Text(x, "result") == "success") >= 4, "bert's delegated logins");
        Assert.Equal(["http-basic", "imap", "pop3", "smtp"],
            rows.Where(x => Text(x, "result") == "success").Select(x => Text(x, "channel")).Order());
        Assert.All(rows, x => Assert.Equal(owner, Text(x, "actingFor")));
        Assert.Contains(rows, x => Text(x, "result") == "not-delegated");
        // Anna sees bert's logins to her mailbox in her own history, and his open session in her list.
        var annaRows = (await annaApi.GetFromJsonAsync<JsonElement>("/api/v1/me/logins")).GetProperty("logins").EnumerateArray().ToList();
        Assert.Contains(annaRows, x => Text(x, "account") == deputy && Text(x, "actingFor") == owner && Text(x, "channel") == "imap");
        var annaSessions = await annaApi.GetFromJsonAsync<JsonElement>("/api/v1/me/sessions");
        Assert.Contains(annaSessions.EnumerateArray(), s => Text(s, "actsFor") == $"{deputy} for {owner}");

        // The admin removes the delegation: bert's open session on anna's mailbox ends at once.
        Assert.Equal(HttpStatusCode.NoContent, (await host.Super.DeleteAsync($"/api/v1/accounts/{owner}/delegations/{deputy}")).StatusCode);
        await Eventually.Until(() => Closed(imap, () => imap.NoOpAsync()), Wait, "bert's IMAP session on anna's mailbox closed");
        await Assert.ThrowsAsync<AuthenticationException>(() => host.Imap(deputy, authzid: owner));
        await Assert.ThrowsAsync<AuthenticationException>(() => host.Pop3(deputy, authzid: owner));
        Assert.Equal(0, (await annaApi.GetFromJsonAsync<JsonElement>("/api/v1/me/delegations")).GetArrayLength());
        // Bert's own mailbox is untouched.
        using (var own = await host.Imap(deputy)) await own.DisconnectAsync(true);

        // The admin API creates one too, and the audit log has both changes.
        Assert.Equal(HttpStatusCode.Created, (await host.Super.PostAsync($"/api/v1/accounts/{owner}/delegations", Json(new { @delegate = stranger }))).StatusCode);
        using (var c = await host.Imap(stranger, authzid: owner)) await c.DisconnectAsync(true);
        await using var ds = Npgsql.NpgsqlDataSource.Create(host.ConnectionString);
        await using var cmd = ds.CreateCommand("SELECT action, actor FROM audit_log WHERE target = $1 AND action LIKE 'delegation.%' AND result = 'ok' ORDER BY id");
        cmd.Parameters.AddWithValue(owner);
        var audited = new List<string>();
        await using (var rd = await cmd.ExecuteReaderAsync())
            while (await rd.ReadAsync()) audited.Add($"{rd.GetString(0)} {rd.GetString(1)}");
        Assert.Equal([$"delegation.add {owner}", "delegation.remove super", "delegation.add super"], audited);
    }
}

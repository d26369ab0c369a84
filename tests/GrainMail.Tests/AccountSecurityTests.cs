using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.RegularExpressions;
using GrainMail.Tests.Infrastructure;
using MailKit.Net.Pop3;
using MailKit.Net.Smtp;
using MailKit.Security;

namespace GrainMail.Tests;

/// <summary>
/// Two-factor authentication, the policies that require it, app-password-only mail protocols,
/// password policy and weak-password statistics, forced change, self-service reset and forced TLS
/// (issue 16), against a real host over HTTPS, IMAP, POP3 and SMTP.
/// </summary>
public sealed partial class AccountSecurityTests(AccountSecurityFixture f) : IClassFixture<AccountSecurityFixture>
{
    private static async Task<JsonElement> Json(HttpResponseMessage r) => await r.Content.ReadFromJsonAsync<JsonElement>();

    private static async Task<string> Token(HttpResponseMessage r)
    {
        Assert.True(r.StatusCode == HttpStatusCode.Created, await r.Content.ReadAsStringAsync());
        return (await Json(r)).GetProperty("token").GetString()!;
    }

    [Fact]
    public async Task Totp_enrolment_then_logins_need_a_fresh_code_or_an_unused_recovery_code()
    {
        var d = await f.NewDomain();
        var alice = await f.NewAccount(d, "alice");
        // Before enrolment a password alone opens a user session.
        await Token(await f.UserLogin(alice));

        using var me = f.User(alice);
        var begin = await Json(await me.PostAsync("/api/v1/me/two-factor", null));
        var uri = begin.GetProperty("otpAuthUri").GetString()!;
        var secret = begin.GetProperty("secret").GetString()!;
        Assert.StartsWith($"otpauth://totp/GrainMail:{Uri.EscapeDataString(alice)}?secret={secret}&issuer=GrainMail", uri);
        var recovery = begin.GetProperty("recoveryCodes").EnumerateArray().Select(c => c.GetString()!).ToList();
        Assert.Equal(10, recovery.Distinct().Count());
        // Not on until confirmed, and only a right code confirms.
        Assert.False((await Json(await me.GetAsync("/api/v1/me/two-factor"))).GetProperty("enabled").GetBoolean());
        var first = f.Code(secret);
        var wrongDigit = (char)('0' + (first[0] - '0' + 5) % 10) + first[1..];
        await AccountSecurityFixture.Problem(await me.PostAsJsonAsync("/api/v1/me/two-factor/confirm", new { code = wrongDigit }), HttpStatusCode.BadRequest);
        Assert.Equal(HttpStatusCode.NoContent, (await me.PostAsJsonAsync("/api/v1/me/two-factor/confirm", new { code = first })).StatusCode);
        // From now on the account password is no longer a Basic credential (app passwords only): the admin view.
        Assert.True((await Json(await f.Super.GetAsync($"/api/v1/accounts/{alice}/two-factor"))).GetProperty("enabled").GetBoolean());

        // No code, a wrong code: 401 saying a code is needed.
        var none = await AccountSecurityFixture.Problem(await f.UserLogin(alice), HttpStatusCode.Unauthorized);
        Assert.Equal("Two-factor code required", none.GetProperty("title").GetString());
        Assert.Contains("code", none.GetProperty("detail").GetString());
        await AccountSecurityFixture.Problem(await f.UserLogin(alice, totp: "000000" == f.Code(secret, 1) ? "111111" : "000000"), HttpStatusCode.Unauthorized);
        // The code used to confirm is spent; the next step's code works once.
        await AccountSecurityFixture.Problem(await f.UserLogin(alice, totp: first), HttpStatusCode.Unauthorized);
        var next = f.Code(secret, 1);
        var token = await Token(await f.UserLogin(alice, totp: next));
        var replay = await AccountSecurityFixture.Problem(await f.UserLogin(alice, totp: next), HttpStatusCode.Unauthorized);
        Assert.Contains("already used", replay.GetProperty("detail").GetString());

        // The user token opens the user API.
        using (var bearer = f.User(bearer: token))
            Assert.Equal(HttpStatusCode.OK, (await bearer.GetAsync("/api/v1/me/two-factor")).StatusCode);

        // A recovery code works once.
        await Token(await f.UserLogin(alice, totp: recovery[0]));
        await AccountSecurityFixture.Problem(await f.UserLogin(alice, totp: recovery[0]), HttpStatusCode.Unauthorized);
        Assert.Equal(9, (await Json(await f.Super.GetAsync($"/api/v1/accounts/{alice}/two-factor"))).GetProperty("recoveryCodesLeft").GetInt32());

        // Later, a new step: a new code works again (the host's clock moves, not the test's).
        await f.AdvanceClockAsync(TimeSpan.FromSeconds(90));
        await Token(await f.UserLogin(alice, totp: f.Code(secret)));

        // The admin session login asks for the code too.
        Assert.Equal(HttpStatusCode.Created, (await f.Super.PostAsJsonAsync("/api/v1/roles", new { account = alice, role = "domain-admin", domain = d })).StatusCode);
        using var anon = new HttpClient { BaseAddress = new Uri(f.Host.BaseUrl) };
        var adminNoCode = await AccountSecurityFixture.Problem(
            await anon.PostAsJsonAsync("/api/v1/sessions", new { address = alice, password = AccountSecurityFixture.Password }), HttpStatusCode.Unauthorized);
        Assert.Equal("Two-factor code required", adminNoCode.GetProperty("title").GetString());
        await AccountSecurityFixture.Problem(
            await anon.PostAsJsonAsync("/api/v1/sessions", new { address = alice, password = AccountSecurityFixture.Password, totp = "12345" }), HttpStatusCode.Unauthorized);
        await f.AdvanceClockAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(HttpStatusCode.Created, (await anon.PostAsJsonAsync("/api/v1/sessions",
            new { address = alice, password = AccountSecurityFixture.Password, totp = f.Code(secret) })).StatusCode);

        // Enrolment, recovery-code use and disabling are in the audit log.
        await f.AdvanceClockAsync(TimeSpan.FromSeconds(30));
        using (var bearer = f.User(bearer: token))
            Assert.Equal(HttpStatusCode.NoContent, (await bearer.PostAsJsonAsync("/api/v1/me/two-factor/disable", new { code = f.Code(secret) })).StatusCode);
        Assert.Equal(3, await CountAudit(alice, "twofactor.enrol", "twofactor.recovery-code-used", "twofactor.disable"));
        await Token(await f.UserLogin(alice));
    }

    private async Task<long> CountAudit(string target, params string[] actions)
    {
        await using var ds = Npgsql.NpgsqlDataSource.Create(f.ConnectionString);
        await using var cmd = ds.CreateCommand("SELECT count(DISTINCT action) FROM audit_log WHERE target = @t AND action = ANY(@a)");
        cmd.Parameters.AddWithValue("t", target);
        cmd.Parameters.AddWithValue("a", actions);
        return (long)(await cmd.ExecuteScalarAsync())!;
    }

    [Fact]
    public async Task With_two_factor_on_imap_pop3_smtp_and_basic_take_only_app_passwords_and_say_why()
    {
        var d = await f.NewDomain();
        var bob = await f.NewAccount(d, "bob");
        var app = await f.AppPassword(bob);
        // Before enrolment the account password works everywhere.
        using (var ok = await f.Imap(bob, AccountSecurityFixture.Password)) Assert.True(ok.IsAuthenticated);
        await f.Enrol(bob);

        const string reason = "Two-factor authentication is on: use an app password";
        using (var imap = new MailKit.Net.Imap.ImapClient { ServerCertificateValidationCallback = (_, _, _, _) => true, Timeout = 30_000 })
        {
            await imap.ConnectAsync("127.0.0.1", f.Host.Listening.Imaps, SecureSocketOptions.SslOnConnect);
            // MailKit keeps the server's text out of its exception for IMAP; the raw line below shows it.
            await Assert.ThrowsAsync<AuthenticationException>(() => imap.AuthenticateAsync(bob, AccountSecurityFixture.Password));
        }
        // The exact IMAP line: NO [AUTHENTICATIONFAILED] with the reason.
        var (raw, _) = await RawImap.ConnectAsync(f.Host.Listening.Imaps, implicitTls: true);
        await using (raw)
        {
            var login = await raw.CommandAsync($"LOGIN {bob} \"{AccountSecurityFixture.Password}\"");
            Assert.Equal($"NO [AUTHENTICATIONFAILED] {reason}", login.Tagged);
        }
        using (var imap = await f.Imap(bob, app)) Assert.True(imap.IsAuthenticated);

        using (var smtp = new SmtpClient { ServerCertificateValidationCallback = (_, _, _, _) => true, Timeout = 30_000 })
        {
            await smtp.ConnectAsync("127.0.0.1", f.Host.Listening.Submissions, SecureSocketOptions.SslOnConnect);
            var e = await Assert.ThrowsAsync<AuthenticationException>(() => smtp.AuthenticateAsync(bob, AccountSecurityFixture.Password));
            Assert.Contains(reason, e.Message);
            await smtp.AuthenticateAsync(bob, app);
            Assert.True(smtp.IsAuthenticated);
        }
        var (rawSmtp, _) = await RawSmtp.ConnectAsync(f.Host.Listening.Submissions, implicitTls: true);
        await using (rawSmtp)
        {
            await rawSmtp.CommandAsync("EHLO client.test");
            var plain = Convert.ToBase64String(System.Text.Encoding.UTF8.GetBytes($"\0{bob}\0{AccountSecurityFixture.Password}"));
            Assert.Equal($"535 5.7.8 {reason}", (await rawSmtp.CommandAsync($"AUTH PLAIN {plain}")).TrimEnd());
        }

        using (var pop = new Pop3Client { ServerCertificateValidationCallback = (_, _, _, _) => true, Timeout = 30_000 })
        {
            await pop.ConnectAsync("127.0.0.1", f.Host.Listening.Pop3s, SecureSocketOptions.SslOnConnect);
            // MailKit's POP3 exception says "Authentication failed." whatever the server wrote; the raw transcript below shows the text.
            await Assert.ThrowsAsync<AuthenticationException>(() => pop.AuthenticateAsync(bob, AccountSecurityFixture.Password));
        }
        var (rawPop, _) = await RawImap.ConnectAsync(f.Host.Listening.Pop3s, implicitTls: true);
        await using (rawPop)
        {
            await rawPop.SendRawAsync($"USER {bob}\r\n");
            await rawPop.ReadLineAsync();
            await rawPop.SendRawAsync($"PASS {AccountSecurityFixture.Password}\r\n");
            Assert.Equal($"-ERR [AUTH] {reason}", await rawPop.ReadLineAsync());
        }
        using (var pop = new Pop3Client { ServerCertificateValidationCallback = (_, _, _, _) => true, Timeout = 30_000 })
        {
            await pop.ConnectAsync("127.0.0.1", f.Host.Listening.Pop3s, SecureSocketOptions.SslOnConnect);
            await pop.AuthenticateAsync(bob, app);
            Assert.True(pop.IsAuthenticated);
        }

        // HTTP Basic (user API, CardDAV) the same.
        using (var basic = f.User(bob))
        {
            var p = await AccountSecurityFixture.Problem(await basic.GetAsync("/api/v1/me/address-book?q=a"), HttpStatusCode.Unauthorized);
            Assert.Equal(reason, p.GetProperty("detail").GetString());
        }
        using (var basic = f.User(bob, app)) Assert.Equal(HttpStatusCode.OK, (await basic.GetAsync("/api/v1/me/address-book?q=a")).StatusCode);
    }

    [Fact]
    public async Task A_domain_policy_lets_a_user_without_two_factor_do_nothing_but_enrol_and_a_department_may_override_it()
    {
        var d = await f.NewDomain();
        var carol = await f.NewAccount(d, "carol");
        var dave = await f.NewAccount(d, "dave");
        var ops = await f.Super.PostAsJsonAsync($"/api/v1/domains/{d}/departments", new { name = "Ops" });
        Assert.Equal(HttpStatusCode.Created, ops.StatusCode);
        var opsId = (await Json(ops)).GetProperty("id").GetInt64();
        Assert.Equal(HttpStatusCode.OK, (await f.Super.PatchAsJsonAsync($"/api/v1/accounts/{dave}", new { departmentId = opsId })).StatusCode);

        var patched = await f.Super.PatchAsJsonAsync($"/api/v1/domains/{d}/security-policy", new { twoFactorRequired = true });
        Assert.True((await Json(patched)).GetProperty("twoFactorRequired").GetBoolean());
        Assert.Equal(HttpStatusCode.NoContent,
            (await f.Super.PutAsJsonAsync($"/api/v1/domains/{d}/departments/{opsId}/security-policy", new { twoFactorRequired = false })).StatusCode);

        var login = await f.UserLogin(carol);
        Assert.Equal(HttpStatusCode.Created, login.StatusCode);
        var body = await Json(login);
        var token = body.GetProperty("token").GetString()!;
        Assert.Equal(new[] { "enrolTwoFactor" }, body.GetProperty("restrictions").EnumerateArray().Select(x => x.GetString()!).ToArray());
        using var session = f.User(bearer: token);
        var blocked = await AccountSecurityFixture.Problem(await session.GetAsync("/api/v1/me/address-book?q=a"), HttpStatusCode.Forbidden);
        Assert.Equal("Two-factor enrolment required", blocked.GetProperty("title").GetString());
        await AccountSecurityFixture.Problem(await session.PostAsJsonAsync($"/api/v1/accounts/{carol}/app-passwords", new { name = "x" }), HttpStatusCode.Forbidden);
        // Enrolment is what it may do; then everything opens, in the same session.
        var begin = await Json(await session.PostAsync("/api/v1/me/two-factor", null));
        var secret = begin.GetProperty("secret").GetString()!;
        Assert.Equal(HttpStatusCode.NoContent, (await session.PostAsJsonAsync("/api/v1/me/two-factor/confirm", new { code = f.Code(secret) })).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await session.GetAsync("/api/v1/me/address-book?q=a")).StatusCode);
        // Required: the user cannot turn it off again.
        await f.AdvanceClockAsync(TimeSpan.FromSeconds(30));
        await AccountSecurityFixture.Problem(await session.PostAsJsonAsync("/api/v1/me/two-factor/disable", new { code = f.Code(secret) }), HttpStatusCode.Forbidden);

        // The Ops department is exempt.
        var daveLogin = await f.UserLogin(dave);
        Assert.Equal(HttpStatusCode.Created, daveLogin.StatusCode);
        Assert.Empty((await Json(daveLogin)).GetProperty("restrictions").EnumerateArray());
    }

    [Fact]
    public async Task The_password_policy_refuses_each_rule_on_every_way_a_password_is_set()
    {
        var d = await f.NewDomain();
        var erin = await f.NewAccount(d, "erin");
        var r = await f.Super.PatchAsJsonAsync($"/api/v1/domains/{d}/security-policy", new
        {
            passwordMinLength = 12,
            passwordMinClasses = 3,
            passwordForbidName = true,
            passwordForbidCommon = true,
            passwordHistory = 2,
        });
        Assert.Equal(HttpStatusCode.OK, r.StatusCode);
        await AccountSecurityFixture.Problem(await f.Super.PatchAsJsonAsync($"/api/v1/domains/{d}/security-policy", new { passwordMinLength = 4 }), HttpStatusCode.BadRequest);

        async Task<string> Refused(string password)
        {
            var p = await AccountSecurityFixture.Problem(await f.Super.PutAsJsonAsync($"/api/v1/accounts/{erin}/password", new { password }), HttpStatusCode.BadRequest);
            Assert.Equal("Password does not meet the policy", p.GetProperty("title").GetString());
            return string.Join(" | ", p.GetProperty("violations").EnumerateArray().Select(v => v.GetString()));
        }
        Assert.Contains("at least 12 characters", await Refused("Sh0rt!pass"));
        Assert.Contains("kinds of characters", await Refused("onlylowercaseletters"));
        Assert.Contains("account's name", await Refused("Erin-Is-Great-42"));
        Assert.Contains("common passwords", await Refused("Qwertyuiop123!"));

        // History: the last two passwords (the current one and the one before) come back refused.
        const string first = "Blue-Harbour-Lamp-71", second = "Green-Meadow-Kite-38";
        Assert.Equal(HttpStatusCode.NoContent, (await f.Super.PutAsJsonAsync($"/api/v1/accounts/{erin}/password", new { password = first })).StatusCode);
        Assert.Equal(HttpStatusCode.NoContent, (await f.Super.PutAsJsonAsync($"/api/v1/accounts/{erin}/password", new { password = second })).StatusCode);
        Assert.Contains("last 2 passwords", await Refused(first));

        // The user's own change and account creation go through the same policy.
        using (var me = f.User(erin, second))
        {
            var p = await AccountSecurityFixture.Problem(await me.PutAsJsonAsync("/api/v1/me/password", new { currentPassword = second, newPassword = "password1" }),
                HttpStatusCode.BadRequest);
            Assert.Contains("common passwords", p.GetProperty("detail").GetString());
            await AccountSecurityFixture.Problem(await me.PutAsJsonAsync("/api/v1/me/password", new { currentPassword = "wrong one", newPassword = "Red-Canyon-Drum-55" }),
                HttpStatusCode.BadRequest);
            Assert.Equal(HttpStatusCode.NoContent, (await me.PutAsJsonAsync("/api/v1/me/password", new { currentPassword = second, newPassword = "Red-Canyon-Drum-55" })).StatusCode);
        }
        await AccountSecurityFixture.Problem(await f.Super.PostAsJsonAsync($"/api/v1/domains/{d}/accounts", new { localPart = "frank", password = "frank-is-12345" }),
            HttpStatusCode.BadRequest);
        using (var imap = await f.Imap(erin, "Red-Canyon-Drum-55")) Assert.True(imap.IsAuthenticated);
    }

    [Fact]
    public async Task Weak_passwords_are_listed_after_a_login_and_a_forced_change_restricts_only_interactive_sessions()
    {
        var d = await f.NewDomain();
        var gina = await f.NewAccount(d, "gina"); // "correct horse battery": one kind of character
        var hank = await f.NewAccount(d, "hank", "Strong-Enough-Pass-9");
        Assert.Equal(HttpStatusCode.OK, (await f.Super.PatchAsJsonAsync($"/api/v1/domains/{d}/security-policy", new { passwordMinClasses = 3 })).StatusCode);
        // Judged at the next password login (never stored in clear: only the verdict).
        using (var c = await f.Imap(gina, AccountSecurityFixture.Password)) Assert.True(c.IsAuthenticated);
        using (var c = await f.Imap(hank, "Strong-Enough-Pass-9")) Assert.True(c.IsAuthenticated);
        var weak = await Json(await f.Super.GetAsync($"/api/v1/domains/{d}/weak-passwords"));
        var entry = Assert.Single(weak.EnumerateArray());
        Assert.Equal(gina, entry.GetProperty("address").GetString());
        Assert.Contains("kinds of characters", entry.GetProperty("violations")[0].GetString());

        // Force a change at next login: the existing directory flag.
        Assert.Equal(HttpStatusCode.OK, (await f.Super.PatchAsJsonAsync($"/api/v1/accounts/{gina}", new { mustChangePassword = true })).StatusCode);
        var login = await f.UserLogin(gina);
        Assert.Equal(HttpStatusCode.Created, login.StatusCode);
        var body = await Json(login);
        var token = body.GetProperty("token").GetString()!;
        Assert.Equal(new[] { "changePassword" }, body.GetProperty("restrictions").EnumerateArray().Select(x => x.GetString()!).ToArray());
        using var session = f.User(bearer: token);
        var blocked = await AccountSecurityFixture.Problem(await session.GetAsync("/api/v1/me/address-book?q=a"), HttpStatusCode.Forbidden);
        Assert.Equal("Password change required", blocked.GetProperty("title").GetString());
        // Mail clients keep working until the change.
        using (var c = await f.Imap(gina, AccountSecurityFixture.Password)) Assert.True(c.IsAuthenticated);
        Assert.Equal(HttpStatusCode.NoContent, (await session.PutAsJsonAsync("/api/v1/me/password",
            new { currentPassword = AccountSecurityFixture.Password, newPassword = "Correct-Horse-Battery-1" })).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await session.GetAsync("/api/v1/me/address-book?q=a")).StatusCode);
        Assert.False((await Json(await f.Super.GetAsync($"/api/v1/accounts/{gina}"))).GetProperty("mustChangePassword").GetBoolean());
        Assert.Empty((await Json(await f.Super.GetAsync($"/api/v1/domains/{d}/weak-passwords"))).EnumerateArray());

        // An admin reset can set the flag in the same call.
        Assert.Equal(HttpStatusCode.NoContent, (await f.Super.PutAsJsonAsync($"/api/v1/accounts/{hank}/password",
            new { password = "Temporary-Pass-2024", mustChangePassword = true })).StatusCode);
        Assert.Equal(new[] { "changePassword" }, (await Json(await f.UserLogin(hank, "Temporary-Pass-2024"))).GetProperty("restrictions")
            .EnumerateArray().Select(x => x.GetString()!).ToArray());
    }

    [GeneratedRegex(@"code is: (\d{6})")]
    private static partial Regex VerificationCode();

    [GeneratedRegex(@"Reset token: (gmr_\S+)")]
    private static partial Regex ResetToken();

    [Fact]
    public async Task A_reset_link_goes_to_the_verified_secondary_address_works_once_and_expires_after_30_minutes()
    {
        var d = await f.NewDomain();
        var ivy = await f.NewAccount(d, "ivy");
        var spare = await f.NewAccount(d, "spare");
        using (var me = f.User(ivy))
        {
            Assert.Equal(HttpStatusCode.Accepted, (await me.PutAsJsonAsync("/api/v1/me/secondary-address", new { address = spare })).StatusCode);
            var code = VerificationCode().Match(await f.WaitForMail(spare, AccountSecurityFixture.Password, "Confirm your secondary address")).Groups[1].Value;
            await AccountSecurityFixture.Problem(await me.PostAsJsonAsync("/api/v1/me/secondary-address/verify", new { code = code == "000000" ? "111111" : "000000" }),
                HttpStatusCode.BadRequest);
            Assert.Equal(HttpStatusCode.NoContent, (await me.PostAsJsonAsync("/api/v1/me/secondary-address/verify", new { code })).StatusCode);
        }
        using var anon = f.User();
        async Task<string> RequestLink(int nth)
        {
            Assert.Equal(HttpStatusCode.Accepted, (await anon.PostAsJsonAsync("/api/v1/password-resets", new { address = ivy })).StatusCode);
            return ResetToken().Match(await f.WaitForMail(spare, AccountSecurityFixture.Password, "Reset your password", nth)).Groups[1].Value;
        }
        // An unknown address gets the same answer (nothing to enumerate).
        Assert.Equal(HttpStatusCode.Accepted, (await anon.PostAsJsonAsync("/api/v1/password-resets", new { address = $"nobody@{d}" })).StatusCode);

        var token = await RequestLink(1);
        Assert.Equal(HttpStatusCode.NoContent, (await anon.PostAsJsonAsync("/api/v1/password-resets/complete", new { token, password = "Reset-Once-Only-1" })).StatusCode);
        await AccountSecurityFixture.Problem(await anon.PostAsJsonAsync("/api/v1/password-resets/complete", new { token, password = "Reset-Twice-Over-2" }), HttpStatusCode.Gone);
        using (var c = await f.Imap(ivy, "Reset-Once-Only-1")) Assert.True(c.IsAuthenticated);

        var late = await RequestLink(2);
        await f.AdvanceClockAsync(TimeSpan.FromMinutes(31));
        await AccountSecurityFixture.Problem(await anon.PostAsJsonAsync("/api/v1/password-resets/complete", new { token = late, password = "Too-Late-Now-3" }), HttpStatusCode.Gone);
        using (var c = await f.Imap(ivy, "Reset-Once-Only-1")) Assert.True(c.IsAuthenticated);

        // Three links an hour per account.
        await RequestLink(3);
        await AccountSecurityFixture.Problem(await anon.PostAsJsonAsync("/api/v1/password-resets", new { address = ivy }), HttpStatusCode.TooManyRequests);
        Assert.True(await CountAudit(ivy, "password.reset", "password.reset-request") == 2);
    }

    [Fact]
    public async Task Authentication_only_over_tls_is_a_visible_domain_setting_and_the_refusals_name_the_port()
    {
        var d = await f.NewDomain();
        var settings = await Json(await f.Super.GetAsync($"/api/v1/domains/{d}/settings"));
        Assert.True(settings.GetProperty("authRequiresTls").GetBoolean());
        var off = await Json(await f.Super.PatchAsJsonAsync($"/api/v1/domains/{d}", new { authRequiresTls = false }));
        Assert.False(off.GetProperty("authRequiresTls").GetBoolean());
        Assert.False((await Json(await f.Super.GetAsync($"/api/v1/domains/{d}/security-policy"))).GetProperty("authRequiresTls").GetBoolean());

        var (imap, _) = await RawImap.ConnectAsync(f.Host.Listening.Imap);
        await using (imap)
        {
            var login = await imap.CommandAsync($"LOGIN someone@{d} secret");
            Assert.Equal("NO [PRIVACYREQUIRED] Authentication needs TLS: use STARTTLS first, or connect to port 993 (IMAPS)", login.Tagged);
        }
        var (smtp, _) = await RawSmtp.ConnectAsync(f.Host.Listening.Submission);
        await using (smtp)
        {
            await smtp.CommandAsync("EHLO client.test");
            Assert.Contains("port 465", await smtp.CommandAsync("AUTH PLAIN AHVzZXIAcGFzcw=="));
        }
        var (pop, _) = await RawImap.ConnectAsync(f.Host.Listening.Pop3);
        await using (pop)
        {
            await pop.SendRawAsync("USER someone\r\n");
            Assert.Equal("-ERR [AUTH] Authentication needs TLS: use STLS first, or connect to port 995 (POP3S)", await pop.ReadLineAsync());
        }
    }
}

using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text;
using GrainMail.Tests.Infrastructure;
using MailKit.Net.Smtp;

namespace GrainMail.Tests;

/// <summary>
/// Recipient resolution outside SMTP RCPT (issue 15): a Sieve redirect posts to a list under the
/// list's rule, a DSN to a list address reaches the list's owner and never its members; the
/// ereject flag comes from the domain's verdict (issue 17); the grainmail script's sieve verbs.
/// </summary>
public sealed partial class SieveEndToEndTests
{
    private static string Unique(string prefix) => prefix + Guid.NewGuid().ToString("N")[..8];

    private async Task NewList(string name, string policy, IEnumerable<string> members, IEnumerable<string>? moderators = null)
    {
        var created = await host.Host.Http.PostAsJsonAsync($"/api/v1/domains/{D}/lists",
            new { name, postPolicy = policy, moderators = moderators?.ToList() ?? [] });
        Assert.True(created.StatusCode == HttpStatusCode.Created, await created.Content.ReadAsStringAsync());
        foreach (var m in members)
        {
            var added = await host.Host.Http.PostAsJsonAsync($"/api/v1/domains/{D}/lists/{name}/members", new { account = m });
            Assert.True(added.StatusCode == HttpStatusCode.Created, await added.Content.ReadAsStringAsync());
        }
    }

    [Fact]
    public async Task A_redirect_to_a_list_reaches_its_members_under_the_lists_posting_rule()
    {
        var (user, m1, m2, m3) = (Unique("rd"), Unique("ma"), Unique("mb"), Unique("mc"));
        foreach (var a in new[] { user, m1, m2, m3 }) await host.NewAccount(a);
        var (open, closed) = (Unique("open"), Unique("closed"));
        await NewList(open, "anyone", [$"{m1}@{D}", $"{m2}@{D}"]);
        await NewList(closed, "members", [$"{m3}@{D}"]);
        await ActivateAsync($"{user}@{D}",
            $"if header :contains \"subject\" \"internal\" {{ redirect \"{closed}@{D}\"; }} else {{ redirect \"{open}@{D}\"; }}\n");

        // Anyone may post to the open list: both members get the redirected message, and no copy stays.
        await SendAsync(host.Mx, "x@far.example", $"{user}@{D}", "Open news");
        Assert.Contains(await WaitPlacedAsync($"{m1}@{D}", 1), p => p.Subject == "Open news");
        Assert.Contains(await WaitPlacedAsync($"{m2}@{D}", 1), p => p.Subject == "Open news");
        // Only members may post to the closed one, and the redirect keeps the outside sender: refused,
        // so the message stays in the account's INBOX and the list's member gets nothing.
        await SendAsync(host.Mx, "x@far.example", $"{user}@{D}", "internal memo");
        Assert.Contains(await WaitPlacedAsync($"{user}@{D}", 1), p => p is { Folder: "INBOX", Subject: "internal memo" });
        Assert.DoesNotContain(await PlacedAsync($"{user}@{D}"), p => p.Subject == "Open news");
        Assert.Empty(await PlacedAsync($"{m3}@{D}"));
    }

    [Fact]
    public async Task A_dsn_to_a_list_address_goes_to_the_lists_owner_and_never_to_its_members()
    {
        var (user, moderator, member) = (Unique("rj"), Unique("mod"), Unique("mem"));
        foreach (var a in new[] { user, moderator, member }) await host.NewAccount(a);
        var list = Unique("team");
        await NewList(list, "anyone", [$"{member}@{D}"], [$"{moderator}@{D}"]);
        await ActivateAsync($"{user}@{D}", "require \"reject\";\nreject \"Not accepted here.\";\n");

        // Mail whose envelope sender is the list: the rejection's DSN is addressed to the list.
        await SendAsync(host.Mx, $"{list}@{D}", $"{user}@{D}", "To be refused");
        await Eventually.Until(async () => (await host.StoredMessages($"{moderator}@{D}")).Any(b => Encoding.UTF8.GetString(b).Contains("Not accepted here.")),
            TimeSpan.FromSeconds(30), "the DSN at the list's owner (its moderator)");
        Assert.Empty(await PlacedAsync($"{member}@{D}"));
        Assert.Empty(await PlacedAsync($"{user}@{D}"));
    }

    /// <summary>Issue 17: the domain's policy on automatic forwarding outside holds for aliases too, not only Sieve redirects.</summary>
    [Fact]
    public async Task The_forwarding_policy_holds_for_aliases_that_forward_outside()
    {
        var local = Unique("fl");
        await host.NewAccount(local);
        var (outside, mixed) = (Unique("fo"), Unique("fm"));
        foreach (var (alias, targets) in new[] { (outside, new[] { "far@" + SieveHostFixture.External }), (mixed, new[] { "far@" + SieveHostFixture.External, $"{local}@{D}" }) })
        {
            var made = await host.Host.Http.PostAsJsonAsync($"/api/v1/domains/{D}/aliases", new { alias, targets });
            Assert.True(made.IsSuccessStatusCode, await made.Content.ReadAsStringAsync());
        }
        var deny = await host.Host.Http.PatchAsync($"/api/v1/domains/{D}", new StringContent("{\"externalForwarding\":\"denied\"}", Encoding.UTF8, "application/json"));
        Assert.True(deny.IsSuccessStatusCode, await deny.Content.ReadAsStringAsync());
        try
        {
            // Only an outside target: refused at RCPT with the reason.
            var refused = await Assert.ThrowsAsync<SmtpCommandException>(() => SendAsync(host.Mx, "x@far.example", $"{outside}@{D}", "Forward me"));
            Assert.Equal(SmtpStatusCode.MailboxUnavailable, refused.StatusCode);
            Assert.Contains("policy", refused.Message);
            // A local target beside it: accepted for the local one only.
            await SendAsync(host.Mx, "x@far.example", $"{mixed}@{D}", "Mixed one");
            Assert.Contains(await WaitPlacedAsync($"{local}@{D}", 1), p => p.Subject == "Mixed one");
        }
        finally
        {
            await host.Host.Http.PatchAsync($"/api/v1/domains/{D}", new StringContent("{\"externalForwarding\":\"allowed\"}", Encoding.UTF8, "application/json"));
        }
        // Allowed again: the outside target gets its copy; the first one never left.
        await SendAsync(host.Mx, "x@far.example", $"{outside}@{D}", "Forward me now");
        await Eventually.Until(() => Task.FromResult(host.Mta.Received.Any(m => Encoding.UTF8.GetString(m.Data).Contains("Subject: Forward me now"))),
            TimeSpan.FromSeconds(40), "the forwarded copy");
        Assert.DoesNotContain(host.Mta.Received, m => Encoding.UTF8.GetString(m.Data).Contains("Subject: Mixed one"));
    }

    [Fact]
    public async Task Ereject_follows_the_scripts_activation_through_the_domain()
    {
        var user = Unique("er");
        await host.NewAccount(user);
        await ActivateAsync($"{user}@{D}", "require \"ereject\";\nif header :contains \"subject\" \"casino\" { ereject \"No casinos.\"; }\n");
        var refused = await Assert.ThrowsAsync<SmtpCommandException>(() => SendAsync(host.Mx, "promo@" + SieveHostFixture.External, $"{user}@{D}", "Casino royale"));
        Assert.Equal(SmtpStatusCode.MailboxUnavailable, refused.StatusCode); // 550 at DATA
        Assert.Contains("No casinos.", refused.Message);

        // Deactivated: the domain's verdict no longer names the account, the mail is accepted and kept.
        using var me = host.UserClient($"{user}@{D}");
        Assert.Equal(HttpStatusCode.NoContent, (await me.PostAsync("/api/v1/me/sieve/deactivate", null)).StatusCode);
        await SendAsync(host.Mx, "promo@" + SieveHostFixture.External, $"{user}@{D}", "Casino again");
        Assert.Contains(await WaitPlacedAsync($"{user}@{D}", 1), p => p is { Folder: "INBOX", Subject: "Casino again" });

        // Active again (through the user API this time): refused again.
        Assert.Equal(HttpStatusCode.NoContent, (await me.PostAsync("/api/v1/me/sieve/main/activate", null)).StatusCode);
        var again = await Assert.ThrowsAsync<SmtpCommandException>(() => SendAsync(host.Mx, "promo@" + SieveHostFixture.External, $"{user}@{D}", "Casino night"));
        Assert.Equal(SmtpStatusCode.MailboxUnavailable, again.StatusCode);
    }

    /// <summary>Runs <c>./grainmail ARGS</c> as a mail user (HTTP Basic over the node's HTTPS listener).</summary>
    private async Task<(int ExitCode, string Out)> CliAs(string user, string password, params string[] args)
    {
        var r = await GrainmailCli.Run(new Dictionary<string, string>
        {
            ["GRAINMAIL_HTTPS"] = $"https://127.0.0.1:{host.Https}",
            ["GRAINMAIL_CACERT"] = Path.Combine(host.DataDir, "tls", "cert.pem"),
            ["GRAINMAIL_USER"] = user,
            ["GRAINMAIL_PASSWORD"] = password,
        }, args);
        return (r.ExitCode, r.Out);
    }

    [Fact]
    public async Task The_grainmail_script_manages_the_users_own_sieve_scripts()
    {
        var user = $"{Unique("cli")}@{D}";
        await host.NewAccount(LocalPart(user));
        var file = Path.Combine(host.DataDir, $"{Guid.NewGuid():N}.sieve");
        await File.WriteAllTextAsync(file, "require [\"fileinto\", \"mailbox\"];\nif header :contains \"subject\" \"cli\" {\n  fileinto :create \"FromCli\";\n}\n");
        var broken = Path.Combine(host.DataDir, $"{Guid.NewGuid():N}.sieve");
        await File.WriteAllTextAsync(broken, "require \"fileinto\";\nfileinto \"x\"\n");
        var pw = SmtpHostFixture.Password;

        var put = await CliAs(user, pw, "sieve", "put", "rules", file);
        Assert.True(put.ExitCode == 0, put.Out);
        Assert.Contains("\"name\":\"rules\"", put.Out);
        Assert.Contains("\"name\":\"rules\"", (await CliAs(user, pw, "sieve", "list")).Out);
        Assert.Equal(0, (await CliAs(user, pw, "sieve", "activate", "rules")).ExitCode);
        var got = await CliAs(user, pw, "sieve", "get", "rules");
        Assert.Contains("\"active\":true", got.Out);
        Assert.Contains("fileinto :create", got.Out);
        // The script works at delivery.
        await SendAsync(host.Mx, "x@far.example", user, "cli test");
        Assert.Contains(await WaitPlacedAsync(user, 1), p => p is { Folder: "FromCli", Subject: "cli test" });
        // A broken script is refused with its line (curl's exit code 22: an HTTP error); the active one cannot be deleted.
        var refused = await CliAs(user, pw, "sieve", "put", "broken", broken);
        Assert.Equal(22, refused.ExitCode);
        Assert.Contains("\"line\":", refused.Out);
        Assert.Equal(22, (await CliAs(user, pw, "sieve", "delete", "rules")).ExitCode);
        Assert.Equal(0, (await CliAs(user, pw, "sieve", "deactivate")).ExitCode);
        Assert.Equal(0, (await CliAs(user, pw, "sieve", "delete", "rules")).ExitCode);
        Assert.Equal("[]", (await CliAs(user, pw, "sieve", "list")).Out);
        // The user's autocomplete, the other user endpoint with a verb.
        var found = await CliAs(user, pw, "address-book", "search", LocalPart(user), "5");
        Assert.True(found.ExitCode == 0, found.Out);
        Assert.Contains($"\"{user}\"", found.Out);
        // The wrong password gets nothing.
        Assert.Equal(22, (await CliAs(user, "wrong password", "sieve", "list")).ExitCode);
    }

    /// <summary>Runs <c>./grainmail ARGS</c> as the operator (the bootstrap token over the admin API).</summary>
    private async Task<(int ExitCode, string Out)> CliAdmin(params string[] args)
    {
        var r = await GrainmailCli.AsOperator(host.Host.BaseUrl, args);
        return (r.ExitCode, r.Out);
    }

    /// <summary>The reviewers' and administrators' governance verbs reach their endpoints (issue 17: "API and CLI for reviewers").</summary>
    [Fact]
    public async Task The_grainmail_script_governance_verbs_reach_their_endpoints()
    {
        foreach (var args in new[]
        {
            new[] { "approval", "held", D }, ["approval", "rules", D], ["monitoring", "list", D], ["governance", "show", D],
            ["report", "daily", D], ["report", "accounts", D],
        })
        {
            var (code, output) = await CliAdmin(args);
            Assert.True(code == 0, $"{string.Join(' ', args)}: {output}");
        }
        Assert.Equal(0, (await CliAdmin("governance", "recall-days", D, "9")).ExitCode);
        Assert.Contains("9", (await CliAdmin("governance", "show", D)).Out);
        var csv = await CliAdmin("report", "daily", D, "--csv");
        Assert.Equal(0, csv.ExitCode);
        Assert.Contains(",", csv.Out);
        // A reviewer's action on a message that is not held: an HTTP error, exit code 22.
        Assert.Equal(22, (await CliAdmin("approval", "approve", Guid.NewGuid().ToString())).ExitCode);
    }

    private static string LocalPart(string address) => address[..address.IndexOf('@')];
}

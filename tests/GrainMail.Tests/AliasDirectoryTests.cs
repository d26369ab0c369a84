using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using GrainMail.Storage.Blobs;
using GrainMail.Tests.Infrastructure;
using MailKit.Net.Smtp;
using MailKit.Security;
using MimeKit;
using Npgsql;

namespace GrainMail.Tests;

/// <summary>
/// Account aliases and domain aliases (issue 15, 4.2.1 and 4.2.3) end to end: the admin API sets
/// them up, MailKit sends over real TCP to the MX and submission listeners, and the mailboxes
/// show where the mail went. Each test makes its own domains, so the limits it changes are its own.
/// </summary>
public sealed class AliasDirectoryTests(SmtpHostFixture host) : IClassFixture<SmtpHostFixture>
{
    private const string Password = SmtpHostFixture.Password;

    private HttpClient Http => host.Host.Http;

    private static SmtpClient Client() => new() { ServerCertificateValidationCallback = (_, _, _, _) => true, Timeout = 30_000 };

    private static StringContent Json(object body) => new(JsonSerializer.Serialize(body), Encoding.UTF8, "application/json");

    private Task<HttpResponseMessage> Post(string path, object body) => Http.PostAsync(path, Json(body));

    private static string Unique(string prefix) => $"{prefix}{Guid.NewGuid().ToString("N")[..8]}.test";

    private async Task<string> NewDomain(string prefix = "al")
    {
        var name = Unique(prefix);
        Assert.Equal(HttpStatusCode.Created, (await Post("/api/v1/domains", new { name })).StatusCode);
        return name;
    }

    private async Task NewAccounts(string domain, params string[] localParts)
    {
        foreach (var lp in localParts) await host.NewAccount(lp, domain);
    }

    private async Task<HttpResponseMessage> AddAlias(string account, string alias) =>
        await Post($"/api/v1/accounts/{account}/aliases", new { alias });

    private static async Task AssertStatus(HttpStatusCode expected, HttpResponseMessage r)
    {
        var body = await r.Content.ReadAsStringAsync();
        Assert.True(expected == r.StatusCode, $"expected {(int)expected}, got {(int)r.StatusCode}: {body}");
        if ((int)expected >= 400) Assert.Equal("application/problem+json", r.Content.Headers.ContentType?.MediaType);
    }

    private static MimeMessage Message(string from, string to, string subject)
    {
        var m = new MimeMessage();
        m.From.Add(MailboxAddress.Parse(from));
        m.To.Add(MailboxAddress.Parse(to));
        m.Subject = subject;
        m.Body = new TextPart("plain") { Text = $"For {to}.\r\n" };
        return m;
    }

    private async Task SendMx(MimeMessage m)
    {
        using var c = Client();
        await c.ConnectAsync("127.0.0.1", host.Mx, SecureSocketOptions.None);
        await c.SendAsync(m);
        await c.DisconnectAsync(true);
    }

    /// <summary>Sends over submission as <paramref name="user"/>, with the envelope sender given or taken from From:.</summary>
    private async Task SendAs(string user, MimeMessage m, string? envelopeFrom = null)
    {
        using var c = Client();
        await c.ConnectAsync("127.0.0.1", host.Submission, SecureSocketOptions.StartTls);
        await c.AuthenticateAsync(user, Password);
        if (envelopeFrom is null) await c.SendAsync(m);
        else await c.SendAsync(m, MailboxAddress.Parse(envelopeFrom), m.To.Mailboxes);
        await c.DisconnectAsync(true);
    }

    private async Task<string> StoredSubjects(string address) =>
        string.Join("|", (await host.StoredMessages(address)).Select(b => MimeMessage.Load(new MemoryStream(b)).Subject));

    private async Task WaitForSubject(string address, string subject) =>
        await Eventually.Value(() => StoredSubjects(address), s => s.Contains(subject, StringComparison.Ordinal), TimeSpan.FromSeconds(30),
            $"'{subject}' in {address}", poll: TimeSpan.FromMilliseconds(100));

    [Fact]
    public async Task An_account_receives_at_its_alias_over_MX_submission_and_the_API()
    {
        var d = await NewDomain();
        await NewAccounts(d, "alice", "bob");
        var r = await AddAlias($"alice@{d}", "Sales.Team");
        await AssertStatus(HttpStatusCode.Created, r);
        var created = await r.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal("sales.team", created.GetProperty("alias").GetString());
        Assert.Equal($"sales.team@{d}", created.GetProperty("address").GetString());
        var listed = await Http.GetFromJsonAsync<JsonElement>($"/api/v1/accounts/alice@{d}/aliases");
        Assert.Equal([$"sales.team@{d}"], listed.EnumerateArray().Select(a => a.GetProperty("address").GetString()));

        await SendMx(Message("someone@example.org", $"sales.team@{d}", "over MX"));
        await WaitForSubject($"alice@{d}", "over MX");
        await SendAs($"bob@{d}", Message($"bob@{d}", $"SALES.TEAM@{d}", "over submission"));
        await WaitForSubject($"alice@{d}", "over submission");
        var api = await Post("/api/v1/messages", new
        {
            from = "someone@example.org",
            to = new[] { $"sales.team+tag@{d}" },
            raw = Convert.ToBase64String(Encoding.ASCII.GetBytes($"From: someone@example.org\r\nTo: sales.team@{d}\r\nSubject: over the API\r\n\r\nHi\r\n")),
        });
        await AssertStatus(HttpStatusCode.Accepted, api);
        await WaitForSubject($"alice@{d}", "over the API");
        Assert.Equal(0, await host.InboxCount($"bob@{d}"));

        // Deleted: the name is unknown again.
        await AssertStatus(HttpStatusCode.NoContent, await Http.DeleteAsync($"/api/v1/accounts/alice@{d}/aliases/sales.team"));
        await AssertStatus(HttpStatusCode.NotFound, await Http.DeleteAsync($"/api/v1/accounts/alice@{d}/aliases/sales.team"));
        using var c = Client();
        await c.ConnectAsync("127.0.0.1", host.Mx, SecureSocketOptions.None);
        var refused = await Assert.ThrowsAsync<SmtpCommandException>(() => c.SendAsync(Message("someone@example.org", $"sales.team@{d}", "gone")));
        Assert.Equal(SmtpErrorCode.RecipientNotAccepted, refused.ErrorCode);
        Assert.Equal(550, (int)refused.StatusCode);
    }

    [Fact]
    public async Task An_account_may_send_as_its_own_alias_and_not_as_anothers()
    {
        var d = await NewDomain();
        await NewAccounts(d, "alice", "bob", "carol");
        await AssertStatus(HttpStatusCode.Created, await AddAlias($"alice@{d}", "ceo"));
        await AssertStatus(HttpStatusCode.Created, await AddAlias($"bob@{d}", $"support@{d}"));

        // Own alias in MAIL FROM and From:.
        await SendAs($"alice@{d}", Message($"ceo@{d}", $"carol@{d}", "from my alias"));
        var stored = Encoding.UTF8.GetString((await host.WaitForMessages($"carol@{d}", 1)).Single());
        Assert.StartsWith($"Return-Path: <ceo@{d}>", stored);

        // Another account's alias in MAIL FROM: 553 5.7.1, as for any address not owned.
        using (var c = Client())
        {
            await c.ConnectAsync("127.0.0.1", host.Submission, SecureSocketOptions.StartTls);
            await c.AuthenticateAsync($"alice@{d}", Password);
            var e = await Assert.ThrowsAsync<SmtpCommandException>(() => c.SendAsync(Message($"support@{d}", $"carol@{d}", "not mine")));
            Assert.Equal(SmtpErrorCode.SenderNotAccepted, e.ErrorCode);
            Assert.Equal(553, (int)e.StatusCode);
            Assert.Contains("not owned", e.Message);

            // Own envelope, another's alias in From:: refused at the end of DATA.
            var header = await Assert.ThrowsAsync<SmtpCommandException>(() =>
                c.SendAsync(Message($"support@{d}", $"carol@{d}", "not mine either"), MailboxAddress.Parse($"alice@{d}"), [MailboxAddress.Parse($"carol@{d}")]));
            Assert.Equal(553, (int)header.StatusCode);
            Assert.Contains("From: address not owned", header.Message);
        }
        Assert.Equal(1, await host.InboxCount($"carol@{d}"));

        // Removed from alice: she may no longer send as it.
        await AssertStatus(HttpStatusCode.NoContent, await Http.DeleteAsync($"/api/v1/accounts/alice@{d}/aliases/ceo"));
        using (var c = Client())
        {
            await c.ConnectAsync("127.0.0.1", host.Submission, SecureSocketOptions.StartTls);
            await c.AuthenticateAsync($"alice@{d}", Password);
            var e = await Assert.ThrowsAsync<SmtpCommandException>(() => c.SendAsync(Message($"ceo@{d}", $"carol@{d}", "no longer")));
            Assert.Equal(553, (int)e.StatusCode);
        }
    }

    [Fact]
    public async Task Three_aliases_per_account_by_default_and_the_fourth_is_400()
    {
        var d = await NewDomain();
        await NewAccounts(d, "alice", "bob");
        foreach (var a in new[] { "one", "two", "three" }) await AssertStatus(HttpStatusCode.Created, await AddAlias($"alice@{d}", a));
        await AssertStatus(HttpStatusCode.BadRequest, await AddAlias($"alice@{d}", "four"));
        // The limit is per account: another account still has its three.
        await AssertStatus(HttpStatusCode.Created, await AddAlias($"bob@{d}", "four"));
        var settings = await Http.GetFromJsonAsync<JsonElement>($"/api/v1/domains/{d}/settings");
        Assert.Equal(3, settings.GetProperty("accountAliasLimit").GetInt32());
        // A deleted alias frees its place.
        await AssertStatus(HttpStatusCode.NoContent, await Http.DeleteAsync($"/api/v1/accounts/alice@{d}/aliases/two"));
        await AssertStatus(HttpStatusCode.Created, await AddAlias($"alice@{d}", "five"));
    }

    [Fact]
    public async Task The_per_domain_limit_is_a_domain_setting()
    {
        var d = await NewDomain();
        await NewAccounts(d, "alice");
        var patch = await Http.PatchAsync($"/api/v1/domains/{d}", Json(new { accountAliasLimit = 1 }));
        await AssertStatus(HttpStatusCode.OK, patch);
        Assert.Equal(1, (await patch.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("accountAliasLimit").GetInt32());
        await AssertStatus(HttpStatusCode.Created, await AddAlias($"alice@{d}", "a1"));
        await AssertStatus(HttpStatusCode.BadRequest, await AddAlias($"alice@{d}", "a2"));

        await AssertStatus(HttpStatusCode.OK, await Http.PatchAsync($"/api/v1/domains/{d}", Json(new { accountAliasLimit = 5 })));
        foreach (var a in new[] { "a2", "a3", "a4", "a5" }) await AssertStatus(HttpStatusCode.Created, await AddAlias($"alice@{d}", a));
        await AssertStatus(HttpStatusCode.BadRequest, await AddAlias($"alice@{d}", "a6"));
        // Other settings are kept by a patch that does not name them.
        var settings = await Http.GetFromJsonAsync<JsonElement>($"/api/v1/domains/{d}/settings");
        Assert.Equal(5, settings.GetProperty("accountAliasLimit").GetInt32());
        Assert.Equal(50L * 1024 * 1024, settings.GetProperty("maxMessageBytes").GetInt64());

        await AssertStatus(HttpStatusCode.BadRequest, await Http.PatchAsync($"/api/v1/domains/{d}", Json(new { accountAliasLimit = -1 })));
        await AssertStatus(HttpStatusCode.BadRequest, await Http.PatchAsync($"/api/v1/domains/{d}", Json(new { accountAliasLimit = 101 })));
        await AssertStatus(HttpStatusCode.NotFound, await Http.PatchAsync($"/api/v1/domains/{Unique("none")}", Json(new { accountAliasLimit = 2 })));
    }

    [Fact]
    public async Task Alias_names_that_are_taken_are_409()
    {
        var d = await NewDomain();
        await NewAccounts(d, "alice", "bob");
        await AssertStatus(HttpStatusCode.Created, await Post($"/api/v1/domains/{d}/aliases", new { alias = "team", targets = new[] { $"alice@{d}", $"bob@{d}" } }));
        await AssertStatus(HttpStatusCode.Created, await AddAlias($"alice@{d}", "boss"));

        await AssertStatus(HttpStatusCode.Conflict, await AddAlias($"alice@{d}", "bob"));      // an account
        await AssertStatus(HttpStatusCode.Conflict, await AddAlias($"alice@{d}", "alice"));    // its own name
        await AssertStatus(HttpStatusCode.Conflict, await AddAlias($"alice@{d}", "team"));     // a distribution alias
        await AssertStatus(HttpStatusCode.Conflict, await AddAlias($"bob@{d}", "Boss"));       // another account's alias
        await AssertStatus(HttpStatusCode.Conflict, await AddAlias($"alice@{d}", "boss"));     // its own alias again
        // The other way round: an account or distribution alias cannot take an account alias's name.
        await AssertStatus(HttpStatusCode.Conflict, await Post($"/api/v1/domains/{d}/accounts", new { localPart = "boss", password = Password }));
        await AssertStatus(HttpStatusCode.Conflict, await Post($"/api/v1/domains/{d}/aliases", new { alias = "boss", targets = new[] { $"bob@{d}" } }));

        // Outside the account's domain, bad syntax, unknown account.
        var other = await NewDomain();
        await AssertStatus(HttpStatusCode.BadRequest, await AddAlias($"alice@{d}", $"x@{other}"));
        await AssertStatus(HttpStatusCode.BadRequest, await AddAlias($"alice@{d}", "two words"));
        await AssertStatus(HttpStatusCode.NotFound, await AddAlias($"nobody@{d}", "x"));
        await AssertStatus(HttpStatusCode.NotFound, await Http.GetAsync($"/api/v1/accounts/nobody@{d}/aliases"));

        // Deleting the account frees its aliases.
        await AssertStatus(HttpStatusCode.NoContent, await Http.DeleteAsync($"/api/v1/accounts/alice@{d}"));
        await AssertStatus(HttpStatusCode.Created, await AddAlias($"bob@{d}", "boss"));
    }

    [Fact]
    public async Task Domain_alias_names_that_are_taken_are_409()
    {
        var d = await NewDomain();
        var e = await NewDomain();
        var alias = Unique("da");
        await AssertStatus(HttpStatusCode.Created, await Post($"/api/v1/domains/{d}/domain-aliases", new { name = alias.ToUpperInvariant() }));
        await AssertStatus(HttpStatusCode.Conflict, await Post($"/api/v1/domains/{d}/domain-aliases", new { name = alias }));
        await AssertStatus(HttpStatusCode.Conflict, await Post($"/api/v1/domains/{e}/domain-aliases", new { name = alias }));   // another domain's alias
        await AssertStatus(HttpStatusCode.Conflict, await Post($"/api/v1/domains/{d}/domain-aliases", new { name = e }));       // a hosted domain
        await AssertStatus(HttpStatusCode.Conflict, await Post($"/api/v1/domains/{d}/domain-aliases", new { name = d }));       // itself
        await AssertStatus(HttpStatusCode.Conflict, await Post("/api/v1/domains", new { name = alias }));                      // a domain over an alias
        await AssertStatus(HttpStatusCode.BadRequest, await Post($"/api/v1/domains/{d}/domain-aliases", new { name = "not a domain" }));
        await AssertStatus(HttpStatusCode.NotFound, await Post($"/api/v1/domains/{Unique("none")}/domain-aliases", new { name = Unique("x") }));

        var listed = await Http.GetFromJsonAsync<JsonElement>($"/api/v1/domains/{d}/domain-aliases");
        Assert.Equal([alias], listed.EnumerateArray().Select(a => a.GetProperty("name").GetString()));

        // Deleted, the name is free for another domain; a deleted domain frees its aliases.
        await AssertStatus(HttpStatusCode.NoContent, await Http.DeleteAsync($"/api/v1/domains/{d}/domain-aliases/{alias}"));
        await AssertStatus(HttpStatusCode.NotFound, await Http.DeleteAsync($"/api/v1/domains/{d}/domain-aliases/{alias}"));
        await AssertStatus(HttpStatusCode.Created, await Post($"/api/v1/domains/{e}/domain-aliases", new { name = alias }));
        await AssertStatus(HttpStatusCode.NoContent, await Http.DeleteAsync($"/api/v1/domains/{e}"));
        await AssertStatus(HttpStatusCode.Created, await Post($"/api/v1/domains/{d}/domain-aliases", new { name = alias }));
    }

    [Fact]
    public async Task Mail_to_a_domain_alias_is_delivered_to_the_domain()
    {
        var d = await NewDomain();
        var alias = Unique("da");
        await NewAccounts(d, "alice", "bob");
        await AssertStatus(HttpStatusCode.Created, await Post($"/api/v1/domains/{d}/domain-aliases", new { name = alias }));
        await AssertStatus(HttpStatusCode.Created, await AddAlias($"alice@{d}", $"press@{alias}"));   // given under the alias's name
        await AssertStatus(HttpStatusCode.Created, await Post($"/api/v1/domains/{d}/aliases", new { alias = "all", targets = new[] { $"alice@{d}", $"bob@{d}" } }));

        await SendMx(Message("someone@example.org", $"Alice@{alias}", "account under the alias"));
        await WaitForSubject($"alice@{d}", "account under the alias");
        await SendMx(Message("someone@example.org", $"press@{alias}", "account alias under the alias"));
        await WaitForSubject($"alice@{d}", "account alias under the alias");
        await SendMx(Message("someone@example.org", $"all@{alias}", "distribution alias under the alias"));
        await WaitForSubject($"alice@{d}", "distribution alias under the alias");
        await WaitForSubject($"bob@{d}", "distribution alias under the alias");

        // Unknown names under the alias are unknown, as under the domain.
        using (var c = Client())
        {
            await c.ConnectAsync("127.0.0.1", host.Mx, SecureSocketOptions.None);
            var e = await Assert.ThrowsAsync<SmtpCommandException>(() => c.SendAsync(Message("someone@example.org", $"nobody@{alias}", "unknown")));
            Assert.Equal(550, (int)e.StatusCode);
        }

        // Users send as their address under the alias; not as another's.
        await SendAs($"bob@{d}", Message($"bob@{alias}", $"alice@{d}", "sent as the alias"));
        await WaitForSubject($"alice@{d}", "sent as the alias");
        using (var c = Client())
        {
            await c.ConnectAsync("127.0.0.1", host.Submission, SecureSocketOptions.StartTls);
            await c.AuthenticateAsync($"bob@{d}", Password);
            var e = await Assert.ThrowsAsync<SmtpCommandException>(() => c.SendAsync(Message($"alice@{alias}", $"alice@{d}", "not bob's")));
            Assert.Equal(553, (int)e.StatusCode);
        }
        Assert.DoesNotContain("not bob's", await StoredSubjects($"alice@{d}"));

        // Deleted: the alias's mail is relaying again (550 5.7.1 on the MX).
        await AssertStatus(HttpStatusCode.NoContent, await Http.DeleteAsync($"/api/v1/domains/{d}/domain-aliases/{alias}"));
        using (var c = Client())
        {
            await c.ConnectAsync("127.0.0.1", host.Mx, SecureSocketOptions.None);
            var e = await Assert.ThrowsAsync<SmtpCommandException>(() => c.SendAsync(Message("someone@example.org", $"alice@{alias}", "after")));
            Assert.Equal(550, (int)e.StatusCode);
            Assert.Contains("Relaying denied", e.Message);
        }
    }

    [Fact]
    public async Task The_DNS_helper_lists_the_records_of_each_domain_alias()
    {
        var d = await NewDomain();
        var alias = Unique("da");
        await AssertStatus(HttpStatusCode.Created, await Post($"/api/v1/domains/{d}/domain-aliases", new { name = alias }));
        var records = (await Http.GetFromJsonAsync<JsonElement>($"/api/v1/domains/{d}/dns")).EnumerateArray()
            .Select(r => (Type: r.GetProperty("type").GetString(), Name: r.GetProperty("name").GetString()!, Value: r.GetProperty("value").GetString()!)).ToList();
        Assert.Contains(records, r => r.Type == "MX" && r.Name == d);
        Assert.Contains(records, r => r.Type == "MX" && r.Name == alias);
        Assert.Contains(records, r => r.Type == "TXT" && r.Name == alias && r.Value.StartsWith("v=spf1", StringComparison.Ordinal));
        Assert.Contains(records, r => r.Type == "TXT" && r.Name == $"_dmarc.{alias}" && r.Value.StartsWith("v=DMARC1", StringComparison.Ordinal));
        // The alias's own DKIM keys (RSA and Ed25519), not the domain's.
        var aliasKeys = records.Where(r => r.Name.EndsWith($"._domainkey.{alias}", StringComparison.Ordinal)).ToList();
        var domainKeys = records.Where(r => r.Name.EndsWith($"._domainkey.{d}", StringComparison.Ordinal)).ToList();
        Assert.Equal(2, aliasKeys.Count);
        Assert.Empty(aliasKeys.Select(k => k.Value).Intersect(domainKeys.Select(k => k.Value)));

        // The check looks up every one of them (nothing is published in the test's DNS).
        var check = await Http.GetFromJsonAsync<JsonElement>($"/api/v1/domains/{d}/dns/check");
        Assert.Contains(check.GetProperty("records").EnumerateArray(), c => c.GetProperty("record").GetProperty("name").GetString() == $"_dmarc.{alias}");
    }

    [Fact]
    public async Task Mail_sent_as_a_domain_alias_is_signed_with_the_alias_own_key()
    {
        var d = await NewDomain();
        var alias = Unique("da");
        await AssertStatus(HttpStatusCode.Created, await Post($"/api/v1/domains/{d}/domain-aliases", new { name = alias }));
        await using var ds = NpgsqlDataSource.Create(host.ConnectionString);
        var dkim = new GrainMail.Outbound.DkimKeyStore(ds, MasterKey.LoadOrCreate(Path.Combine(host.DataDir, "master.key")), TimeProvider.System);
        static byte[] Raw(string from) => Encoding.ASCII.GetBytes($"From: {from}\r\nTo: x@example.org\r\nSubject: s\r\n\r\nbody\r\n");

        var asAlias = await dkim.SignersForAsync(d, Raw($"bob@{alias}"));
        Assert.Equal([alias, alias, d, d], asAlias.Select(s => s.Domain));
        var asDomain = await dkim.SignersForAsync(d, Raw($"bob@{d}"));
        Assert.Equal([d, d], asDomain.Select(s => s.Domain));
        // A From: in some other domain never gets that domain's signature.
        var other = await NewDomain();
        Assert.Equal([d, d], (await dkim.SignersForAsync(d, Raw($"bob@{other}"))).Select(s => s.Domain));
    }

    [Fact]
    public async Task A_domain_alias_is_placed_in_its_domains_home_region()
    {
        var name = Unique("far");
        await AssertStatus(HttpStatusCode.Created, await Post("/api/v1/domains", new { name, homeRegion = "hangzhou" }));
        var alias = Unique("da");
        await AssertStatus(HttpStatusCode.Created, await Post($"/api/v1/domains/{name}/domain-aliases", new { name = alias }));
        await using var ds = NpgsqlDataSource.Create(host.ConnectionString);
        var (changed, _) = await new GrainMail.Storage.Domains.DomainDirectory(ds).ChangedSinceAsync(null);
        Assert.Contains((alias, "hangzhou"), changed);
        // Still only hosted domains in the domain list.
        var list = await Http.GetFromJsonAsync<JsonElement>("/api/v1/domains");
        Assert.DoesNotContain(list.EnumerateArray(), x => x.GetProperty("name").GetString() == alias);
    }

    [Fact]
    public async Task A_renamed_domain_receives_and_sends_under_both_names()
    {
        var d = await NewDomain("old");
        await NewAccounts(d, "alice", "bob");
        var renamed = Unique("new");
        var r = await Post($"/api/v1/domains/{d}/rename", new { name = renamed });
        await AssertStatus(HttpStatusCode.OK, r);
        var body = await r.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal(d, body.GetProperty("domain").GetString());
        Assert.Equal(renamed, body.GetProperty("preferredName").GetString());
        var aliases = await Http.GetFromJsonAsync<JsonElement>($"/api/v1/domains/{d}/domain-aliases");
        Assert.Contains(aliases.EnumerateArray(), a => a.GetProperty("name").GetString() == renamed && a.GetProperty("preferred").GetBoolean());

        await SendMx(Message("someone@example.org", $"alice@{renamed}", "to the new name"));
        await SendMx(Message("someone@example.org", $"alice@{d}", "to the old name"));
        await WaitForSubject($"alice@{d}", "to the new name");
        await WaitForSubject($"alice@{d}", "to the old name");
        // The old login keeps working and may send as the new name.
        await SendAs($"bob@{d}", Message($"bob@{renamed}", $"alice@{renamed}", "from the new name"));
        await WaitForSubject($"alice@{d}", "from the new name");
        // Logins under the new name reach the same account (IMAP, POP3, SMTP AUTH), and the old ones keep working.
        using (var imap = new MailKit.Net.Imap.ImapClient { ServerCertificateValidationCallback = (_, _, _, _) => true, Timeout = 30_000 })
        {
            await imap.ConnectAsync("127.0.0.1", host.Imaps, SecureSocketOptions.SslOnConnect);
            await imap.AuthenticateAsync($"alice@{renamed}", Password);
            await imap.Inbox.OpenAsync(MailKit.FolderAccess.ReadOnly);
            Assert.Equal(await host.InboxCount($"alice@{d}"), imap.Inbox.Count);
            await imap.DisconnectAsync(true);
        }
        using (var pop = new MailKit.Net.Pop3.Pop3Client { ServerCertificateValidationCallback = (_, _, _, _) => true, Timeout = 30_000 })
        {
            await pop.ConnectAsync("127.0.0.1", host.Pop3s, SecureSocketOptions.SslOnConnect);
            await pop.AuthenticateAsync($"alice@{renamed}", Password);
            Assert.Equal(await host.InboxCount($"alice@{d}"), pop.Count);
            await pop.DisconnectAsync(true);
        }
        await SendAs($"bob@{renamed}", Message($"bob@{d}", $"alice@{d}", "logged in under the new name"));
        await WaitForSubject($"alice@{d}", "logged in under the new name");
        // Account aliases are managed under either name.
        await AssertStatus(HttpStatusCode.Created, await AddAlias($"bob@{renamed}", "robert"));
        var listed = await Http.GetFromJsonAsync<JsonElement>($"/api/v1/accounts/bob@{d}/aliases");
        Assert.Equal([$"robert@{d}"], listed.EnumerateArray().Select(a => a.GetProperty("address").GetString()));
        // A name that belongs to another domain cannot be taken by a rename.
        var other = await NewDomain();
        await AssertStatus(HttpStatusCode.Conflict, await Post($"/api/v1/domains/{d}/rename", new { name = other }));
    }

    /// <summary>Runs <c>./grainmail ARGS</c> against the fixture's host; exit code and the JSON printed.</summary>
    private async Task<(int ExitCode, string Out)> Cli(params string[] args)
    {
        var r = await GrainmailCli.AsOperator(host.Host.BaseUrl, args);
        return (r.ExitCode, r.Out);
    }

    [Fact]
    public async Task The_grainmail_script_manages_account_and_domain_aliases()
    {
        var d = await NewDomain();
        await NewAccounts(d, "alice");
        var alias = Unique("da");
        Assert.Equal(0, (await Cli("domain-alias", "add", d, alias)).ExitCode);
        Assert.Contains(alias, (await Cli("domain-alias", "list", d)).Out);
        Assert.Equal(0, (await Cli("account-alias", "add", $"alice@{d}", $"sales@{alias}")).ExitCode);
        Assert.Contains($"sales@{d}", (await Cli("account-alias", "list", $"alice@{d}")).Out);
        Assert.Equal(22, (await Cli("account-alias", "add", $"alice@{d}", "alice")).ExitCode);   // 409: the account's own name
        Assert.Equal(0, (await Cli("domain", "set", d, "accountAliasLimit", "1")).ExitCode);
        Assert.Contains("\"accountAliasLimit\":1", (await Cli("domain", "settings", d)).Out);
        Assert.Equal(22, (await Cli("account-alias", "add", $"alice@{d}", "second")).ExitCode); // 400: beyond the limit
        Assert.Equal(0, (await Cli("account-alias", "del", $"alice@{d}", "sales")).ExitCode);
        Assert.Equal(0, (await Cli("domain-alias", "del", d, alias)).ExitCode);
        Assert.Equal("[]", (await Cli("domain-alias", "list", d)).Out);
        var renamed = Unique("new");
        Assert.Contains($"\"preferredName\":\"{renamed}\"", (await Cli("domain", "rename", d, renamed)).Out);
    }
}

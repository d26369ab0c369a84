using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using GrainMail.Tests.Infrastructure;

namespace GrainMail.Tests;

/// <summary>
/// The enterprise address book through its HTTP API: public contacts and visibility rules (admin
/// token), and the signed-in user's autocomplete (/api/v1/me/address-book over HTTPS).
/// </summary>
public sealed class AddressBookTests(AddressBookHostFixture fixture) : IClassFixture<AddressBookHostFixture>
{
    private HttpClient Admin => fixture.Host.Http;

    private async Task<List<string>> Search(string user, string q, int limit = 50)
    {
        using var http = fixture.UserClient(user, AddressBookWorld.Password);
        var r = await http.GetAsync($"/api/v1/me/address-book?q={Uri.EscapeDataString(q)}&limit={limit}");
        Assert.Equal(HttpStatusCode.OK, r.StatusCode);
        var doc = await r.Content.ReadFromJsonAsync<JsonElement>();
        return doc.EnumerateArray().Select(e => e.GetProperty("address").GetString()!).ToList();
    }

    private static async Task<JsonElement> Problem(HttpResponseMessage r, HttpStatusCode status)
    {
        Assert.Equal(status, r.StatusCode);
        Assert.Equal("application/problem+json", r.Content.Headers.ContentType?.MediaType);
        return await r.Content.ReadFromJsonAsync<JsonElement>();
    }

    [Fact]
    public async Task A_member_of_A_sees_only_A_and_a_user_without_rule_sees_the_whole_domain()
    {
        var w = await AddressBookWorld.CreateAsync(fixture);
        // alice is in Sales (A): the rule lets her see Sales and below (andy is in Sales/East).
        Assert.Equal([w.Andy, w.Alice], await Search(w.Alice, ""));
        // andy is in A's subtree, so the rule applies to him too.
        Assert.Equal([w.Andy, w.Alice], await Search(w.Andy, ""));
        // bob (Research) and carol (root) have no rule: the whole domain, minus hidden and disabled.
        var all = new[] { w.Andy, w.Alice, w.Bob, w.Carol }.Order().ToList();
        Assert.Equal(all, (await Search(w.Bob, "")).Order().ToList());
        Assert.Equal(all, (await Search(w.Carol, "")).Order().ToList());
        // Searching by name does not get around the rule.
        Assert.Empty(await Search(w.Alice, "李"));
        Assert.Equal([w.Bob], await Search(w.Carol, "李"));
    }

    [Fact]
    public async Task Invisible_and_disabled_accounts_never_appear()
    {
        var w = await AddressBookWorld.CreateAsync(fixture);
        foreach (var q in new[] { "Hidden", "hidden", "hp", "Gone", "gone", "Person", "" })
        {
            foreach (var viewer in new[] { w.Alice, w.Bob })
            {
                var found = await Search(viewer, q);
                Assert.DoesNotContain(w.Hidden, found);
                Assert.DoesNotContain(w.Gone, found);
            }
        }
    }

    [Fact]
    public async Task Autocomplete_matches_name_prefix_substring_pinyin_initials_and_address()
    {
        var w = await AddressBookWorld.CreateAsync(fixture);
        Assert.Equal([w.Alice], await Search(w.Bob, "zsf"));
        Assert.Equal([w.Alice], await Search(w.Bob, "ZS"));
        Assert.Equal([w.Alice], await Search(w.Bob, "张"));
        Assert.Equal([w.Alice], await Search(w.Bob, "三丰"));
        Assert.Equal([w.Carol], await Search(w.Bob, "wxm"));
        Assert.Equal([w.Bob], await Search(w.Bob, "ls"));
        Assert.Equal([w.Andy], await Search(w.Bob, "andy l"));
        Assert.Equal([w.Andy], await Search(w.Bob, "Lau"));
        // "al": andy (Andy Lau's initials) and alice (address).
        Assert.Equal(new[] { w.Andy, w.Alice }.Order(), (await Search(w.Bob, "al")).Order());
        Assert.Equal([w.Alice], await Search(w.Bob, "alic"));
        Assert.Equal([w.Alice], await Search(w.Bob, $"alice@{w.Domain[..4]}"));
        Assert.Single(await Search(w.Bob, "", limit: 1));

        using var http = fixture.UserClient(w.Bob, AddressBookWorld.Password);
        var entry = (await http.GetFromJsonAsync<JsonElement>("/api/v1/me/address-book?q=zsf"))[0];
        Assert.Equal("account", entry.GetProperty("kind").GetString());
        Assert.Equal("张三丰", entry.GetProperty("displayName").GetString());
        Assert.Equal("Manager", entry.GetProperty("title").GetString());
        Assert.Equal([w.Domain, "Sales"], entry.GetProperty("department").EnumerateArray().Select(e => e.GetString()));
        await Problem(await http.GetAsync("/api/v1/me/address-book?q=a&limit=0"), HttpStatusCode.BadRequest);
        await Problem(await http.GetAsync("/api/v1/me/address-book?q=a&limit=51"), HttpStatusCode.BadRequest);
    }

    [Fact]
    public async Task Prefix_and_substring_matches_come_from_one_statement_once_each_prefixes_first()
    {
        var w = await AddressBookWorld.CreateAsync(fixture);
        // "an" is a prefix of "Andy Lau" and of andy@, and a substring of the same name: one entry, not two.
        Assert.Equal([w.Andy], await Search(w.Bob, "an"));
        // Only inside a local part (car-ol) or a name (张-三丰): the substring stage alone.
        Assert.Equal([w.Carol], await Search(w.Bob, "ro"));
        Assert.Equal([w.Alice], await Search(w.Bob, "li"));
        // "a" finds andy (name, initials "al") and alice (address) by prefix; one character never runs the substring stage.
        Assert.Equal(new[] { w.Andy, w.Alice }.Order(), (await Search(w.Bob, "a")).Order());
        // The limit holds over both stages, and the rules over the substring stage too.
        Assert.Single(await Search(w.Bob, "a", limit: 1));
        Assert.Empty(await Search(w.Alice, "ro"));
        Assert.Equal([w.Alice], await Search(w.Alice, "li"));
    }

    [Fact]
    public async Task Public_contacts_are_managed_by_the_admin_and_visible_to_every_user()
    {
        var w = await AddressBookWorld.CreateAsync(fixture);
        var path = $"/api/v1/domains/{w.Domain}/contacts";
        var created = await Admin.PostAsJsonAsync(path, new { address = "Partner@Supplier.example", displayName = "赵六 (supplier)", organization = "Supplier Ltd" });
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        var contact = await created.Content.ReadFromJsonAsync<JsonElement>();
        var id = contact.GetProperty("id").GetInt64();
        Assert.Equal("partner@supplier.example", contact.GetProperty("address").GetString());

        await Problem(await Admin.PostAsJsonAsync(path, new { address = "partner@supplier.example", displayName = "again" }), HttpStatusCode.Conflict);
        await Problem(await Admin.PostAsJsonAsync(path, new { address = "not an address", displayName = "x" }), HttpStatusCode.BadRequest);
        await Problem(await Admin.PostAsJsonAsync(path, new { address = "x@y.example" }), HttpStatusCode.BadRequest);
        await Problem(await Admin.PostAsJsonAsync("/api/v1/domains/nowhere.test/contacts", new { address = "x@y.example", displayName = "x" }), HttpStatusCode.NotFound);

        // Rules restrict the directory, not what the administrator shares with everyone.
        Assert.Equal(["partner@supplier.example"], await Search(w.Alice, "zl"));
        Assert.Equal(["partner@supplier.example"], await Search(w.Bob, "partner"));

        var patched = await Admin.PatchAsJsonAsync($"{path}/{id}", new { displayName = "钱七", title = "Buyer" });
        Assert.Equal(HttpStatusCode.OK, patched.StatusCode);
        var after = await patched.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal("钱七", after.GetProperty("displayName").GetString());
        Assert.Equal("Supplier Ltd", after.GetProperty("organization").GetString());
        Assert.Empty(await Search(w.Alice, "zl"));
        Assert.Equal(["partner@supplier.example"], await Search(w.Alice, "qq"));

        var list = await Admin.GetFromJsonAsync<JsonElement>(path);
        Assert.Equal([id], list.EnumerateArray().Select(c => c.GetProperty("id").GetInt64()));
        Assert.Equal(HttpStatusCode.NoContent, (await Admin.DeleteAsync($"{path}/{id}")).StatusCode);
        await Problem(await Admin.DeleteAsync($"{path}/{id}"), HttpStatusCode.NotFound);
        await Problem(await Admin.PatchAsJsonAsync($"{path}/{id}", new { title = "x" }), HttpStatusCode.NotFound);
        Assert.Empty(await Search(w.Bob, "partner"));
    }

    [Fact]
    public async Task Mailing_lists_are_in_every_users_address_book_and_leave_it_when_deleted()
    {
        var w = await AddressBookWorld.CreateAsync(fixture);
        var created = await Admin.PostAsJsonAsync($"/api/v1/domains/{w.Domain}/lists", new { name = "announce", displayName = "全体通知", postPolicy = "domain" });
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        // Alice sees only her department, yet a list of her domain is found by name, pinyin initials and address.
        Assert.Equal([$"announce@{w.Domain}"], await Search(w.Alice, "全体"));
        Assert.Equal([$"announce@{w.Domain}"], await Search(w.Alice, "qttz"));
        Assert.Contains($"announce@{w.Domain}", await Search(w.Bob, "announce"));
        Assert.Equal(HttpStatusCode.NoContent, (await Admin.DeleteAsync($"/api/v1/domains/{w.Domain}/lists/announce")).StatusCode);
        Assert.DoesNotContain($"announce@{w.Domain}", await Search(w.Bob, "announce"));
    }

    [Fact]
    public async Task Rules_are_validated_listed_and_deleted()
    {
        var w = await AddressBookWorld.CreateAsync(fixture);
        var path = $"/api/v1/domains/{w.Domain}/address-book/rules";
        var tooManyDepartments = Enumerable.Repeat(w.A, 500).Append(w.B).Select((_, i) => i < 500 ? w.A : w.B).ToArray();
        Assert.Equal(501, tooManyDepartments.Length);
        var limit = await Problem(await Admin.PostAsJsonAsync(path, new { appliesTo = new { departments = tooManyDepartments }, visibleDepartments = new[] { w.A } }),
            HttpStatusCode.BadRequest);
        Assert.Contains("500", limit.GetProperty("detail").GetString());
        var tooManyAccounts = Enumerable.Range(0, 101).Select(i => $"u{i}@{w.Domain}").ToArray();
        limit = await Problem(await Admin.PostAsJsonAsync(path, new { appliesTo = new { accounts = tooManyAccounts }, visibleDepartments = new[] { w.A } }),
            HttpStatusCode.BadRequest);
        Assert.Contains("100", limit.GetProperty("detail").GetString());
        // Exactly at the limits is fine.
        var atLimit = await Admin.PostAsJsonAsync(path, new
        {
            appliesTo = new { departments = Enumerable.Repeat(w.A1, 500).ToArray(), accounts = tooManyAccounts[..100] },
            visibleDepartments = new[] { w.A1 },
        });
        Assert.Equal(HttpStatusCode.Created, atLimit.StatusCode);
        var atLimitId = (await atLimit.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetInt64();

        await Problem(await Admin.PostAsJsonAsync(path, new { appliesTo = new { departments = new[] { 987654321L } }, visibleDepartments = new[] { w.A } }), HttpStatusCode.BadRequest);
        await Problem(await Admin.PostAsJsonAsync(path, new { appliesTo = new { accounts = new[] { "x@other.test" } }, visibleDepartments = new[] { w.A } }), HttpStatusCode.BadRequest);
        await Problem(await Admin.PostAsJsonAsync(path, new { appliesTo = new { departments = new[] { w.B } }, visibleDepartments = Array.Empty<long>() }), HttpStatusCode.BadRequest);
        await Problem(await Admin.PostAsJsonAsync(path, new { visibleDepartments = new[] { w.A } }), HttpStatusCode.BadRequest);

        // A rule naming an account: bob sees only Research and Sales/East; rules grant, so two rules add up.
        var bobRule = await Admin.PostAsJsonAsync(path, new { appliesTo = new { accounts = new[] { w.Bob } }, visibleDepartments = new[] { w.B, w.A1 } });
        Assert.Equal(HttpStatusCode.Created, bobRule.StatusCode);
        var bobRuleId = (await bobRule.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetInt64();
        Assert.Equal(new[] { w.Andy, w.Bob }.Order(), (await Search(w.Bob, "")).Order());

        var rules = await Admin.GetFromJsonAsync<JsonElement>(path);
        Assert.Equal([w.RuleId, atLimitId, bobRuleId], rules.EnumerateArray().Select(r => r.GetProperty("id").GetInt64()));
        var stored = rules.EnumerateArray().Last();
        Assert.Equal([w.Bob], stored.GetProperty("appliesTo").GetProperty("accounts").EnumerateArray().Select(a => a.GetString()));

        // Without its rule, A's member sees the whole domain again.
        Assert.Equal(HttpStatusCode.NoContent, (await Admin.DeleteAsync($"{path}/{w.RuleId}")).StatusCode);
        await Problem(await Admin.DeleteAsync($"{path}/{w.RuleId}"), HttpStatusCode.NotFound);
        Assert.Equal(4, (await Search(w.Alice, "")).Count);
    }

    [Fact]
    public async Task Users_authenticate_with_their_password_or_an_app_password_over_https_only()
    {
        var w = await AddressBookWorld.CreateAsync(fixture);
        using var wrong = fixture.UserClient(w.Alice, "not the password");
        var r = await wrong.GetAsync("/api/v1/me/address-book?q=a");
        await Problem(r, HttpStatusCode.Unauthorized);
        Assert.Contains("Basic", r.Headers.WwwAuthenticate.ToString());
        using var nobody = fixture.UserClient();
        await Problem(await nobody.GetAsync("/api/v1/me/address-book?q=a"), HttpStatusCode.Unauthorized);
        // The admin token is not a user's credential.
        using var admin = fixture.UserClient();
        admin.DefaultRequestHeaders.Authorization = new("Bearer", HostProcess.Token);
        await Problem(await admin.GetAsync("/api/v1/me/address-book?q=a"), HttpStatusCode.Unauthorized);

        var created = await Admin.PostAsJsonAsync($"/api/v1/accounts/{w.Alice}/app-passwords", new { name = "phone" });
        var appPassword = (await created.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("password").GetString()!;
        using var app = fixture.UserClient(w.Alice, appPassword);
        Assert.Equal(HttpStatusCode.OK, (await app.GetAsync("/api/v1/me/address-book?q=a")).StatusCode);

        // Plain HTTP: refused before any credential is looked at, and no Basic challenge invites one.
        using var plain = new HttpClient { BaseAddress = new Uri(fixture.Host.BaseUrl) };
        plain.DefaultRequestHeaders.Authorization = AddressBookHostFixture.Basic(w.Alice, AddressBookWorld.Password);
        var refused = await plain.GetAsync("/api/v1/me/address-book?q=a");
        await Problem(refused, HttpStatusCode.Forbidden);
        Assert.DoesNotContain("Basic", refused.Headers.WwwAuthenticate.ToString());
    }

    [Fact]
    public async Task Wrong_passwords_count_towards_the_account_lockout()
    {
        var w = await AddressBookWorld.CreateAsync(fixture);
        using var wrong = fixture.UserClient(w.Carol, "not the password");
        var lockedOut = await Eventually.Value(async () =>
            {
                var r = await wrong.GetAsync("/api/v1/me/address-book?q=a");
                Assert.Equal(HttpStatusCode.Unauthorized, r.StatusCode);
                return (await r.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("detail").GetString()!;
            }, d => d.Contains("locked", StringComparison.OrdinalIgnoreCase), TimeSpan.FromSeconds(60), "the lockout after repeated wrong passwords",
            poll: TimeSpan.FromMilliseconds(1));
        Assert.Contains("locked", lockedOut);
        // Locked: even the right password is refused for now.
        using var right = fixture.UserClient(w.Carol, AddressBookWorld.Password);
        Assert.Equal(HttpStatusCode.Unauthorized, (await right.GetAsync("/api/v1/me/address-book?q=a")).StatusCode);
    }
}

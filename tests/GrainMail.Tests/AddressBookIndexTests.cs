using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using GrainMail.Contracts.AddressBook;
using GrainMail.Storage.AddressBook;
using GrainMail.Tests.Infrastructure;
using Npgsql;

namespace GrainMail.Tests;

/// <summary>
/// The silo's in-memory address book (AddressBookIndex) against the SQL it stands in for: the same answers for
/// every viewer and query, after every kind of directory change, and never an answer from a copy older than the
/// last committed change (the version number of migration 0044). The copies here are built in the test process
/// over the host's database; the host's own copy is exercised through HTTPS at the end.
/// </summary>
public sealed class AddressBookIndexTests(AddressBookHostFixture fixture) : IClassFixture<AddressBookHostFixture>
{
    private HttpClient Admin => fixture.Host.Http;

    private static readonly string[] Queries =
    [
        "", "a", "A", "an", "AN", "andy", "Andy L", "andy l", "lau", "zsf", "zs", "z", "张", "三丰", "李", "wxm", "王小", "li", "ro", "ol",
        "hidden", "gone", "person", "p", "全体", "qt", "x", "ext", "Ext", "partner", "east", "sal", "@", "alice@", "ann", "ÉCOLE", "école",
        "Ｚ", "zz", "dave", "dw", "戴", "伟",
    ];

    private static readonly string[] Viewers = ["alice", "andy", "bob", "carol", "hidden", "gone", "dave", "nobody"];

    /// <summary>Every viewer × query: the fresh copy answers exactly what SQL answers (limit 50: every match fits).</summary>
    private static async Task AssertAgrees(AddressBookStore store, AddressBookIndex index, AddressBookWorld w, string step)
    {
        var copy = await index.CurrentAsync(w.Domain, TimeSpan.FromSeconds(30));
        Assert.NotNull(copy);
        foreach (var viewer in Viewers)
        {
            foreach (var q in Queries.Append($"alice@{w.Domain}").Append($"andy@{w.Domain[..3]}"))
            {
                var sql = await store.SearchSqlAsync(w.Domain, viewer, q, 50);
                var mem = copy.Search(viewer, q, 50);
                Assert.True(sql.Select(Show).SequenceEqual(mem.Select(Show)),
                    $"{step}: {viewer} q=\"{q}\"\n  sql: {string.Join(" | ", sql.Select(Show))}\n  mem: {string.Join(" | ", mem.Select(Show))}");
            }
        }
    }

    private static string Show(AddressBookEntry e) =>
        $"{e.Kind} {e.Address} {e.DisplayName} {e.Title} {e.Phone} [{string.Join("/", e.DepartmentPath)}] {e.Organization} {e.ContactId}";

    private static async Task<bool> Fresh(AddressBookIndex index, string domain) => await index.CurrentAsync(domain, TimeSpan.Zero) is not null;

    private static async Task<List<string>> Addresses(AddressBookIndex index, string domain, string viewer, string q)
    {
        var copy = await index.CurrentAsync(domain, TimeSpan.FromSeconds(30));
        Assert.NotNull(copy);
        return [.. copy.Search(viewer, q, 50).Select(e => e.Address)];
    }

    [Fact]
    public async Task The_copy_answers_what_sql_answers_after_every_kind_of_change_and_a_stale_copy_is_never_used()
    {
        var w = await AddressBookWorld.CreateAsync(fixture);
        var seed = new DirectorySeed(fixture.ConnectionString);
        await seed.AccountAsync(w.Domain, "dave", "戴伟 David Wu", w.B, title: "Engineer");
        await seed.AccountAsync(w.Domain, "ann", "École Ann", w.A1);
        await seed.AccountAsync(w.Domain, "zed", "Ｚed", w.Root);
        await seed.AccountAsync(w.Domain, "noname", null, w.B);
        Assert.Equal(HttpStatusCode.Created, (await Admin.PostAsJsonAsync($"/api/v1/domains/{w.Domain}/contacts",
            new { address = "partner@ext.example", displayName = "Ext Partner", organization = "Ext Ltd" })).StatusCode);
        Assert.Equal(HttpStatusCode.Created, (await Admin.PostAsJsonAsync($"/api/v1/domains/{w.Domain}/lists",
            new { name = "all-hands", displayName = "全体员工", postPolicy = "domain" })).StatusCode);

        await using var ds = NpgsqlDataSource.Create(fixture.ConnectionString);
        var index = new AddressBookIndex(ds);
        var store = new AddressBookStore(ds, index);
        await AssertAgrees(store, index, w, "as created");
        Assert.True(await Fresh(index, w.Domain));
        // A's members see only A; the others the whole domain; contacts and lists are everyone's.
        Assert.Equal(new[] { $"ann@{w.Domain}", w.Andy, w.Alice, "partner@ext.example", $"all-hands@{w.Domain}" }.Order(),
            (await Addresses(index, w.Domain, "alice", "")).Order());
        Assert.DoesNotContain(w.Bob, await Addresses(index, w.Domain, "alice", "李"));
        Assert.Contains(w.Bob, await Addresses(index, w.Domain, "carol", "李"));

        // A column the address book does not show (the quota) leaves the copy current.
        await using (var cmd = ds.CreateCommand("UPDATE directory_account SET quota_bytes = quota_bytes + 1 WHERE domain = $1"))
        {
            cmd.Parameters.Add(new NpgsqlParameter { Value = w.Domain });
            await cmd.ExecuteNonQueryAsync();
        }
        Assert.True(await Fresh(index, w.Domain));

        // Each change below: the copy in hand is stale at once (never used again), and the next one agrees with SQL.
        async Task Changed(string step)
        {
            Assert.False(await Fresh(index, w.Domain), $"{step}: the old copy must not answer after the change committed");
            await AssertAgrees(store, index, w, step);
        }

        // Disabled (admin API → DomainGrain).
        Assert.True((await Admin.PutAsJsonAsync($"/api/v1/accounts/{w.Bob}/enabled", new { enabled = false })).IsSuccessStatusCode);
        await Changed("bob disabled");
        Assert.DoesNotContain(w.Bob, await Addresses(index, w.Domain, "carol", "李"));

        // Hidden from the address book.
        Assert.True((await Admin.PatchAsJsonAsync($"/api/v1/accounts/{w.Andy}", new { inAddressBook = false })).IsSuccessStatusCode);
        await Changed("andy hidden");
        Assert.DoesNotContain(w.Andy, await Addresses(index, w.Domain, "carol", "andy"));

        // Moved into A: now inside alice's rule, and under it himself.
        Assert.DoesNotContain($"dave@{w.Domain}", await Addresses(index, w.Domain, "alice", "dave"));
        // (DirectorySeed writes the rows as an import does; the domain grain knows only the departments made through it.)
        await seed.AccountAsync(w.Domain, "dave", "戴伟 David Wu", w.A, title: "Engineer");
        await Changed("dave moved to A");
        Assert.Contains($"dave@{w.Domain}", await Addresses(index, w.Domain, "alice", "dave"));
        Assert.DoesNotContain(w.Carol, await Addresses(index, w.Domain, "dave", "王"));

        // A department renamed: the path shown with each of its members.
        await using (var cmd = ds.CreateCommand("UPDATE directory_department SET name = 'Sales EMEA' WHERE id = $1"))
        {
            cmd.Parameters.Add(new NpgsqlParameter { Value = w.A });
            await cmd.ExecuteNonQueryAsync();
        }
        await Changed("A renamed");
        var copy = await index.CurrentAsync(w.Domain, TimeSpan.FromSeconds(30));
        Assert.Equal([w.Domain, "Sales EMEA"], copy!.Search("carol", "zsf", 10).Single().DepartmentPath);

        // A rule added (carol by name sees only B), then A's rule deleted (alice sees the whole domain).
        Assert.Equal(HttpStatusCode.Created, (await Admin.PostAsJsonAsync($"/api/v1/domains/{w.Domain}/address-book/rules",
            new { appliesTo = new { accounts = new[] { w.Carol } }, visibleDepartments = new[] { w.B } })).StatusCode);
        await Changed("rule for carol");
        Assert.DoesNotContain(w.Alice, await Addresses(index, w.Domain, "carol", "zsf"));
        Assert.True((await Admin.DeleteAsync($"/api/v1/domains/{w.Domain}/address-book/rules/{w.RuleId}")).IsSuccessStatusCode);
        await Changed("A's rule deleted");
        Assert.Contains(w.Carol, await Addresses(index, w.Domain, "alice", "王"));

        // Public contacts and lists: removed ones leave at once.
        Assert.Equal(HttpStatusCode.NoContent, (await Admin.DeleteAsync($"/api/v1/domains/{w.Domain}/lists/all-hands")).StatusCode);
        await Changed("list deleted");
        Assert.DoesNotContain($"all-hands@{w.Domain}", await Addresses(index, w.Domain, "alice", "全体"));

        // Written by SQL directly (a seed, an import): the triggers move the number all the same.
        await seed.AccountAsync(w.Domain, "zed", "Zed Renamed", w.B, enabled: true);
        await Changed("renamed by SQL");
    }

    [Fact]
    public async Task A_large_domain_that_keeps_changing_is_answered_by_sql_until_it_settles_never_by_the_old_copy()
    {
        var w = await AddressBookWorld.CreateAsync(fixture);
        await using var ds = NpgsqlDataSource.Create(fixture.ConnectionString);
        // Every domain counts as large here, and none ever settles.
        var index = new AddressBookIndex(ds) { QuickLoadEntries = 0, Settle = TimeSpan.FromHours(1) };
        var store = new AddressBookStore(ds, index);
        Assert.NotNull(await index.CurrentAsync(w.Domain, TimeSpan.FromSeconds(30)));
        Assert.Contains(w.Bob, (await store.SearchAsync(w.Domain, "carol", "李", 10)).Select(e => e.Address));

        await new DirectorySeed(fixture.ConnectionString).AccountAsync(w.Domain, "bob", "李四", w.B, enabled: false);
        Assert.Null(await index.CurrentAsync(w.Domain, TimeSpan.FromSeconds(5)));
        Assert.DoesNotContain(w.Bob, (await store.SearchAsync(w.Domain, "carol", "李", 10)).Select(e => e.Address));
        Assert.Null(await index.CurrentAsync(w.Domain, TimeSpan.FromSeconds(5)));
    }

    [Fact]
    public async Task The_hosts_autocomplete_shows_a_directory_change_in_the_very_next_search()
    {
        var w = await AddressBookWorld.CreateAsync(fixture);
        using var carol = fixture.UserClient(w.Carol, AddressBookWorld.Password);
        async Task<List<string>> Search(string q)
        {
            var r = await carol.GetAsync($"/api/v1/me/address-book?q={Uri.EscapeDataString(q)}&limit=50");
            Assert.Equal(HttpStatusCode.OK, r.StatusCode);
            return [.. (await r.Content.ReadFromJsonAsync<JsonElement>()).EnumerateArray().Select(e => e.GetProperty("address").GetString()!)];
        }
        // Enough searches that the host's copy of the domain is loaded and in use.
        for (var i = 0; i < 5; i++) Assert.Contains(w.Bob, await Search("李"));
        Assert.True((await Admin.PutAsJsonAsync($"/api/v1/accounts/{w.Bob}/enabled", new { enabled = false })).IsSuccessStatusCode);
        Assert.DoesNotContain(w.Bob, await Search("李"));
        for (var i = 0; i < 5; i++) Assert.Contains(w.Alice, await Search("zsf"));
        Assert.Equal(HttpStatusCode.Created, (await Admin.PostAsJsonAsync($"/api/v1/domains/{w.Domain}/address-book/rules",
            new { appliesTo = new { accounts = new[] { w.Carol } }, visibleDepartments = new[] { w.B } })).StatusCode);
        Assert.Empty(await Search("zsf"));
    }

    /// <summary>
    /// The database's address_book_initials (migration 0047's cheaper body of 0016's function, under the initials
    /// index) against the C# model the copy uses: every hanzi of the CJK block inside mixed names, every other
    /// BMP character between Latin letters, and names that mix words, digits and full-width letters.
    /// </summary>
    [Fact]
    public async Task The_sql_initials_function_computes_what_the_copy_computes_for_every_character()
    {
        var names = new List<string> { "", "张三丰", "Li Lei", "王伟12 Jo-hn", "ＡＢｃ Zz", "戴伟 David Wu", "Ｚed", "a1b2 c", "Andy Lau 刘德华", "褚琪x" };
        for (var c = 0x4DB0; c <= 0xA000; c++)
            names.Add($"{(char)c}x{(char)(c + 1)} Li lei{(char)('Ａ' + c % 26)}{(char)(c + 2)}9ab-Cd{(char)c}");
        for (var c = 1; c <= 0xFFFF; c++)
        {
            if (char.IsSurrogate((char)c)) continue;
            names.Add($"a{(char)c}Bc{(char)c}{(char)c}");
        }
        await using var ds = NpgsqlDataSource.Create(fixture.ConnectionString);
        await using var cmd = ds.CreateCommand("SELECT address_book_initials(n) FROM unnest(@n) WITH ORDINALITY AS t(n, i) ORDER BY i");
        cmd.Parameters.AddWithValue("n", names.ToArray());
        await using var r = await cmd.ExecuteReaderAsync();
        var wrong = new List<string>();
        for (var i = 0; await r.ReadAsync(); i++)
        {
            var expected = AddressBookIndex.InitialsAsInSql(names[i]);
            if (r.GetString(0) != expected) wrong.Add($"{names[i]} (U+{(int)names[i].FirstOrDefault():X4}...): sql {r.GetString(0)}, copy {expected}");
        }
        Assert.True(wrong.Count == 0, $"{wrong.Count} names differ, e.g. {string.Join("; ", wrong.Take(5))}");
    }
}

using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Xml.Linq;
using GrainMail.Tests.Infrastructure;

namespace GrainMail.Tests;

/// <summary>
/// The read-only CardDAV address book (RFC 6352) on the HTTPS listener: raw WebDAV requests, and
/// Debian's vdirsyncer syncing it to a local directory. Each user receives exactly the entries
/// the visibility rules let them see.
/// </summary>
public sealed class CardDavTests(AddressBookHostFixture fixture) : IClassFixture<AddressBookHostFixture>
{
    private static readonly XNamespace D = "DAV:";
    private static readonly XNamespace C = "urn:ietf:params:xml:ns:carddav";
    private static readonly XNamespace CS = "http://calendarserver.org/ns/";

    private static async Task<(HttpStatusCode Status, XElement? Body, HttpResponseMessage Response)> Dav(
        HttpClient http, string method, string path, string? body = null, string? depth = null)
    {
        using var req = new HttpRequestMessage(new HttpMethod(method), path);
        if (body is not null) req.Content = new StringContent(body, Encoding.UTF8, "application/xml");
        if (depth is not null) req.Headers.Add("Depth", depth);
        var r = await http.SendAsync(req);
        var text = await r.Content.ReadAsStringAsync();
        XElement? xml = r.Content.Headers.ContentType?.MediaType == "application/xml" && text.Length > 0 ? XDocument.Parse(text).Root : null;
        return (r.StatusCode, xml, r);
    }

    private static string PropFind(params XName[] props) =>
        new XElement(D + "propfind", new XElement(D + "prop", props.Select(p => new XElement(p)))).ToString();

    private static IEnumerable<XElement> Responses(XElement multistatus) => multistatus.Elements(D + "response");

    private static XElement? Prop(XElement response, XName name) =>
        response.Elements(D + "propstat").Where(ps => ps.Element(D + "status")!.Value.Contains(" 200 ")).Elements(D + "prop").Elements(name).FirstOrDefault();

    private async Task<Dictionary<string, string>> Cards(HttpClient http, string user)
    {
        var book = $"/carddav/addressbooks/{user}/directory/";
        var (status, listing, _) = await Dav(http, "PROPFIND", book, PropFind(D + "getetag", D + "getcontenttype"), "1");
        Assert.Equal(HttpStatusCode.MultiStatus, status);
        var hrefs = Responses(listing!).Select(r => r.Element(D + "href")!.Value).Where(h => h != book).ToList();
        var multiget = new XElement(C + "addressbook-multiget",
            new XElement(D + "prop", new XElement(D + "getetag"), new XElement(C + "address-data")),
            hrefs.Select(h => new XElement(D + "href", h))).ToString();
        var (rs, cards, _) = await Dav(http, "REPORT", book, multiget, "1");
        Assert.Equal(HttpStatusCode.MultiStatus, rs);
        return Responses(cards!).ToDictionary(r => r.Element(D + "href")!.Value, r => Prop(r, C + "address-data")!.Value);
    }

    private static string Email(string vcard) =>
        vcard.Split("\r\n").Single(l => l.StartsWith("EMAIL", StringComparison.Ordinal)).Split(':', 2)[1];

    [Fact]
    public async Task Discovery_leads_from_the_well_known_uri_to_the_users_address_book()
    {
        var w = await AddressBookWorld.CreateAsync(fixture);
        using var http = fixture.UserClient(w.Alice, AddressBookWorld.Password);
        var (status, _, redirect) = await Dav(http, "PROPFIND", "/.well-known/carddav", PropFind(D + "current-user-principal"), "0");
        Assert.Equal(HttpStatusCode.MovedPermanently, status);
        Assert.Equal("/carddav/", redirect.Headers.Location!.OriginalString);

        var (s1, root, _) = await Dav(http, "PROPFIND", "/carddav/", PropFind(D + "current-user-principal"), "0");
        Assert.Equal(HttpStatusCode.MultiStatus, s1);
        var principal = Prop(Responses(root!).Single(), D + "current-user-principal")!.Element(D + "href")!.Value;
        Assert.Equal($"/carddav/principals/{w.Alice}/", principal);

        var (s2, p, _) = await Dav(http, "PROPFIND", principal, PropFind(C + "addressbook-home-set", D + "no-such-property"), "0");
        Assert.Equal(HttpStatusCode.MultiStatus, s2);
        var home = Prop(Responses(p!).Single(), C + "addressbook-home-set")!.Element(D + "href")!.Value;
        // An unknown property is reported as such (RFC 4918 9.1), not dropped.
        Assert.Contains(Responses(p!).Single().Elements(D + "propstat"), ps => ps.Element(D + "status")!.Value.Contains("404") && ps.Descendants(D + "no-such-property").Any());

        var (s3, collections, _) = await Dav(http, "PROPFIND", home, PropFind(D + "resourcetype", D + "displayname", CS + "getctag"), "1");
        Assert.Equal(HttpStatusCode.MultiStatus, s3);
        var books = Responses(collections!).Where(r => Prop(r, D + "resourcetype")?.Element(C + "addressbook") is not null).ToList();
        Assert.Equal([$"{home}directory/"], books.Select(b => b.Element(D + "href")!.Value));
        Assert.False(string.IsNullOrEmpty(Prop(books[0], CS + "getctag")?.Value));

        // Someone else's principal and book are not for alice.
        Assert.Equal(HttpStatusCode.Forbidden, (await Dav(http, "PROPFIND", $"/carddav/addressbooks/{w.Bob}/directory/", PropFind(D + "getetag"), "1")).Status);
        Assert.Equal(HttpStatusCode.Forbidden, (await Dav(http, "PROPFIND", $"/carddav/principals/{w.Bob}/", PropFind(D + "displayname"), "0")).Status);
        Assert.Equal(HttpStatusCode.NotFound, (await Dav(http, "PROPFIND", "/carddav/elsewhere/x/y/z/w", PropFind(D + "displayname"), "0")).Status);
    }

    [Fact]
    public async Task The_book_holds_exactly_the_visible_entries_as_vcards()
    {
        var w = await AddressBookWorld.CreateAsync(fixture);
        using var alice = fixture.UserClient(w.Alice, AddressBookWorld.Password);
        var aliceCards = await Cards(alice, w.Alice);
        Assert.Equal([w.Alice, w.Andy], aliceCards.Values.Select(Email).Order());
        var card = aliceCards.Values.Single(v => Email(v) == w.Alice);
        Assert.StartsWith("BEGIN:VCARD\r\nVERSION:3.0\r\n", card);
        Assert.Contains("FN:张三丰\r\n", card);
        Assert.Contains("N:张;三丰;;;\r\n", card);
        Assert.Contains($"ORG:{w.Domain};Sales\r\n", card);
        Assert.Contains("TITLE:Manager\r\n", card);
        Assert.Contains("TEL;TYPE=WORK,VOICE:+86 10 1234 5678\r\n", card);
        Assert.Contains($"UID:grainmail:account:{w.Alice}\r\n", card);
        Assert.EndsWith("END:VCARD\r\n", card);

        using var bob = fixture.UserClient(w.Bob, AddressBookWorld.Password);
        var bobCards = await Cards(bob, w.Bob);
        Assert.Equal(new[] { w.Alice, w.Andy, w.Bob, w.Carol }.Order(), bobCards.Values.Select(Email).Order());

        // GET of one card: the same text, its ETag, conditional GET.
        var href = aliceCards.Single(c => Email(c.Value) == w.Andy).Key;
        var get = await alice.GetAsync(href);
        Assert.Equal(HttpStatusCode.OK, get.StatusCode);
        Assert.Equal("text/vcard", get.Content.Headers.ContentType?.MediaType);
        Assert.Equal(aliceCards[href], await get.Content.ReadAsStringAsync());
        using var conditional = new HttpRequestMessage(HttpMethod.Get, href);
        conditional.Headers.TryAddWithoutValidation("If-None-Match", get.Headers.ETag!.Tag);
        Assert.Equal(HttpStatusCode.NotModified, (await alice.SendAsync(conditional)).StatusCode);
        // Bob's card is not in alice's book, even asked for by name.
        var bobHref = bobCards.Single(c => Email(c.Value) == w.Bob).Key;
        Assert.Equal(HttpStatusCode.Forbidden, (await alice.GetAsync(bobHref)).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await alice.GetAsync(bobHref.Replace($"/{w.Bob}/", $"/{w.Alice}/"))).StatusCode);
    }

    [Fact]
    public async Task Addressbook_query_filters_and_multiget_reports_unknown_hrefs()
    {
        var w = await AddressBookWorld.CreateAsync(fixture);
        using var bob = fixture.UserClient(w.Bob, AddressBookWorld.Password);
        var book = $"/carddav/addressbooks/{w.Bob}/directory/";
        var query = new XElement(C + "addressbook-query",
            new XElement(D + "prop", new XElement(D + "getetag"), new XElement(C + "address-data")),
            new XElement(C + "filter", new XAttribute("test", "anyof"),
                new XElement(C + "prop-filter", new XAttribute("name", "FN"),
                    new XElement(C + "text-match", new XAttribute("match-type", "contains"), "andy")),
                new XElement(C + "prop-filter", new XAttribute("name", "EMAIL"),
                    new XElement(C + "text-match", new XAttribute("match-type", "starts-with"), "carol@")))).ToString();
        var (status, result, _) = await Dav(bob, "REPORT", book, query, "1");
        Assert.Equal(HttpStatusCode.MultiStatus, status);
        Assert.Equal(new[] { w.Andy, w.Carol }.Order(), Responses(result!).Select(r => Email(Prop(r, C + "address-data")!.Value)).Order());
        // Alice asking the same never gets carol (outside Sales).
        using var alice = fixture.UserClient(w.Alice, AddressBookWorld.Password);
        var (_, aliceResult, _) = await Dav(alice, "REPORT", $"/carddav/addressbooks/{w.Alice}/directory/", query, "1");
        Assert.Equal([w.Andy], Responses(aliceResult!).Select(r => Email(Prop(r, C + "address-data")!.Value)));

        var multiget = new XElement(C + "addressbook-multiget", new XElement(D + "prop", new XElement(D + "getetag")),
            new XElement(D + "href", book + "a-nobody@nowhere.vcf")).ToString();
        var (ms, missing, _) = await Dav(bob, "REPORT", book, multiget);
        Assert.Equal(HttpStatusCode.MultiStatus, ms);
        Assert.Contains("404", Responses(missing!).Single().Element(D + "status")!.Value);
        Assert.Equal(HttpStatusCode.Forbidden, (await Dav(bob, "REPORT", book, new XElement(D + "expand-property").ToString())).Status);
        Assert.Equal(HttpStatusCode.BadRequest, (await Dav(bob, "REPORT", book, "<not xml")).Status);
        Assert.Equal(HttpStatusCode.BadRequest, (await Dav(bob, "PROPFIND", book, "<!DOCTYPE x [<!ENTITY e \"e\">]><x/>", "0")).Status);
    }

    [Fact]
    public async Task Writes_are_refused_and_the_ctag_follows_the_directory()
    {
        var w = await AddressBookWorld.CreateAsync(fixture);
        using var bob = fixture.UserClient(w.Bob, AddressBookWorld.Password);
        var book = $"/carddav/addressbooks/{w.Bob}/directory/";
        using (var put = new HttpRequestMessage(HttpMethod.Put, book + "new.vcf") { Content = new StringContent("BEGIN:VCARD\r\nVERSION:3.0\r\nFN:x\r\nEND:VCARD\r\n") })
        {
            var r = await bob.SendAsync(put);
            Assert.Equal(HttpStatusCode.Forbidden, r.StatusCode);
            Assert.Contains("need-privileges", await r.Content.ReadAsStringAsync());
        }
        Assert.Equal(HttpStatusCode.Forbidden, (await bob.DeleteAsync(book)).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await Dav(bob, "PROPPATCH", book, "<d:propertyupdate xmlns:d=\"DAV:\"/>")).Status);
        Assert.Equal(HttpStatusCode.MethodNotAllowed, (await Dav(bob, "MKCOL", $"/carddav/addressbooks/{w.Bob}/other/")).Status);

        async Task<string> CTag()
        {
            var (_, x, _) = await Dav(bob, "PROPFIND", book, PropFind(CS + "getctag"), "0");
            return Prop(Responses(x!).Single(), CS + "getctag")!.Value;
        }
        var before = await CTag();
        Assert.Equal(before, await CTag());
        var added = await fixture.Host.Http.PostAsJsonAsync($"/api/v1/domains/{w.Domain}/contacts", new { address = "ext@partner.example", displayName = "External" });
        Assert.Equal(HttpStatusCode.Created, added.StatusCode);
        var afterContact = await CTag();
        Assert.NotEqual(before, afterContact);
        // A department rename changes the cards below it (ORG), so the tag too.
        await using (var conn = new Npgsql.NpgsqlConnection(fixture.ConnectionString))
        {
            await conn.OpenAsync();
            await using var cmd = new Npgsql.NpgsqlCommand("UPDATE directory_department SET name = 'Research & Development' WHERE id = @id", conn);
            cmd.Parameters.AddWithValue("id", w.B);
            await cmd.ExecuteNonQueryAsync();
        }
        Assert.NotEqual(afterContact, await CTag());
        Assert.Contains(@"ORG:" + w.Domain + @";Research & Development", string.Join("\n", (await Cards(bob, w.Bob)).Values));
    }

    private static string SyncCollection(string token, params XName[] props) =>
        new XElement(D + "sync-collection", new XElement(D + "sync-token", token), new XElement(D + "sync-level", "1"),
            new XElement(D + "prop", props.Select(p => new XElement(p)))).ToString();

    /// <summary>One sync-collection REPORT: the hrefs answered 200 (with their vCards when asked), those answered 404, and the new token.</summary>
    private static async Task<(Dictionary<string, string?> Changed, List<string> Removed, string Token)> Sync(HttpClient http, string book, string token)
    {
        var (status, ms, _) = await Dav(http, "REPORT", book, SyncCollection(token, D + "getetag", C + "address-data"), "1");
        Assert.Equal(HttpStatusCode.MultiStatus, status);
        var changed = Responses(ms!).Where(r => r.Element(D + "status") is null)
            .ToDictionary(r => r.Element(D + "href")!.Value, r => Prop(r, C + "address-data")?.Value);
        var removed = Responses(ms!).Where(r => r.Element(D + "status")?.Value.Contains(" 404 ") == true).Select(r => r.Element(D + "href")!.Value).ToList();
        return (changed, removed, ms!.Element(D + "sync-token")!.Value);
    }

    /// <summary>
    /// Tokens are kept in PostgreSQL (migration 0036), not in the gateway's memory: after a restart the
    /// client's token still names its state, and the REPORT answers with the changes only, not a full resync.
    /// </summary>
    [Fact]
    public async Task A_sync_token_stays_valid_after_the_gateway_restarts()
    {
        var w = await AddressBookWorld.CreateAsync(fixture);
        var book = $"/carddav/addressbooks/{w.Bob}/directory/";
        string token;
        Dictionary<string, string?> all;
        using (var bob = fixture.UserClient(w.Bob, AddressBookWorld.Password)) (all, _, token) = await Sync(bob, book, "");
        Assert.Equal(4, all.Count);
        Assert.Equal(HttpStatusCode.Created, (await fixture.Host.Http.PostAsJsonAsync($"/api/v1/domains/{w.Domain}/contacts",
            new { address = "after-restart@partner.example", displayName = "After Restart" })).StatusCode);

        await fixture.RestartAsync();

        using var again = fixture.UserClient(w.Bob, AddressBookWorld.Password);
        var (changed, removed, next) = await Sync(again, book, token);
        Assert.Equal(["after-restart@partner.example"], changed.Values.Select(v => Email(v!)));
        Assert.Empty(removed);
        Assert.NotEqual(token, next);
        // The new token, issued after the restart, is understood too: nothing changed since.
        var (none, noneRemoved, _) = await Sync(again, book, next);
        Assert.Empty(none);
        Assert.Empty(noneRemoved);
    }

    [Fact]
    public async Task Sync_collection_sends_what_changed_since_the_token_and_removals_as_404()
    {
        var w = await AddressBookWorld.CreateAsync(fixture);
        using var bob = fixture.UserClient(w.Bob, AddressBookWorld.Password);
        var book = $"/carddav/addressbooks/{w.Bob}/directory/";

        // RFC 6578 3.4: the initial sync (empty token) is every card, and a token.
        var (all, none, first) = await Sync(bob, book, "");
        Assert.Equal(new[] { w.Alice, w.Andy, w.Bob, w.Carol }.Order(), all.Values.Select(v => Email(v!)).Order());
        Assert.Empty(none);
        var (_, listing, _) = await Dav(bob, "PROPFIND", book, PropFind(D + "sync-token", D + "supported-report-set"), "0");
        var bookProps = Responses(listing!).Single();
        Assert.Equal(first, Prop(bookProps, D + "sync-token")!.Value);
        Assert.NotNull(Prop(bookProps, D + "supported-report-set")!.Descendants(D + "sync-collection").FirstOrDefault());
        // Nothing changed: nothing sent, the same token.
        var (same, sameRemoved, sameToken) = await Sync(bob, book, first);
        Assert.Empty(same);
        Assert.Empty(sameRemoved);
        Assert.Equal(first, sameToken);

        // A shared contact arrives, alice's card changes, carol leaves the address book.
        Assert.Equal(HttpStatusCode.Created, (await fixture.Host.Http.PostAsJsonAsync($"/api/v1/domains/{w.Domain}/contacts",
            new { address = "sync@partner.example", displayName = "Synced Partner" })).StatusCode);
        await using (var conn = new Npgsql.NpgsqlConnection(fixture.ConnectionString))
        {
            await conn.OpenAsync();
            await using var cmd = new Npgsql.NpgsqlCommand(
                "UPDATE directory_account SET title = CASE local_part WHEN 'alice' THEN 'Director' ELSE title END, " +
                "in_address_book = (local_part <> 'carol') WHERE domain = @d AND local_part IN ('alice', 'carol')", conn);
            cmd.Parameters.AddWithValue("d", w.Domain);
            await cmd.ExecuteNonQueryAsync();
        }
        var (changed, removed, second) = await Sync(bob, book, first);
        Assert.NotEqual(first, second);
        Assert.Equal(new[] { w.Alice, "sync@partner.example" }.Order(), changed.Values.Select(v => Email(v!)).Order());
        Assert.Contains("TITLE:Director\r\n", changed.Values.Single(v => Email(v!) == w.Alice));
        var carolHref = all.Single(c => Email(c.Value!) == w.Carol).Key;
        Assert.Equal([carolHref], removed);
        // Asked again from the new token: nothing; from the old one: the same difference.
        var (after, afterRemoved, _) = await Sync(bob, book, second);
        Assert.Empty(after);
        Assert.Empty(afterRemoved);
        Assert.Equal(2, (await Sync(bob, book, first)).Changed.Count);

        // A token that names no state of this user's book: the client must start over (RFC 6578 3.2).
        using var alice = fixture.UserClient(w.Alice, AddressBookWorld.Password);
        var aliceBook = $"/carddav/addressbooks/{w.Alice}/directory/";
        foreach (var stale in new[] { first, "urn:grainmail:carddav-sync:0000", "http://example.com/other-server-token" })
        {
            var (status, error, _) = await Dav(alice, "REPORT", aliceBook, SyncCollection(stale, D + "getetag"), "1");
            Assert.Equal(HttpStatusCode.Forbidden, status);
            Assert.NotNull(error!.Element(D + "valid-sync-token"));
        }
        // Malformed: no sync-level.
        var noLevel = new XElement(D + "sync-collection", new XElement(D + "sync-token"), new XElement(D + "prop", new XElement(D + "getetag"))).ToString();
        Assert.Equal(HttpStatusCode.BadRequest, (await Dav(bob, "REPORT", book, noLevel, "1")).Status);
    }

    [Fact]
    public async Task Wrong_password_and_plain_http_are_refused()
    {
        var w = await AddressBookWorld.CreateAsync(fixture);
        using var wrong = fixture.UserClient(w.Alice, "wrong password");
        var (status, _, r) = await Dav(wrong, "PROPFIND", "/carddav/", PropFind(D + "current-user-principal"), "0");
        Assert.Equal(HttpStatusCode.Unauthorized, status);
        Assert.Contains("Basic", r.Headers.WwwAuthenticate.ToString());
        using var plain = new HttpClient { BaseAddress = new Uri(fixture.Host.BaseUrl) };
        plain.DefaultRequestHeaders.Authorization = AddressBookHostFixture.Basic(w.Alice, AddressBookWorld.Password);
        Assert.Equal(HttpStatusCode.Forbidden, (await Dav(plain, "PROPFIND", "/carddav/", PropFind(D + "current-user-principal"), "0")).Status);
    }

    [Fact]
    public async Task Vdirsyncer_syncs_exactly_the_visible_cards()
    {
        var w = await AddressBookWorld.CreateAsync(fixture);
        var contact = await fixture.Host.Http.PostAsJsonAsync($"/api/v1/domains/{w.Domain}/contacts", new { address = "partner@supplier.example", displayName = "Partner" });
        Assert.Equal(HttpStatusCode.Created, contact.StatusCode);
        Assert.Equal(new[] { w.Alice, w.Andy, "partner@supplier.example" }.Order(), (await Vdirsyncer(w.Alice)).Order());
        Assert.Equal(new[] { w.Alice, w.Andy, w.Bob, w.Carol, "partner@supplier.example" }.Order(), (await Vdirsyncer(w.Bob)).Order());
    }

    /// <summary>Runs vdirsyncer discover + sync for <paramref name="user"/> into a fresh directory; the EMAIL of every card that arrived.</summary>
    private async Task<List<string>> Vdirsyncer(string user)
    {
        var dir = Path.Combine(Path.GetTempPath(), $"vdirsyncer-{Guid.NewGuid():N}");
        Directory.CreateDirectory(dir);
        try
        {
            var config = Path.Combine(dir, "config");
            await File.WriteAllTextAsync(config, $"""
                [general]
                status_path = "{dir}/status/"

                [pair book]
                a = "server"
                b = "local"
                collections = ["from a"]
                conflict_resolution = "a wins"

                [storage server]
                type = "carddav"
                url = "{fixture.HttpsUrl}/carddav/"
                username = "{user}"
                password = "{AddressBookWorld.Password}"
                verify = "{fixture.CertificatePath}"
                read_only = true

                [storage local]
                type = "filesystem"
                path = "{dir}/contacts/"
                fileext = ".vcf"
                """);
            await Run(dir, config, "discover", "y\ny\ny\n");
            await Run(dir, config, "sync", "");
            var files = Directory.GetFiles(Path.Combine(dir, "contacts"), "*.vcf", SearchOption.AllDirectories);
            return files.Select(f => Email(File.ReadAllText(f).ReplaceLineEndings("\r\n"))).ToList();
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    private static async Task Run(string dir, string config, string verb, string input)
    {
        var psi = new ProcessStartInfo("vdirsyncer")
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        psi.ArgumentList.Add("-c");
        psi.ArgumentList.Add(config);
        psi.ArgumentList.Add(verb);
        psi.Environment["HOME"] = dir;
        using var p = Process.Start(psi)!;
        await p.StandardInput.WriteAsync(input);
        p.StandardInput.Close();
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(120));
        await p.WaitForExitAsync(cts.Token);
        Assert.True(p.ExitCode == 0, $"vdirsyncer {verb} exited {p.ExitCode}:\n{await stdout}\n{await stderr}");
    }
}

using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using System.Xml.Linq;
using GrainMail.Tests.Infrastructure;

namespace GrainMail.Tests;

/// <summary>
/// The CardDAV conversations of the two clients that cannot run here, replayed request by request
/// over real HTTPS: Thunderbird's built-in CardDAV (since 91: discovery, then a full listing, the
/// book's sync-token by PROPFIND, sync-collection with it, multiget) and Apple Contacts (OPTIONS,
/// well-known, principal and home PROPFINDs with Apple's property lists and Prefer/Brief,
/// sync-collection, multiget, vCard version, refused writes). Headers and bodies are shaped as
/// those clients send them (Content-Type text/xml, their namespace prefixes, Depth, User-Agent),
/// and each step asserts what the client reads from the answer. "A's members see only A" holds
/// in every answer: alice (in Sales) never receives bob's card, however she asks.
/// </summary>
public sealed class CardDavClientConversationTests(AddressBookHostFixture fixture) : IClassFixture<AddressBookHostFixture>
{
    private static readonly XNamespace D = "DAV:";
    private static readonly XNamespace C = "urn:ietf:params:xml:ns:carddav";
    private static readonly XNamespace CS = "http://calendarserver.org/ns/";

    private const string ThunderbirdAgent = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Thunderbird/128.5.0";
    private const string AppleAgent = "macOS/14.5 (23F79) AddressBookCore/2625.600.2";

    /// <summary>One answer: status, headers, the text and (for XML) its root.</summary>
    private sealed record Answer(HttpStatusCode Status, HttpResponseMessage Response, string Text, XElement? Xml, string FinalPath);

    /// <summary>
    /// A client as Necko (Thunderbird) or CFNetwork (Apple) behaves: the first request carries no
    /// credentials; a 401 with a Basic challenge is answered by sending them, and they are sent
    /// from then on; a redirect is followed with the same method, body and headers.
    /// </summary>
    private sealed class DavClient(HttpClient http, string user, string password, string agent)
    {
        private bool _authenticated;

        public List<string> Challenges { get; } = [];

        public async Task<Answer> Send(string method, string path, string? body = null, string? depth = null, IDictionary<string, string>? headers = null)
        {
            for (var hop = 0; hop < 5; hop++)
            {
                using var req = Request(method, path, body, depth, headers, _authenticated);
                var r = await http.SendAsync(req);
                if (r.StatusCode == HttpStatusCode.Unauthorized && !_authenticated)
                {
                    Challenges.Add(r.Headers.WwwAuthenticate.ToString());
                    Assert.Contains(r.Headers.WwwAuthenticate, h => h.Scheme == "Basic" && h.Parameter!.Contains("realm=", StringComparison.Ordinal));
                    _authenticated = true;
                    continue;
                }
                if (r.StatusCode is HttpStatusCode.MovedPermanently or HttpStatusCode.Found or HttpStatusCode.TemporaryRedirect or HttpStatusCode.PermanentRedirect)
                {
                    path = new Uri(new Uri(http.BaseAddress!, path), r.Headers.Location!).AbsolutePath;
                    continue;
                }
                var text = await r.Content.ReadAsStringAsync();
                var media = r.Content.Headers.ContentType?.MediaType;
                var xml = media is "application/xml" or "text/xml" && text.Length > 0 ? XDocument.Parse(text).Root : null;
                return new Answer(r.StatusCode, r, text, xml, path);
            }
            throw new InvalidOperationException("too many hops");
        }

        private HttpRequestMessage Request(string method, string path, string? body, string? depth, IDictionary<string, string>? headers, bool withCredentials)
        {
            var req = new HttpRequestMessage(new HttpMethod(method), path);
            req.Headers.TryAddWithoutValidation("User-Agent", agent);
            if (body is not null) req.Content = new StringContent(body, Encoding.UTF8, "text/xml");
            if (depth is not null) req.Headers.Add("Depth", depth);
            foreach (var (k, v) in headers ?? new Dictionary<string, string>()) req.Headers.TryAddWithoutValidation(k, v);
            if (withCredentials) req.Headers.Authorization = AddressBookHostFixture.Basic(user, password);
            return req;
        }
    }

    private DavClient Client(string user, string password, string agent) => new(fixture.UserClient(), user, password, agent);

    private static IEnumerable<XElement> Responses(XElement ms) => ms.Elements(D + "response");

    private static XElement Response(XElement ms, string href) => Responses(ms).Single(r => r.Element(D + "href")!.Value == href);

    /// <summary>The prop of the last 200 propstat, as Thunderbird's _readResponse takes it.</summary>
    private static XElement? OkProps(XElement response) =>
        response.Elements(D + "propstat").LastOrDefault(p => p.Element(D + "status")!.Value == "HTTP/1.1 200 OK")?.Element(D + "prop");

    private static XElement? NotFoundProps(XElement response) =>
        response.Elements(D + "propstat").SingleOrDefault(p => p.Element(D + "status")!.Value == "HTTP/1.1 404 Not Found")?.Element(D + "prop");

    private static string Email(string vcard) =>
        vcard.Split("\r\n").Single(l => l.StartsWith("EMAIL", StringComparison.Ordinal)).Split(':', 2)[1];

    private static string Multiget(IEnumerable<string> hrefs, string addressData = "<card:address-data/>") => $"""
        <?xml version="1.0" encoding="utf-8"?>
            <card:addressbook-multiget xmlns:card="urn:ietf:params:xml:ns:carddav" xmlns:cs="http://calendarserver.org/ns/" xmlns:d="DAV:">
              <d:prop>
                <d:getetag/>
                {addressData}
              </d:prop>
              {string.Join("\n      ", hrefs.Select(h => $"<d:href>{h}</d:href>"))}
            </card:addressbook-multiget>
        """.Trim();

    private async Task<string> AppPassword(string user, string name)
    {
        var r = await fixture.Host.Http.PostAsJsonAsync($"/api/v1/accounts/{user}/app-passwords", new { name });
        Assert.Equal(HttpStatusCode.Created, r.StatusCode);
        return (await r.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("password").GetString()!;
    }

    private async Task Sql(string sql, string domain)
    {
        await using var conn = new Npgsql.NpgsqlConnection(fixture.ConnectionString);
        await conn.OpenAsync();
        await using var cmd = new Npgsql.NpgsqlCommand(sql, conn);
        cmd.Parameters.AddWithValue("d", domain);
        await cmd.ExecuteNonQueryAsync();
    }

    [Fact]
    public async Task Thunderbird_discovers_from_the_bare_host_lists_the_book_and_syncs_exactly_the_changes()
    {
        var w = await AddressBookWorld.CreateAsync(fixture);
        // Thunderbird is given an app password, as a user with two-factor login would.
        var tb = Client(w.Alice, await AppPassword(w.Alice, "thunderbird"), ThunderbirdAgent);

        // 1. The user typed only the host: Thunderbird asks /.well-known/carddav for the principal.
        var (wellKnown, principal) = (await tb.Send("PROPFIND", "/.well-known/carddav", """
            <?xml version="1.0" encoding="utf-8"?>
                  <propfind xmlns="DAV:">
                    <prop>
                      <current-user-principal/>
                    </prop>
                  </propfind>
            """.Trim(), "0"), $"/carddav/principals/{w.Alice}/");
        Assert.Equal(HttpStatusCode.MultiStatus, wellKnown.Status);
        Assert.Equal("/carddav/", wellKnown.FinalPath);
        Assert.Single(tb.Challenges);
        Assert.Contains("realm=\"GrainMail\"", tb.Challenges[0]);
        Assert.Equal(principal, wellKnown.Xml!.Descendants(D + "current-user-principal").Single().Element(D + "href")!.Value);

        // 2. The principal's addressbook-home-set.
        var p = await tb.Send("PROPFIND", principal, """
            <?xml version="1.0" encoding="utf-8"?>
                  <propfind xmlns="DAV:" xmlns:card="urn:ietf:params:xml:ns:carddav">
                    <prop>
                      <card:addressbook-home-set/>
                    </prop>
                  </propfind>
            """.Trim(), "0");
        Assert.Equal(HttpStatusCode.MultiStatus, p.Status);
        var home = p.Xml!.Descendants(C + "addressbook-home-set").Single().Element(D + "href")!.Value;
        Assert.Equal($"/carddav/addressbooks/{w.Alice}/", home);

        // 3. The home at depth 1: Thunderbird keeps a response whose first status is exactly
        // "HTTP/1.1 200 OK" and whose resourcetype holds addressbook; read without write makes it read-only.
        var listing = await tb.Send("PROPFIND", home, """
            <?xml version="1.0" encoding="utf-8"?>
                  <propfind xmlns="DAV:">
                    <prop>
                      <resourcetype/>
                      <displayname/>
                      <current-user-privilege-set/>
                    </prop>
                  </propfind>
            """.Trim(), "1");
        Assert.Equal(HttpStatusCode.MultiStatus, listing.Status);
        var books = Responses(listing.Xml!)
            .Where(r => r.Descendants(D + "status").First().Value == "HTTP/1.1 200 OK" && r.Descendants(D + "resourcetype").Elements(C + "addressbook").Any())
            .ToList();
        var book = Assert.Single(books).Element(D + "href")!.Value;
        Assert.Equal($"{home}directory/", book);
        Assert.Equal($"Directory ({w.Alice})", books[0].Descendants(D + "displayname").Single().Value);
        var privileges = books[0].Descendants(D + "current-user-privilege-set").Single().Elements(D + "privilege").Elements().Select(e => e.Name.LocalName).ToList();
        Assert.Contains("read", privileges);
        Assert.DoesNotContain(privileges, x => x is "write" or "write-properties" or "write-content" or "all");

        // 4. fetchAllFromServer: the members with their ETags (collections skipped)...
        var all = await tb.Send("PROPFIND", book, """
            <propfind xmlns="DAV:" xmlns:card="urn:ietf:params:xml:ns:carddav" xmlns:cs="http://calendarserver.org/ns/" xmlns:d="DAV:">
                  <prop>
                    <resourcetype/>
                    <getetag/>
                    <cs:getctag/>
                  </prop>
                </propfind>
            """, "1");
        Assert.Equal(HttpStatusCode.MultiStatus, all.Status);
        Assert.False(string.IsNullOrEmpty(OkProps(Response(all.Xml!, book))!.Element(CS + "getctag")?.Value));
        var etags = Responses(all.Xml!).Where(r => OkProps(r) is { } props && props.Element(D + "resourcetype")!.Element(D + "collection") is null)
            .ToDictionary(r => r.Element(D + "href")!.Value, r => OkProps(r)!.Element(D + "getetag")!.Value);
        var aliceHref = $"{book}a-{w.Alice}.vcf";
        var andyHref = $"{book}a-{w.Andy}.vcf";
        Assert.Equal(new[] { aliceHref, andyHref }.Order(), etags.Keys.Order());

        // ...then one multiget of them (Depth 1, as Thunderbird sends it).
        var cards = await tb.Send("REPORT", book, Multiget(etags.Keys), "1");
        Assert.Equal(HttpStatusCode.MultiStatus, cards.Status);
        var texts = Responses(cards.Xml!).ToDictionary(r => r.Element(D + "href")!.Value, r => OkProps(r)!);
        Assert.Equal(etags.Keys.Order(), texts.Keys.Order());
        foreach (var (href, props) in texts) Assert.Equal(etags[href], props.Element(D + "getetag")!.Value);
        var alice = texts[aliceHref].Element(C + "address-data")!.Value;
        // CR LF arrive intact (Thunderbird keeps them when present), UTF-8 hanzi unharmed.
        Assert.StartsWith("BEGIN:VCARD\r\nVERSION:3.0\r\n", alice);
        Assert.Contains("FN:张三丰\r\n", alice);
        Assert.Contains("N:张;三丰;;;\r\n", alice);
        Assert.Contains($"EMAIL;TYPE=INTERNET:{w.Alice}\r\n", alice);
        Assert.Contains("TEL;TYPE=WORK,VOICE:+86 10 1234 5678\r\n", alice);
        Assert.Contains($"ORG:{w.Domain};Sales\r\n", alice);
        Assert.Contains("TITLE:Manager\r\n", alice);
        Assert.Contains($"UID:grainmail:account:{w.Alice}\r\n", alice);
        Assert.Contains("FN:Andy Lau\r\n", texts[andyHref].Element(C + "address-data")!.Value);

        // 5. _getSyncToken: the token comes from a PROPFIND, not from a sync-collection answer.
        var tokenAnswer = await tb.Send("PROPFIND", book, """
            <propfind xmlns="DAV:" xmlns:card="urn:ietf:params:xml:ns:carddav" xmlns:cs="http://calendarserver.org/ns/" xmlns:d="DAV:">
                  <prop>
                     <displayname/>
                     <cs:getctag/>
                     <sync-token/>
                  </prop>
                </propfind>
            """, "0");
        var token = OkProps(Response(tokenAnswer.Xml!, book))!.Element(D + "sync-token")!.Value;
        Assert.StartsWith("urn:", token);

        // The directory changes: a shared contact arrives, alice's title changes, andy is hidden.
        Assert.Equal(HttpStatusCode.Created, (await fixture.Host.Http.PostAsJsonAsync($"/api/v1/domains/{w.Domain}/contacts",
            new { address = "tb@partner.example", displayName = "Партнёр 合作伙伴" })).StatusCode);
        await Sql("UPDATE directory_account SET title = CASE local_part WHEN 'alice' THEN 'Director' ELSE title END, " +
            "in_address_book = (local_part <> 'andy') WHERE domain = @d AND local_part IN ('alice', 'andy')", w.Domain);

        // 6. updateAllFromServerV2: exactly the changes, a removal as a 404 response, a new token.
        var synced = await tb.Send("REPORT", book, $"""
            <sync-collection xmlns="DAV:" xmlns:card="urn:ietf:params:xml:ns:carddav" xmlns:cs="http://calendarserver.org/ns/" xmlns:d="DAV:">
                  <sync-token>{token}</sync-token>
                  <sync-level>1</sync-level>
                  <prop>
                    <getetag/>
                    <card:address-data/>
                  </prop>
                </sync-collection>
            """, "1");
        Assert.Equal(HttpStatusCode.MultiStatus, synced.Status);
        var removed = Responses(synced.Xml!).Where(r => r.Element(D + "status")?.Value.StartsWith("HTTP/1.1 404", StringComparison.Ordinal) == true)
            .Select(r => r.Element(D + "href")!.Value).ToList();
        Assert.Equal([andyHref], removed);
        var changed = Responses(synced.Xml!).Where(r => r.Element(D + "status") is null)
            .ToDictionary(r => r.Element(D + "href")!.Value, r => OkProps(r)!);
        Assert.Equal(2, changed.Count);
        Assert.Contains("TITLE:Director\r\n", changed[aliceHref].Element(C + "address-data")!.Value);
        Assert.NotEqual(etags[aliceHref], changed[aliceHref].Element(D + "getetag")!.Value);
        var contact = changed.Single(c => c.Key != aliceHref).Value.Element(C + "address-data")!.Value;
        Assert.Contains("FN:Партнёр 合作伙伴\r\n", contact);
        Assert.Equal("tb@partner.example", Email(contact));
        var next = synced.Xml!.Element(D + "sync-token")!.Value;
        Assert.NotEqual(token, next);

        // 7. The next sync with the new token: nothing.
        var quiet = await tb.Send("REPORT", book, $"""
            <sync-collection xmlns="DAV:" xmlns:card="urn:ietf:params:xml:ns:carddav"><sync-token>{next}</sync-token><sync-level>1</sync-level><prop><getetag/><card:address-data/></prop></sync-collection>
            """, "1");
        Assert.Equal(HttpStatusCode.MultiStatus, quiet.Status);
        Assert.Empty(Responses(quiet.Xml!));
        Assert.Equal(next, quiet.Xml!.Element(D + "sync-token")!.Value);

        // 8. A token the server no longer knows: Thunderbird starts over only on 400 (any other status
        // fails its sync for good), so it gets 400, still naming the precondition.
        var stale = await tb.Send("REPORT", book, $"""
            <sync-collection xmlns="DAV:"><sync-token>urn:grainmail:carddav-sync:00000000000000000000000000000000</sync-token><sync-level>1</sync-level><prop><getetag/></prop></sync-collection>
            """, "1");
        Assert.Equal(HttpStatusCode.BadRequest, stale.Status);
        Assert.NotNull(stale.Xml!.Element(D + "valid-sync-token"));
    }

    [Fact]
    public async Task Thunderbird_multiget_of_cards_alice_may_not_see_answers_404_and_no_card()
    {
        var w = await AddressBookWorld.CreateAsync(fixture);
        var tb = Client(w.Alice, AddressBookWorld.Password, ThunderbirdAgent);
        var book = $"/carddav/addressbooks/{w.Alice}/directory/";
        var bobBook = $"/carddav/addressbooks/{w.Bob}/directory/";
        // bob (Research), carol (root), hidden (not in the book), gone (disabled): asked by alice's
        // book path, by bob's, as an absolute URL and percent-encoded.
        string[] forbidden =
        [
            $"{book}a-{w.Bob}.vcf", $"{book}a-{w.Carol}.vcf", $"{book}a-{w.Hidden}.vcf", $"{book}a-{w.Gone}.vcf",
            $"{bobBook}a-{w.Bob}.vcf", $"{fixture.HttpsUrl}{book}a-{w.Carol}.vcf", $"{book}a-{Uri.EscapeDataString(w.Bob)}.vcf",
        ];
        var answer = await tb.Send("REPORT", book, Multiget([.. forbidden, $"{book}a-{w.Andy}.vcf"]), "1");
        Assert.Equal(HttpStatusCode.MultiStatus, answer.Status);
        foreach (var href in forbidden)
        {
            var r = Response(answer.Xml!, href);
            Assert.Equal("HTTP/1.1 404 Not Found", r.Element(D + "status")!.Value);
            Assert.Empty(r.Descendants(C + "address-data"));
        }
        Assert.Contains("FN:Andy Lau", Response(answer.Xml!, $"{book}a-{w.Andy}.vcf").Descendants(C + "address-data").Single().Value);
        foreach (var name in new[] { "李四", "王小明", "Hidden Person", "Gone Person" }) Assert.DoesNotContain(name, answer.Text);

        // Nor through bob's book, his sync-collection, or a GET.
        Assert.Equal(HttpStatusCode.Forbidden, (await tb.Send("REPORT", bobBook, Multiget([$"{bobBook}a-{w.Bob}.vcf"]), "1")).Status);
        Assert.Equal(HttpStatusCode.Forbidden, (await tb.Send("REPORT", bobBook,
            "<sync-collection xmlns=\"DAV:\"><sync-token/><sync-level>1</sync-level><prop><getetag/></prop></sync-collection>", "1")).Status);
        Assert.Equal(HttpStatusCode.NotFound, (await tb.Send("GET", $"{book}a-{w.Carol}.vcf")).Status);
        var query = await tb.Send("REPORT", book, """
            <C:addressbook-query xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:carddav"><D:prop><D:getetag/><C:address-data/></D:prop>
              <C:filter><C:prop-filter name="FN"><C:text-match match-type="contains">李</C:text-match></C:prop-filter></C:filter></C:addressbook-query>
            """, "1");
        Assert.Equal(HttpStatusCode.MultiStatus, query.Status);
        Assert.Empty(Responses(query.Xml!));
    }

    private static string ApplePrincipalProps => """
        <?xml version="1.0" encoding="UTF-8"?>
        <A:propfind xmlns:A="DAV:">
          <A:prop>
            <B:addressbook-home-set xmlns:B="urn:ietf:params:xml:ns:carddav"/>
            <B:directory-gateway xmlns:B="urn:ietf:params:xml:ns:carddav"/>
            <A:displayname/>
            <C:email-address-set xmlns:C="http://calendarserver.org/ns/"/>
            <A:principal-collection-set/>
            <A:principal-URL/>
            <A:resource-id/>
            <A:supported-report-set/>
            <A:current-user-privilege-set/>
            <C:push-transports xmlns:C="http://calendarserver.org/ns/"/>
            <C:pushkey xmlns:C="http://calendarserver.org/ns/"/>
          </A:prop>
        </A:propfind>
        """;

    private static string AppleHomeProps => """
        <?xml version="1.0" encoding="UTF-8"?>
        <A:propfind xmlns:A="DAV:">
          <A:prop>
            <A:add-member/>
            <C:bulk-requests xmlns:C="http://me.com/_namespace/"/>
            <A:current-user-privilege-set/>
            <A:displayname/>
            <B:getctag xmlns:B="http://calendarserver.org/ns/"/>
            <D:max-image-size xmlns:D="urn:ietf:params:xml:ns:carddav"/>
            <D:max-resource-size xmlns:D="urn:ietf:params:xml:ns:carddav"/>
            <B:me-card xmlns:B="http://calendarserver.org/ns/"/>
            <A:owner/>
            <B:push-transports xmlns:B="http://calendarserver.org/ns/"/>
            <B:pushkey xmlns:B="http://calendarserver.org/ns/"/>
            <A:quota-available-bytes/>
            <A:quota-used-bytes/>
            <A:resource-id/>
            <A:resourcetype/>
            <A:supported-report-set/>
            <A:sync-token/>
          </A:prop>
        </A:propfind>
        """;

    [Fact]
    public async Task Apple_Contacts_sets_up_the_account_with_minimal_answers_and_finds_a_read_only_book()
    {
        var w = await AddressBookWorld.CreateAsync(fixture);
        var apple = Client(w.Alice, AddressBookWorld.Password, AppleAgent);
        var principal = $"/carddav/principals/{w.Alice}/";
        var home = $"/carddav/addressbooks/{w.Alice}/";
        var book = $"{home}directory/";

        // The well-known URI, redirect followed, 401 answered with Basic.
        var root = await apple.Send("PROPFIND", "/.well-known/carddav", """
            <?xml version="1.0" encoding="UTF-8"?>
            <A:propfind xmlns:A="DAV:"><A:prop><A:current-user-principal/><A:principal-URL/><A:resourcetype/></A:prop></A:propfind>
            """, "0", new Dictionary<string, string> { ["Prefer"] = "return=minimal", ["Brief"] = "t" });
        Assert.Equal(HttpStatusCode.MultiStatus, root.Status);
        Assert.Equal(principal, root.Xml!.Descendants(D + "current-user-principal").Single().Element(D + "href")!.Value);

        // OPTIONS on the principal: DAV must name addressbook; nothing here takes a PUT.
        var options = await apple.Send("OPTIONS", principal);
        Assert.Equal(HttpStatusCode.OK, options.Status);
        var dav = string.Join(",", options.Response.Headers.GetValues("DAV")).Split(',').Select(x => x.Trim()).ToList();
        Assert.Contains("addressbook", dav);
        Assert.Contains("1", dav);
        Assert.DoesNotContain("PUT", options.Response.Content.Headers.Allow);

        // The principal with Apple's list, minimal: what we lack (push, directory gateway) is left out.
        var minimal = await apple.Send("PROPFIND", principal, ApplePrincipalProps, "0", new Dictionary<string, string> { ["Prefer"] = "return=minimal" });
        Assert.Equal(HttpStatusCode.MultiStatus, minimal.Status);
        Assert.Equal("return=minimal", minimal.Response.Headers.GetValues("Preference-Applied").Single());
        Assert.Contains("Prefer", minimal.Response.Headers.Vary);
        var pr = Response(minimal.Xml!, principal);
        Assert.Null(NotFoundProps(pr));
        var props = Assert.Single(pr.Elements(D + "propstat")).Element(D + "prop")!;
        Assert.Equal(home, props.Element(C + "addressbook-home-set")!.Element(D + "href")!.Value);
        Assert.Equal(principal, props.Element(D + "principal-URL")!.Element(D + "href")!.Value);
        Assert.Equal(w.Alice, props.Element(CS + "email-address-set")!.Element(CS + "email-address")!.Value);
        Assert.Matches("^urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$", props.Element(D + "resource-id")!.Element(D + "href")!.Value);
        Assert.NotNull(props.Element(D + "supported-report-set"));
        Assert.Null(props.Element(CS + "push-transports"));

        // Without the preference, the same properties come back in a 404 propstat, not as an error.
        var full = await apple.Send("PROPFIND", principal, ApplePrincipalProps, "0");
        Assert.Equal(HttpStatusCode.MultiStatus, full.Status);
        var missing = NotFoundProps(Response(full.Xml!, principal))!.Elements().Select(e => e.Name).ToList();
        Assert.Contains(CS + "push-transports", missing);
        Assert.Contains(CS + "pushkey", missing);
        Assert.Contains(C + "directory-gateway", missing);
        Assert.False(full.Response.Headers.Contains("Preference-Applied"));

        // The home at depth 1 (Brief: t): the first and only address book, getctag, the me-card.
        var listing = await apple.Send("PROPFIND", home, AppleHomeProps, "1", new Dictionary<string, string> { ["Brief"] = "t" });
        Assert.Equal(HttpStatusCode.MultiStatus, listing.Status);
        Assert.All(Responses(listing.Xml!), r => Assert.Null(NotFoundProps(r)));
        var homeProps = OkProps(Response(listing.Xml!, home))!;
        Assert.Equal($"{book}a-{w.Alice}.vcf", homeProps.Element(CS + "me-card")!.Element(D + "href")!.Value);
        Assert.Equal(principal, homeProps.Element(D + "owner")!.Element(D + "href")!.Value);
        var bookProps = OkProps(Response(listing.Xml!, book))!;
        Assert.NotNull(bookProps.Element(D + "resourcetype")!.Element(C + "addressbook"));
        Assert.False(string.IsNullOrEmpty(bookProps.Element(CS + "getctag")!.Value));
        var reports = bookProps.Element(D + "supported-report-set")!.Descendants(D + "report").Elements().Select(e => e.Name.ToString()).Order();
        Assert.Equal(new[] { C + "addressbook-multiget", C + "addressbook-query", D + "sync-collection" }.Select(n => n.ToString()).Order(), reports);
        var privileges = bookProps.Element(D + "current-user-privilege-set")!.Elements(D + "privilege").Elements().Select(e => e.Name.LocalName).ToList();
        Assert.Contains("read", privileges);
        Assert.DoesNotContain(privileges, x => x.StartsWith("write", StringComparison.Ordinal) || x is "all" or "bind" or "unbind");
        Assert.Null(bookProps.Element(D + "add-member"));
        var homeToken = bookProps.Element(D + "sync-token")!.Value;
        Assert.NotEqual(OkProps(Response(listing.Xml!, book))!.Element(D + "resource-id")!.Value, homeProps.Element(D + "resource-id")!.Value);

        // A user who may not see himself has no me-card: a user-visible card is the only one named.
        await Sql("UPDATE directory_account SET in_address_book = false WHERE domain = @d AND local_part = 'alice'", w.Domain);
        var noMe = await apple.Send("PROPFIND", home, AppleHomeProps, "0");
        Assert.Contains(CS + "me-card", NotFoundProps(Response(noMe.Xml!, home))!.Elements().Select(e => e.Name));

        // The token read by PROPFIND is good for the next sync-collection: alice's removal arrives as a 404.
        var sync = await apple.Send("REPORT", book, $"""
            <?xml version="1.0" encoding="UTF-8"?>
            <A:sync-collection xmlns:A="DAV:">
              <A:sync-token>{homeToken}</A:sync-token>
              <A:sync-level>1</A:sync-level>
              <A:prop>
                <A:getetag/>
              </A:prop>
            </A:sync-collection>
            """, null, new Dictionary<string, string> { ["Prefer"] = "return=minimal" });
        Assert.Equal(HttpStatusCode.MultiStatus, sync.Status);
        Assert.Equal($"{book}a-{w.Alice}.vcf", Assert.Single(Responses(sync.Xml!)).Element(D + "href")!.Value);
        Assert.Equal("HTTP/1.1 404 Not Found", Responses(sync.Xml!).Single().Element(D + "status")!.Value);
    }

    [Fact]
    public async Task Apple_Contacts_syncs_in_vcard_3_asks_for_versions_and_is_refused_writes_with_a_reason()
    {
        var w = await AddressBookWorld.CreateAsync(fixture);
        var apple = Client(w.Bob, AddressBookWorld.Password, AppleAgent);
        var home = $"/carddav/addressbooks/{w.Bob}/";
        var book = $"{home}directory/";

        // The first sync: empty token, ETags only (Apple's own prefixes), then a multiget.
        var first = await apple.Send("REPORT", book, """
            <?xml version="1.0" encoding="UTF-8"?>
            <A:sync-collection xmlns:A="DAV:">
              <A:sync-token></A:sync-token>
              <A:sync-level>1</A:sync-level>
              <A:prop>
                <A:getetag/>
              </A:prop>
            </A:sync-collection>
            """, null, new Dictionary<string, string> { ["Prefer"] = "return=minimal" });
        Assert.Equal(HttpStatusCode.MultiStatus, first.Status);
        var etags = Responses(first.Xml!).ToDictionary(r => r.Element(D + "href")!.Value, r => OkProps(r)!.Element(D + "getetag")!.Value);
        Assert.Equal(4, etags.Count);
        Assert.StartsWith("urn:", first.Xml!.Element(D + "sync-token")!.Value);

        var cards = await apple.Send("REPORT", book, """
            <?xml version="1.0" encoding="UTF-8"?>
            <B:addressbook-multiget xmlns:B="urn:ietf:params:xml:ns:carddav">
              <A:prop xmlns:A="DAV:">
                <A:getetag/>
                <B:address-data/>
              </A:prop>
            """ + string.Concat(etags.Keys.Select(h => $"  <A:href xmlns:A=\"DAV:\">{h}</A:href>\n")) + "</B:addressbook-multiget>", "1");
        Assert.Equal(HttpStatusCode.MultiStatus, cards.Status);
        var bob = Response(cards.Xml!, $"{book}a-{w.Bob}.vcf");
        Assert.Equal(etags[$"{book}a-{w.Bob}.vcf"], OkProps(bob)!.Element(D + "getetag")!.Value);
        var v3 = OkProps(bob)!.Element(C + "address-data")!.Value;
        Assert.StartsWith("BEGIN:VCARD\r\nVERSION:3.0\r\n", v3);
        Assert.Contains("FN:李四\r\n", v3);
        Assert.Contains("N:李;四;;;\r\n", v3);
        Assert.Contains($"ORG:{w.Domain};Research\r\n", v3);

        // RFC 6352 10.4: the client names the version. 3.0 as default, 4.0 on request, others refused.
        var href = $"{book}a-{w.Alice}.vcf";
        var asked3 = await apple.Send("REPORT", book, Multiget([href], "<card:address-data content-type=\"text/vcard\" version=\"3.0\"/>"), "1");
        Assert.StartsWith("BEGIN:VCARD\r\nVERSION:3.0\r\n", asked3.Xml!.Descendants(C + "address-data").Single().Value);
        var asked4 = await apple.Send("REPORT", book, Multiget([href], "<card:address-data content-type=\"text/vcard\" version=\"4.0\"/>"), "1");
        Assert.Equal(HttpStatusCode.MultiStatus, asked4.Status);
        var v4 = asked4.Xml!.Descendants(C + "address-data").Single().Value;
        Assert.StartsWith("BEGIN:VCARD\r\nVERSION:4.0\r\n", v4);
        Assert.Contains("FN:张三丰\r\n", v4);
        Assert.Contains("N:张;三丰;;;\r\n", v4);
        Assert.Contains($"EMAIL;TYPE=work:{w.Alice}\r\n", v4);
        Assert.Contains("TEL;TYPE=work,voice:+86 10 1234 5678\r\n", v4);
        Assert.Contains("TITLE:Manager\r\n", v4);
        Assert.DoesNotContain("INTERNET", v4);
        // The resource's ETag, whichever version the data is in.
        Assert.Equal(etags[href], asked4.Xml!.Descendants(D + "getetag").Single().Value);
        foreach (var unsupported in new[] { "<card:address-data content-type=\"text/vcard\" version=\"2.1\"/>", "<card:address-data content-type=\"application/vcard+json\" version=\"4.0\"/>" })
        {
            var refused = await apple.Send("REPORT", book, Multiget([href], unsupported), "1");
            Assert.Equal(HttpStatusCode.Forbidden, refused.Status);
            Assert.NotNull(refused.Xml!.Element(C + "supported-address-data"));
        }
        var advertised = await apple.Send("PROPFIND", book, "<A:propfind xmlns:A=\"DAV:\"><A:prop><B:supported-address-data xmlns:B=\"urn:ietf:params:xml:ns:carddav\"/></A:prop></A:propfind>", "0");
        Assert.Equal(new[] { "3.0", "4.0" }, advertised.Xml!.Descendants(C + "address-data-type").Select(t => (string)t.Attribute("version")!));

        // GET: 3.0 for Apple's Accept */*, 4.0 when preferred, each with its own ETag.
        var get3 = await apple.Send("GET", href, headers: new Dictionary<string, string> { ["Accept"] = "*/*" });
        Assert.Equal(HttpStatusCode.OK, get3.Status);
        Assert.StartsWith("BEGIN:VCARD\r\nVERSION:3.0\r\n", get3.Text);
        Assert.Equal(etags[href], get3.Response.Headers.ETag!.Tag);
        var get4 = await apple.Send("GET", href, headers: new Dictionary<string, string> { ["Accept"] = "text/vcard;version=4.0, text/vcard;version=3.0;q=0.5" });
        Assert.StartsWith("BEGIN:VCARD\r\nVERSION:4.0\r\n", get4.Text);
        Assert.NotEqual(etags[href], get4.Response.Headers.ETag!.Tag);
        Assert.Equal(v4, get4.Text);

        // Writes: a new contact, a deletion, a me-card: 403 saying which privilege, never a crash.
        var put = await apple.Send("PUT", $"{book}E7213AAA-7206-4B97-926A-CDFECBD91C26.vcf", "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:New\r\nN:;New;;;\r\nEND:VCARD\r\n",
            headers: new Dictionary<string, string> { ["If-None-Match"] = "*" });
        Assert.Equal(HttpStatusCode.Forbidden, put.Status);
        Assert.Equal("write-content", put.Xml!.Descendants(D + "privilege").Single().Elements().Single().Name.LocalName);
        Assert.Equal($"{book}E7213AAA-7206-4B97-926A-CDFECBD91C26.vcf", put.Xml!.Descendants(D + "href").Single().Value);
        var delete = await apple.Send("DELETE", href, headers: new Dictionary<string, string> { ["If-Match"] = etags[href] });
        Assert.Equal(HttpStatusCode.Forbidden, delete.Status);
        Assert.Equal("unbind", delete.Xml!.Descendants(D + "privilege").Single().Elements().Single().Name.LocalName);
        Assert.Equal(book, delete.Xml!.Descendants(D + "href").Single().Value);
        var meCard = await apple.Send("PROPPATCH", home, $"""
            <?xml version="1.0" encoding="UTF-8"?>
            <A:propertyupdate xmlns:A="DAV:"><A:set><A:prop><C:me-card xmlns:C="http://calendarserver.org/ns/"><A:href>{href}</A:href></C:me-card></A:prop></A:set></A:propertyupdate>
            """);
        Assert.Equal(HttpStatusCode.Forbidden, meCard.Status);
        Assert.Equal("write-properties", meCard.Xml!.Descendants(D + "privilege").Single().Elements().Single().Name.LocalName);
        // The book is as it was.
        var after = await apple.Send("REPORT", book, $"""
            <A:sync-collection xmlns:A="DAV:"><A:sync-token>{first.Xml!.Element(D + "sync-token")!.Value}</A:sync-token><A:sync-level>1</A:sync-level><A:prop><A:getetag/></A:prop></A:sync-collection>
            """);
        Assert.Empty(Responses(after.Xml!));
    }
}

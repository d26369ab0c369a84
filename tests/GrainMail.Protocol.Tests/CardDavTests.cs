using System.Text;
using System.Xml.Linq;
using GrainMail.Contracts.AddressBook;
using GrainMail.Gateways.Http.CardDav;
using GrainMail.Gateways.Http.UserAuth;

namespace GrainMail.Protocol.Tests;

/// <summary>CardDAV's pure parts: request bodies, paths, vCard text, filters, Basic credentials; and a fuzz of the body parsers.</summary>
public sealed class CardDavParserTests
{
    private static readonly XNamespace D = DavNames.Dav;
    private static readonly XNamespace C = DavNames.Card;

    [Theory]
    [InlineData("", PropFindKind.AllProp, 0)]
    [InlineData("<d:propfind xmlns:d=\"DAV:\"><d:allprop/></d:propfind>", PropFindKind.AllProp, 0)]
    [InlineData("<d:propfind xmlns:d=\"DAV:\"><d:propname/></d:propfind>", PropFindKind.PropName, 0)]
    [InlineData("<propfind xmlns=\"DAV:\" xmlns:c=\"urn:ietf:params:xml:ns:carddav\"><prop><getetag/><c:addressbook-home-set/></prop></propfind>", PropFindKind.Prop, 2)]
    public void Propfind_bodies_parse(string body, PropFindKind kind, int props)
    {
        Assert.True(DavRequests.TryParsePropFind(body, out var request, out var error), error);
        Assert.Equal(kind, request.Kind);
        Assert.Equal(props, request.Props.Count);
    }

    [Theory]
    [InlineData("<x/>")]
    [InlineData("<d:propfind xmlns:d=\"DAV:\"/>")]
    [InlineData("<d:propfind xmlns:d=\"DAV:\">")]
    [InlineData("<!DOCTYPE d [<!ENTITY x \"y\">]><d:propfind xmlns:d=\"DAV:\"><d:allprop/></d:propfind>")]
    public void Bad_propfind_bodies_are_refused(string body) => Assert.False(DavRequests.TryParsePropFind(body, out _, out _));

    [Fact]
    public void Multiget_and_query_reports_parse()
    {
        var multiget = new XElement(C + "addressbook-multiget", new XElement(D + "prop", new XElement(D + "getetag")),
            new XElement(D + "href", "/carddav/addressbooks/a@b.test/directory/a-x@b.test.vcf"), new XElement(D + "href", " /y.vcf ")).ToString();
        Assert.True(DavRequests.TryParseReport(multiget, out var report, out _));
        var m = Assert.IsType<MultigetReport>(report);
        Assert.Equal(["/carddav/addressbooks/a@b.test/directory/a-x@b.test.vcf", "/y.vcf"], m.Hrefs);
        Assert.Equal([D + "getetag"], m.Props);

        var query = new XElement(C + "addressbook-query",
            new XElement(C + "filter", new XAttribute("test", "allof"),
                new XElement(C + "prop-filter", new XAttribute("name", "FN"), new XElement(C + "text-match", new XAttribute("match-type", "starts-with"), new XAttribute("negate-condition", "yes"), "Zh")),
                new XElement(C + "prop-filter", new XAttribute("name", "TEL"), new XElement(C + "is-not-defined"))),
            new XElement(C + "limit", new XElement(C + "nresults", "5"))).ToString();
        Assert.True(DavRequests.TryParseReport(query, out report, out _));
        var q = Assert.IsType<QueryReport>(report);
        Assert.True(q.Filter.AllOf);
        Assert.Equal(5, q.Limit);
        Assert.Equal(new TextMatch("Zh", "starts-with", true), q.Filter.PropFilters[0].TextMatches[0]);
        Assert.True(q.Filter.PropFilters[1].IsNotDefined);

        Assert.True(DavRequests.TryParseReport(new XElement(D + "expand-property").ToString(), out report, out _));
        Assert.IsType<UnsupportedReport>(report);
        Assert.False(DavRequests.TryParseReport(new XElement(C + "addressbook-query", new XElement(C + "limit", new XElement(C + "nresults", "-1"))).ToString(), out _, out _));
    }

    [Theory]
    [InlineData("", typeof(DavPaths.RootTarget))]
    [InlineData("principals/a@b.test", typeof(DavPaths.PrincipalTarget))]
    [InlineData("addressbooks/a@b.test/", typeof(DavPaths.HomeTarget))]
    [InlineData("addressbooks/a@b.test/directory", typeof(DavPaths.BookTarget))]
    [InlineData("addressbooks/a@b.test/directory/a-x@b.test.vcf", typeof(DavPaths.ItemTarget))]
    [InlineData("addressbooks/a@b.test/other", null)]
    [InlineData("principals", null)]
    [InlineData("x/y/z/w/v", null)]
    public void Paths_name_their_resources(string path, Type? kind) => Assert.Equal(kind, DavPaths.Parse(path)?.GetType());

    [Fact]
    public void Segments_and_hrefs_round_trip()
    {
        Assert.Equal("a.b+c@d.test", DavPaths.Segment("a.b+c@d.test"));
        Assert.Equal("x-" + Convert.ToHexStringLower(Encoding.UTF8.GetBytes("jörg@d.test")), DavPaths.Segment("jörg@d.test"));
        var book = DavPaths.Book("a@b.test");
        Assert.Equal("a-x+y@b.test.vcf", DavPaths.ItemNameOf(book + "a-x%2By%40b.test.vcf", book));
        Assert.Equal("c-7.vcf", DavPaths.ItemNameOf("https://h.test:8443" + book + "c-7.vcf", book));
        Assert.Null(DavPaths.ItemNameOf("/carddav/addressbooks/other@b.test/directory/c-7.vcf", book));
        Assert.Null(DavPaths.ItemNameOf(book + "x/y.vcf", book));
    }

    [Theory]
    [InlineData("<d:sync-collection xmlns:d=\"DAV:\"><d:sync-token/><d:sync-level>1</d:sync-level><d:prop><d:getetag/></d:prop></d:sync-collection>", "", false)]
    [InlineData("<sync-collection xmlns=\"DAV:\"><sync-token> urn:grainmail:carddav-sync:ab </sync-token><sync-level>infinite</sync-level><prop/></sync-collection>", "urn:grainmail:carddav-sync:ab", true)]
    public void Sync_collection_reports_parse(string body, string token, bool infinite)
    {
        Assert.True(DavRequests.TryParseReport(body, out var report, out _));
        var sync = Assert.IsType<SyncCollectionReport>(report);
        Assert.Equal(token, sync.SyncToken);
        Assert.Equal(infinite, sync.Infinite);
    }

    // RFC 6578 6.1: sync-token, sync-level (1 or infinite) and prop are required.
    [Theory]
    [InlineData("<d:sync-collection xmlns:d=\"DAV:\"><d:sync-level>1</d:sync-level><d:prop/></d:sync-collection>")]
    [InlineData("<d:sync-collection xmlns:d=\"DAV:\"><d:sync-token/><d:prop/></d:sync-collection>")]
    [InlineData("<d:sync-collection xmlns:d=\"DAV:\"><d:sync-token/><d:sync-level>2</d:sync-level><d:prop/></d:sync-collection>")]
    [InlineData("<d:sync-collection xmlns:d=\"DAV:\"><d:sync-token/><d:sync-level>1</d:sync-level></d:sync-collection>")]
    public void Bad_sync_collection_reports_are_refused(string body) => Assert.False(DavRequests.TryParseReport(body, out _, out _));

    [Fact]
    public void A_sync_difference_holds_new_and_changed_cards_and_the_names_of_removed_ones()
    {
        VCard Card(string address, string title) =>
            VCard.From(new AddressBookEntry(AddressBookEntryKind.Account, address, address, title, null, ["corp.test"], null, null));
        DavBook Book(params VCard[] cards) => new(cards, cards.ToDictionary(c => c.ResourceName), "tag");
        var kept = Card("kept@corp.test", "same");
        var changedBefore = Card("changed@corp.test", "before");
        var gone = Card("gone@corp.test", "x");
        var before = new[] { kept, changedBefore, gone }.ToDictionary(c => c.ResourceName, c => c.ETag);
        var changedAfter = Card("changed@corp.test", "after");
        var added = Card("new@corp.test", "x");
        var (changed, removed) = CardDavSync.Difference(before, Book(kept, changedAfter, added));
        Assert.Equal([changedAfter.ResourceName, added.ResourceName], changed.Select(c => c.ResourceName));
        Assert.Equal([gone.ResourceName], removed);

        Assert.Equal("ab12", CardDavSync.TagOf(CardDavSync.Token("ab12")));
        Assert.Null(CardDavSync.TagOf("http://example.com/ab12"));
        Assert.Null(CardDavSync.TagOf(CardDavSync.TokenPrefix));
        using var sync = new CardDavSync();
        var book = Book(kept, gone);
        sync.Remember("a@corp.test", book);
        Assert.Equal(2, sync.Recall("a@corp.test", "tag")!.Count);
        Assert.Null(sync.Recall("b@corp.test", "tag"));
        // The stored form (PostgreSQL, so tokens outlive a gateway) gives back every name and ETag.
        Assert.Equal(book.Cards.ToDictionary(c => c.ResourceName, c => c.ETag), CardDavSync.Decode(CardDavSync.Encode(book)));
    }

    [Fact]
    public void Vcards_escape_fold_and_carry_the_department_path()
    {
        var entry = new AddressBookEntry(AddressBookEntryKind.Account, "zhang@corp.test", "张三丰", "Head; Sales, East", "+86 1", ["corp.test", "销售部", "华东"], null, null);
        var card = VCard.From(entry);
        Assert.Equal("a-zhang@corp.test.vcf", card.ResourceName);
        Assert.Contains("FN:张三丰\r\n", card.Text);
        Assert.Contains("N:张;三丰;;;\r\n", card.Text);
        Assert.Contains("ORG:corp.test;销售部;华东\r\n", card.Text);
        Assert.Contains("TITLE:Head\\; Sales\\, East\r\n", card.Text);
        Assert.Contains("EMAIL;TYPE=INTERNET:zhang@corp.test\r\n", card.Text);
        Assert.Matches("^\"[0-9a-f]{32}\"$", card.ETag);
        Assert.Equal(card.ETag, VCard.From(entry).ETag);
        Assert.NotEqual(card.ETag, VCard.From(entry with { DepartmentPath = ["corp.test", "研发部"] }).ETag);

        var longName = new string('名', 60);
        var folded = VCard.From(entry with { DisplayName = longName }).Text;
        Assert.All(folded.Split("\r\n"), line => Assert.InRange(Encoding.UTF8.GetByteCount(line), 0, 75));
        Assert.Contains("FN:" + longName, folded.Replace("\r\n ", ""));
        Assert.Equal(("Lau", "Andy"), VCard.SplitName("Andy Lau"));
        Assert.Equal(("Madonna", ""), VCard.SplitName("Madonna"));
    }

    [Fact]
    public void Query_filters_follow_rfc_6352()
    {
        var card = VCard.From(new AddressBookEntry(AddressBookEntryKind.Contact, "p@x.test", "Partner Co", null, null, [], "X Ltd", 7));
        CardFilter Filter(bool allOf, params PropFilter[] p) => new(allOf, p);
        PropFilter Text(string name, string text, string type = "contains", bool negate = false) => new(name, false, false, [new TextMatch(text, type, negate)]);
        Assert.True(CardFilters.Matches(Filter(false), card));
        Assert.True(CardFilters.Matches(Filter(false, Text("FN", "partner")), card));
        Assert.False(CardFilters.Matches(Filter(false, Text("FN", "partner", negate: true)), card));
        Assert.True(CardFilters.Matches(Filter(false, Text("EMAIL", "p@x.test", "equals")), card));
        Assert.False(CardFilters.Matches(Filter(true, Text("EMAIL", "p@", "starts-with"), Text("FN", "zzz")), card));
        Assert.True(CardFilters.Matches(Filter(false, Text("EMAIL", "p@", "starts-with"), Text("FN", "zzz")), card));
        Assert.True(CardFilters.Matches(Filter(false, Text("ORG", "ltd", "ends-with")), card));
        Assert.True(CardFilters.Matches(Filter(false, new PropFilter("TEL", false, true, [])), card));
        Assert.False(CardFilters.Matches(Filter(false, new PropFilter("FN", false, true, [])), card));
    }

    // RFC 6352 10.4: address-data names a media type and version; 3.0 and 4.0 of text/vcard are served.
    [Theory]
    [InlineData("<c:address-data xmlns:c=\"urn:ietf:params:xml:ns:carddav\"/>", true, null)]
    [InlineData("<c:address-data xmlns:c=\"urn:ietf:params:xml:ns:carddav\" content-type=\"text/vcard\" version=\"3.0\"/>", true, "3.0")]
    [InlineData("<c:address-data xmlns:c=\"urn:ietf:params:xml:ns:carddav\" content-type=\"TEXT/VCARD\" version=\"4.0\"/>", true, "4.0")]
    [InlineData("<c:address-data xmlns:c=\"urn:ietf:params:xml:ns:carddav\" content-type=\"text/vcard\" version=\"2.1\"/>", false, null)]
    [InlineData("<c:address-data xmlns:c=\"urn:ietf:params:xml:ns:carddav\" content-type=\"application/vcard+json\"/>", false, null)]
    public void Address_data_names_a_version(string element, bool supported, string? version)
    {
        Assert.Equal(supported, DavRequests.TryAddressDataVersion(XElement.Parse(element), out var v));
        Assert.Equal(version, v);
    }

    [Theory]
    [InlineData(null, "3.0")]
    [InlineData("*/*", "3.0")]
    [InlineData("text/vcard", "3.0")]
    [InlineData("text/vcard; version=4.0", "4.0")]
    [InlineData("text/vcard;version=4.0, text/vcard;version=3.0;q=0.5", "4.0")]
    [InlineData("text/vcard;version=3.0, text/vcard;version=4.0;q=0.5", "3.0")]
    [InlineData("text/vcard;version=4.0;q=0.5, */*", "3.0")]
    [InlineData("garbage;;", "3.0")]
    public void Accept_chooses_the_vcard_version(string? accept, string version) => Assert.Equal(version, DavRequests.AcceptedVersion(accept));

    [Theory]
    [InlineData("return=minimal", null, true)]
    [InlineData("respond-async, return=minimal; x=y", null, true)]
    [InlineData("return=representation", null, false)]
    [InlineData(null, "t", true)]
    [InlineData(null, "f", false)]
    [InlineData(null, null, false)]
    public void Minimal_answers_follow_prefer_and_brief(string? prefer, string? brief, bool minimal) =>
        Assert.Equal(minimal, DavRequests.WantsMinimal(prefer, brief));

    [Fact]
    public void Vcard_4_differs_from_3_where_rfc_6350_does()
    {
        var list = VCard.From(new AddressBookEntry(AddressBookEntryKind.List, "all@corp.test", "全体", null, null, [], null, null));
        Assert.Contains("X-ADDRESSBOOKSERVER-KIND:group\r\n", list.Text);
        Assert.StartsWith("BEGIN:VCARD\r\nVERSION:4.0\r\nKIND:group\r\n", list.Text4);
        Assert.DoesNotContain("X-ADDRESSBOOKSERVER", list.Text4);
        Assert.Contains("EMAIL;TYPE=work:all@corp.test\r\n", list.Text4);
        Assert.NotEqual(list.ETag, list.ETagIn("4.0"));
        Assert.Equal(list.ETag, list.ETagIn(null));
        Assert.Equal(DavProps.ResourceId("/a/"), DavProps.ResourceId("/a/"));
        Assert.NotEqual(DavProps.ResourceId("/a/"), DavProps.ResourceId("/b/"));
    }

    [Theory]
    [InlineData("Basic YWxpY2VAYi50ZXN0OnB3OndpdGg6Y29sb25z", "alice@b.test", "pw:with:colons")]
    [InlineData("basic YWxpY2VAYi50ZXN0Og==", "alice@b.test", "")]
    [InlineData("Bearer abc", null, null)]
    [InlineData("Basic !!!", null, null)]
    [InlineData("Basic OnB3", null, null)]
    [InlineData("", null, null)]
    public void Basic_credentials_parse(string header, string? user, string? secret)
    {
        var parsed = AccountBasicAuthenticationHandler.Credentials(header);
        Assert.Equal(user, parsed?.User);
        Assert.Equal(secret, parsed?.Secret);
    }

    [Fact]
    public void Fuzzed_bodies_never_throw()
    {
        var random = new Random(6352);
        string[] seeds =
        [
            "<d:propfind xmlns:d=\"DAV:\"><d:prop><d:getetag/><d:resourcetype/></d:prop></d:propfind>",
            new XElement(C + "addressbook-multiget", new XElement(D + "prop", new XElement(C + "address-data")), new XElement(D + "href", "/a.vcf")).ToString(),
            new XElement(C + "addressbook-query", new XElement(C + "filter", new XElement(C + "prop-filter", new XAttribute("name", "FN"),
                new XElement(C + "text-match", "x"))), new XElement(C + "limit", new XElement(C + "nresults", "3"))).ToString(),
        ];
        for (var i = 0; i < 3000; i++)
        {
            var bytes = i % 3 == 0 ? Fuzz.RandomBytes(random, 200) : Fuzz.Mutate(random, Encoding.UTF8.GetBytes(seeds[random.Next(seeds.Length)]));
            var body = Encoding.UTF8.GetString(bytes);
            var ok = DavRequests.TryParsePropFind(body, out var p, out var e1);
            Assert.True(ok ? p is not null : e1 is not null);
            ok = DavRequests.TryParseReport(body, out var r, out var e2);
            Assert.True(ok ? r is not null : e2 is not null);
            if (ok && r is QueryReport q)
            {
                CardFilters.Matches(q.Filter, VCard.From(new AddressBookEntry(AddressBookEntryKind.Account, "a@b.test", "A", null, null, [], null, null)));
            }
        }
    }
}

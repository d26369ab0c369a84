using System.Xml;
using System.Xml.Linq;

namespace GrainMail.Gateways.Http.CardDav;

/// <summary>XML namespaces of WebDAV (RFC 4918), CardDAV (RFC 6352) and the calendarserver getctag.</summary>
public static class DavNames
{
    public static readonly XNamespace Dav = "DAV:";
    public static readonly XNamespace Card = "urn:ietf:params:xml:ns:carddav";
    public static readonly XNamespace CalendarServer = "http://calendarserver.org/ns/";
}

public enum PropFindKind
{
    AllProp,
    PropName,
    Prop,
}

/// <summary>A PROPFIND body (RFC 4918 9.1); an empty body is allprop.</summary>
public sealed record PropFindRequest(PropFindKind Kind, IReadOnlyList<XName> Props);

/// <summary>A REPORT body this server knows (RFC 6352 8.6 and 8.7).</summary>
public abstract record DavReport(IReadOnlyList<XName> Props)
{
    /// <summary>
    /// The vCard version the request's CARDDAV:address-data asks for (RFC 6352 10.4: content-type
    /// and version attributes); null when it names none (3.0, the default, is served).
    /// </summary>
    public string? AddressDataVersion { get; init; }

    /// <summary>True when address-data asks for a media type or version this server cannot give (RFC 6352 8.6/8.7 precondition CARDDAV:supported-address-data).</summary>
    public bool UnsupportedAddressData { get; init; }
}

public sealed record MultigetReport(IReadOnlyList<XName> Props, IReadOnlyList<string> Hrefs) : DavReport(Props);

public sealed record QueryReport(IReadOnlyList<XName> Props, CardFilter Filter, int? Limit) : DavReport(Props);

/// <summary>
/// RFC 6578 3.2: what changed since <paramref name="SyncToken"/> (empty: the initial sync, every
/// member). <paramref name="Infinite"/>: sync-level infinity, the same here (no sub-collections).
/// </summary>
public sealed record SyncCollectionReport(IReadOnlyList<XName> Props, string SyncToken, bool Infinite) : DavReport(Props);

/// <summary>A REPORT this server does not support (answered 403 with supported-report, RFC 3253 3.6).</summary>
public sealed record UnsupportedReport(XName Name) : DavReport([]);

/// <summary>RFC 6352 10.5: the filter of addressbook-query. No prop-filter matches every card.</summary>
public sealed record CardFilter(bool AllOf, IReadOnlyList<PropFilter> PropFilters);

public sealed record PropFilter(string Name, bool AllOf, bool IsNotDefined, IReadOnlyList<TextMatch> TextMatches);

/// <param name="MatchType">equals, contains, starts-with or ends-with (RFC 6352 10.5.4).</param>
public sealed record TextMatch(string Text, string MatchType, bool Negate);

/// <summary>Parsing of WebDAV/CardDAV request bodies: pure code, no I/O beyond the given text.</summary>
public static class DavRequests
{
    private static readonly XmlReaderSettings Settings = new()
    {
        DtdProcessing = DtdProcessing.Prohibit,
        XmlResolver = null,
        MaxCharactersInDocument = 1024 * 1024,
        IgnoreComments = true,
    };

    public static bool TryParsePropFind(string body, out PropFindRequest request, out string? error)
    {
        request = new PropFindRequest(PropFindKind.AllProp, []);
        error = null;
        if (string.IsNullOrWhiteSpace(body)) return true;
        if (Load(body, out error) is not { } root) return false;
        if (root.Name != DavNames.Dav + "propfind") return Fail(out error, "the body is not DAV:propfind");
        if (root.Element(DavNames.Dav + "propname") is not null) request = new(PropFindKind.PropName, []);
        else if (root.Element(DavNames.Dav + "prop") is { } prop) request = new(PropFindKind.Prop, prop.Elements().Select(e => e.Name).ToList());
        else if (root.Element(DavNames.Dav + "allprop") is null) return Fail(out error, "propfind holds none of allprop, propname, prop");
        return true;
    }

    public static bool TryParseReport(string body, out DavReport report, out string? error)
    {
        report = new UnsupportedReport(DavNames.Dav + "none");
        if (Load(body, out error) is not { } root) return false;
        var propElement = root.Element(DavNames.Dav + "prop");
        var props = propElement?.Elements().Select(e => e.Name).ToList() ?? [];
        var supported = TryAddressDataVersion(propElement?.Element(DavNames.Card + "address-data"), out var version);
        if (root.Name == DavNames.Card + "addressbook-multiget")
        {
            report = new MultigetReport(props, root.Elements(DavNames.Dav + "href").Select(h => h.Value.Trim()).ToList())
            { AddressDataVersion = version, UnsupportedAddressData = !supported };
            return true;
        }
        if (root.Name == DavNames.Card + "addressbook-query")
        {
            var filter = root.Element(DavNames.Card + "filter");
            var limitText = root.Element(DavNames.Card + "limit")?.Element(DavNames.Card + "nresults")?.Value;
            int? limit = null;
            if (limitText is not null)
            {
                if (!int.TryParse(limitText.Trim(), out var n) || n < 1) return Fail(out error, "nresults is not a positive number");
                limit = n;
            }
            report = new QueryReport(props, ParseFilter(filter), limit) { AddressDataVersion = version, UnsupportedAddressData = !supported };
            return true;
        }
        if (root.Name == DavNames.Dav + "sync-collection")
        {
            // RFC 6578 6.1: sync-token and sync-level are both required; sync-level is 1 or infinite.
            if (root.Element(DavNames.Dav + "sync-token") is not { } token) return Fail(out error, "sync-collection without DAV:sync-token");
            var level = root.Element(DavNames.Dav + "sync-level")?.Value.Trim();
            if (level is not ("1" or "infinite")) return Fail(out error, "sync-level must be 1 or infinite");
            if (root.Element(DavNames.Dav + "prop") is null) return Fail(out error, "sync-collection without DAV:prop");
            report = new SyncCollectionReport(props, token.Value.Trim(), level == "infinite") { AddressDataVersion = version, UnsupportedAddressData = !supported };
            return true;
        }
        report = new UnsupportedReport(root.Name);
        return true;
    }

    /// <summary>
    /// The version an address-data element asks for: null for none (or no attributes), "3.0" or
    /// "4.0"; false when it names another media type (jCard included) or version.
    /// </summary>
    public static bool TryAddressDataVersion(XElement? addressData, out string? version)
    {
        version = null;
        if (addressData is null) return true;
        var type = ((string?)addressData.Attribute("content-type"))?.Trim();
        var asked = ((string?)addressData.Attribute("version"))?.Trim();
        if (type is { Length: > 0 } && !type.Equals("text/vcard", StringComparison.OrdinalIgnoreCase)) return false;
        if (asked is null or "") return true;
        if (asked is not (VCard.V3 or VCard.V4)) return false;
        version = asked;
        return true;
    }

    /// <summary>
    /// The vCard version a GET's Accept header prefers (RFC 9110 12.5.1 quality values): 4.0 only when a
    /// text/vcard range naming version=4.0 outranks every 3.0 or unversioned one; 3.0 otherwise.
    /// </summary>
    public static string AcceptedVersion(string? accept)
    {
        if (string.IsNullOrWhiteSpace(accept)) return VCard.V3;
        double best3 = -1, best4 = -1;
        foreach (var range in accept.Split(','))
        {
            if (!System.Net.Http.Headers.MediaTypeWithQualityHeaderValue.TryParse(range.Trim(), out var m)) continue;
            var q = m.Quality ?? 1.0;
            if (m.MediaType is "*/*" or "text/*") best3 = Math.Max(best3, q);
            if (!string.Equals(m.MediaType, "text/vcard", StringComparison.OrdinalIgnoreCase)) continue;
            var v = m.Parameters.FirstOrDefault(p => p.Name.Equals("version", StringComparison.OrdinalIgnoreCase))?.Value?.Trim('"');
            if (v == VCard.V4) best4 = Math.Max(best4, q);
            else if (v is null or VCard.V3) best3 = Math.Max(best3, q);
        }
        return best4 > 0 && best4 > best3 ? VCard.V4 : VCard.V3;
    }

    /// <summary>
    /// RFC 8144 return=minimal (Prefer, RFC 7240) or its predecessor Brief: t, which Apple's clients
    /// send: the answer leaves out the properties it does not have (the 404 propstat).
    /// </summary>
    public static bool WantsMinimal(string? prefer, string? brief) =>
        (prefer ?? "").Split(',').Any(p => p.Split(';')[0].Trim().Equals("return=minimal", StringComparison.OrdinalIgnoreCase))
        || (brief ?? "").Trim().Equals("t", StringComparison.OrdinalIgnoreCase);

    private static CardFilter ParseFilter(XElement? filter)
    {
        if (filter is null) return new CardFilter(false, []);
        var propFilters = filter.Elements(DavNames.Card + "prop-filter").Select(p => new PropFilter(
            (string?)p.Attribute("name") ?? "",
            AllOf(p),
            p.Element(DavNames.Card + "is-not-defined") is not null,
            p.Elements(DavNames.Card + "text-match").Select(t => new TextMatch(
                t.Value,
                ((string?)t.Attribute("match-type") ?? "contains").ToLowerInvariant(),
                ((string?)t.Attribute("negate-condition") ?? "no").Equals("yes", StringComparison.OrdinalIgnoreCase))).ToList())).ToList();
        return new CardFilter(AllOf(filter), propFilters);
    }

    private static bool AllOf(XElement e) => ((string?)e.Attribute("test") ?? "anyof").Equals("allof", StringComparison.OrdinalIgnoreCase);

    private static XElement? Load(string body, out string? error)
    {
        error = null;
        try
        {
            using var reader = XmlReader.Create(new StringReader(body), Settings);
            return XDocument.Load(reader).Root;
        }
        catch (XmlException e)
        {
            error = "malformed XML: " + e.Message;
            return null;
        }
    }

    private static bool Fail(out string? error, string message)
    {
        error = message;
        return false;
    }
}

/// <summary>RFC 6352 10.5 filter evaluation over a card's property values (i;unicode-casemap approximated by invariant lower case).</summary>
public static class CardFilters
{
    public static bool Matches(CardFilter filter, VCard card)
    {
        if (filter.PropFilters.Count == 0) return true;
        return filter.AllOf ? filter.PropFilters.All(p => Matches(p, card)) : filter.PropFilters.Any(p => Matches(p, card));
    }

    private static bool Matches(PropFilter p, VCard card)
    {
        var values = card.Properties.TryGetValue(p.Name, out var v) ? v : [];
        if (p.IsNotDefined) return values.Count == 0;
        if (values.Count == 0) return false;
        if (p.TextMatches.Count == 0) return true;
        bool One(TextMatch t) => values.Any(value => Text(value, t)) != t.Negate;
        return p.AllOf ? p.TextMatches.All(One) : p.TextMatches.Any(One);
    }

    private static bool Text(string value, TextMatch t)
    {
        var v = value.ToLowerInvariant();
        var needle = t.Text.ToLowerInvariant();
        return t.MatchType switch
        {
            "equals" => v == needle,
            "starts-with" => v.StartsWith(needle, StringComparison.Ordinal),
            "ends-with" => v.EndsWith(needle, StringComparison.Ordinal),
            _ => v.Contains(needle, StringComparison.Ordinal),
        };
    }
}

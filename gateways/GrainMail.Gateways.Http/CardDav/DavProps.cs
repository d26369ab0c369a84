using System.Security.Cryptography;
using System.Text;
using System.Xml.Linq;

namespace GrainMail.Gateways.Http.CardDav;

/// <summary>
/// The live properties of each resource of the tree, and the multistatus answer built from them
/// (RFC 4918 13): found properties under 200, unknown ones under 404 — left out when the client
/// asked for a minimal answer (<paramref name="minimal"/>, RFC 8144). <paramref name="version"/>:
/// the vCard version address-data is rendered in (null: 3.0).
/// </summary>
public sealed class DavProps(string user, bool minimal = false, string? version = null)
{
    public enum ResourceKind
    {
        Root,
        Principal,
        Home,
        Book,
        Item,
    }

    private static readonly XNamespace D = DavNames.Dav;
    private static readonly XNamespace C = DavNames.Card;
    private static readonly XNamespace CS = DavNames.CalendarServer;

    /// <summary>What allprop and propname list (RFC 4918 9.1: not address-data, RFC 6352 8.7 asks for it by name).</summary>
    private static IReadOnlyList<XName> AllProps(ResourceKind kind) => kind switch
    {
        ResourceKind.Root => [D + "resourcetype", D + "displayname", D + "current-user-principal", C + "addressbook-home-set"],
        ResourceKind.Principal => [D + "resourcetype", D + "displayname", D + "current-user-principal", D + "principal-URL", C + "addressbook-home-set"],
        ResourceKind.Home => [D + "resourcetype", D + "displayname", D + "current-user-principal", D + "current-user-privilege-set"],
        ResourceKind.Book => [D + "resourcetype", D + "displayname", D + "current-user-principal", D + "current-user-privilege-set",
            CS + "getctag", D + "getetag", D + "supported-report-set", C + "supported-address-data", C + "addressbook-description"],
        _ => [D + "resourcetype", D + "getetag", D + "getcontenttype", D + "getcontentlength", D + "current-user-privilege-set"],
    };

    public XElement Respond(string href, ResourceKind kind, DavBook? book, VCard? card, PropFindRequest request)
    {
        var response = new XElement(D + "response", new XElement(D + "href", href));
        if (request.Kind == PropFindKind.PropName)
        {
            response.Add(PropStat(AllProps(kind).Select(n => new XElement(n)), "200 OK"));
            return response;
        }
        var wanted = request.Kind == PropFindKind.AllProp ? AllProps(kind) : request.Props;
        var found = new List<XElement>();
        var missing = new List<XElement>();
        foreach (var name in wanted.Distinct())
        {
            if (Value(name, kind, book, card) is { } value) found.Add(value);
            else missing.Add(new XElement(name));
        }
        // A response needs a propstat (RFC 4918 14.24): when minimal leaves none, an empty 200 one.
        if (found.Count > 0 || (minimal && missing.Count > 0)) response.Add(PropStat(found, "200 OK"));
        if (missing.Count > 0 && !minimal) response.Add(PropStat(missing, "404 Not Found"));
        return response;
    }

    /// <summary>The book's display name: the directory as this user sees it.</summary>
    public static string BookName(string user) => $"Directory ({user})";

    public static XElement NotFound(string href) =>
        new(D + "response", new XElement(D + "href", href), new XElement(D + "status", "HTTP/1.1 404 Not Found"));

    public static XElement MultiStatus(IEnumerable<XElement> responses) =>
        new(D + "multistatus",
            new XAttribute(XNamespace.Xmlns + "d", D.NamespaceName),
            new XAttribute(XNamespace.Xmlns + "card", C.NamespaceName),
            new XAttribute(XNamespace.Xmlns + "cs", CS.NamespaceName),
            responses);

    private static XElement PropStat(IEnumerable<XElement> props, string status) =>
        new(D + "propstat", new XElement(D + "prop", props), new XElement(D + "status", "HTTP/1.1 " + status));

    /// <summary>
    /// RFC 5842 3.1: a URI that names the resource and never another; a name-based UUID (SHA-256 of
    /// the path, RFC 9562 version 8 layout) is stable across requests and gateways.
    /// </summary>
    public static string ResourceId(string href)
    {
        var b = SHA256.HashData(Encoding.UTF8.GetBytes(href)).AsSpan(0, 16).ToArray();
        b[6] = (byte)((b[6] & 0x0F) | 0x80);
        b[8] = (byte)((b[8] & 0x3F) | 0x80);
        var hex = Convert.ToHexStringLower(b);
        return $"urn:uuid:{hex[..8]}-{hex[8..12]}-{hex[12..16]}-{hex[16..20]}-{hex[20..]}";
    }

    /// <summary>The user's own card in the book (Apple's CS:me-card), when the rules let him see himself.</summary>
    public static VCard? MeCard(string user, DavBook? book) =>
        book is not null && book.ByName.TryGetValue($"a-{DavPaths.Segment(user)}.vcf", out var me) ? me : null;

    private static string HrefOf(ResourceKind kind, string user, VCard? card) => kind switch
    {
        ResourceKind.Root => DavPaths.Root,
        ResourceKind.Principal => DavPaths.Principal(user),
        ResourceKind.Home => DavPaths.Home(user),
        ResourceKind.Book => DavPaths.Book(user),
        _ => DavPaths.Book(user) + card?.ResourceName,
    };

    private XElement? Value(XName name, ResourceKind kind, DavBook? book, VCard? card)
    {
        XElement Href(string path) => new(name, new XElement(D + "href", path));
        if (name == D + "current-user-principal") return Href(DavPaths.Principal(user));
        if (name == D + "resource-id" && (kind != ResourceKind.Item || card is not null)) return Href(ResourceId(HrefOf(kind, user, card)));
        if (name == D + "owner" && kind is ResourceKind.Principal or ResourceKind.Home or ResourceKind.Book or ResourceKind.Item) return Href(DavPaths.Principal(user));
        if (name == D + "resourcetype")
        {
            return kind switch
            {
                ResourceKind.Item => new XElement(name),
                ResourceKind.Principal => new XElement(name, new XElement(D + "principal")),
                ResourceKind.Book => new XElement(name, new XElement(D + "collection"), new XElement(C + "addressbook")),
                _ => new XElement(name, new XElement(D + "collection")),
            };
        }
        if (name == D + "current-user-privilege-set")
        {
            // Read-only (RFC 3744 5.4): the reason every write is refused.
            return new XElement(name,
                new XElement(D + "privilege", new XElement(D + "read")),
                new XElement(D + "privilege", new XElement(D + "read-current-user-privilege-set")));
        }
        switch (kind)
        {
            case ResourceKind.Root or ResourceKind.Principal:
                if (name == C + "addressbook-home-set") return Href(DavPaths.Home(user));
                if (name == D + "principal-URL" && kind == ResourceKind.Principal) return Href(DavPaths.Principal(user));
                if (name == D + "displayname") return new XElement(name, kind == ResourceKind.Root ? "GrainMail" : user);
                // CalendarServer's extension Apple Contacts reads on the principal: the user's addresses.
                if (name == CS + "email-address-set" && kind == ResourceKind.Principal)
                    return new XElement(name, new XElement(CS + "email-address", user));
                // Neither reports anything (RFC 3253 3.1.5: the set may be empty).
                if (name == D + "supported-report-set") return new XElement(name);
                return null;
            case ResourceKind.Home:
                if (name == D + "displayname") return new XElement(name, user);
                // The home reports nothing (sync-collection is the book's): Apple falls back to PROPFIND.
                if (name == D + "supported-report-set") return new XElement(name);
                // Apple Contacts marks "my card" from this property of the home (CalendarServer's me-card).
                if (name == CS + "me-card" && MeCard(user, book) is { } me) return Href(DavPaths.Book(user) + me.ResourceName);
                return null;
            case ResourceKind.Book when book is not null:
                // The book is one user's view of the directory (visibility rules differ per viewer), and a client holding
                // several accounts lists every book by this name: bare "Directory" made them indistinguishable.
                if (name == D + "displayname") return new XElement(name, BookName(user));
                if (name == C + "addressbook-description") return new XElement(name, "The enterprise address book");
                if (name == CS + "getctag") return new XElement(name, book.CTag);
                if (name == D + "getetag") return new XElement(name, "\"" + book.CTag + "\"");
                if (name == D + "supported-report-set")
                {
                    return new XElement(name,
                        new XElement(D + "supported-report", new XElement(D + "report", new XElement(C + "addressbook-multiget"))),
                        new XElement(D + "supported-report", new XElement(D + "report", new XElement(C + "addressbook-query"))),
                        new XElement(D + "supported-report", new XElement(D + "report", new XElement(D + "sync-collection"))));
                }
                // RFC 6578 4: asked by name only (never in allprop).
                if (name == D + "sync-token") return new XElement(name, CardDavSync.Token(book.CTag));
                if (name == C + "supported-address-data")
                {
                    // RFC 6352 6.2.2: 3.0 first, the default; 4.0 on request.
                    return new XElement(name,
                        new XElement(C + "address-data-type", new XAttribute("content-type", "text/vcard"), new XAttribute("version", VCard.V3)),
                        new XElement(C + "address-data-type", new XAttribute("content-type", "text/vcard"), new XAttribute("version", VCard.V4)));
                }
                return null;
            case ResourceKind.Item when card is not null:
                if (name == D + "getetag") return new XElement(name, card.ETag);
                if (name == D + "getcontenttype") return new XElement(name, "text/vcard; charset=utf-8");
                if (name == D + "getcontentlength") return new XElement(name, Encoding.UTF8.GetByteCount(card.Text));
                if (name == C + "address-data") return new XElement(name, card.TextIn(version));
                return null;
            default:
                return null;
        }
    }
}

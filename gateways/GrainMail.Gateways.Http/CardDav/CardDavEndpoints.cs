using System.Security.Cryptography;
using System.Text;
using System.Xml;
using System.Xml.Linq;
using GrainMail.Contracts.AddressBook;
using GrainMail.Gateways.Http.UserAuth;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace GrainMail.Gateways.Http.CardDav;

/// <summary>
/// A read-only CardDAV server (RFC 6352 over the WebDAV subset of RFC 4918 it needs): one address
/// book per user, holding exactly what the visibility rules let that user see, read through the
/// same query as the search API. Discovery by /.well-known/carddav (RFC 6764), current-user-principal
/// (RFC 5397) and addressbook-home-set; PROPFIND depth 0 and 1; REPORT addressbook-multiget and
/// addressbook-query; GET of a vCard. Every write is refused. Served only with account
/// credentials over HTTPS (see <see cref="AccountBasicAuthenticationHandler"/>).
/// </summary>
public static class CardDavEndpoints
{
    private static readonly string[] ReadMethods = ["OPTIONS", "GET", "HEAD", "PROPFIND", "REPORT"];
    private static readonly string[] WriteMethods = ["PUT", "DELETE", "PROPPATCH", "MKCOL", "COPY", "MOVE", "LOCK", "UNLOCK", "POST", "ACL"];
    private const string Allow = "OPTIONS, GET, HEAD, PROPFIND, REPORT";

    public static IEndpointRouteBuilder MapCardDav(this IEndpointRouteBuilder app)
    {
        // RFC 6764 5: the well-known URI redirects to the context path; it needs no credentials.
        app.MapMethods("/.well-known/carddav", ["GET", "HEAD", "PROPFIND", "OPTIONS"], (HttpContext ctx) =>
        {
            ctx.Response.StatusCode = StatusCodes.Status301MovedPermanently;
            ctx.Response.Headers.Location = DavPaths.Root;
            return Task.CompletedTask;
        }).AllowAnonymous().ExcludeFromDescription();
        app.MapMethods("/carddav/{**path}", [.. ReadMethods, .. WriteMethods], Handle)
            .RequireAuthorization(AccountAuth.Policy).ExcludeFromDescription();
        return app;
    }

    private static async Task Handle(HttpContext ctx, string? path, IGrainFactory grains, CardDavSync sync)
    {
        var user = ctx.User.Address();
        var method = ctx.Request.Method.ToUpperInvariant();
        if (WriteMethods.Contains(method))
        {
            // Nothing here is writable, wherever the write is aimed.
            await RefuseWrite(ctx, method);
            return;
        }
        var target = DavPaths.Parse(path);
        if (target is null)
        {
            ctx.Response.StatusCode = StatusCodes.Status404NotFound;
            return;
        }
        if (Owner(target) is { } owner && owner != DavPaths.Segment(user))
        {
            // Another user's principal or address book: what they see is theirs alone.
            ctx.Response.StatusCode = StatusCodes.Status403Forbidden;
            return;
        }
        switch (method)
        {
            case "OPTIONS":
                // Apple Contacts checks for "addressbook" (RFC 6352 6.1); access-control: the
                // privilege sets of RFC 3744 that tell clients the book is read-only.
                ctx.Response.Headers["DAV"] = "1, 3, access-control, addressbook";
                ctx.Response.Headers.Allow = Allow;
                ctx.Response.StatusCode = StatusCodes.Status200OK;
                return;
            case "GET" or "HEAD":
                await Get(ctx, target, user, grains, head: method == "HEAD");
                return;
            case "PROPFIND":
                await PropFind(ctx, target, user, grains, sync);
                return;
            default:
                await Report(ctx, target, user, grains, sync);
                return;
        }
    }

    private static string? Owner(DavPaths.Target t) => t switch
    {
        DavPaths.PrincipalTarget p => p.Owner,
        DavPaths.HomeTarget h => h.Owner,
        DavPaths.BookTarget b => b.Owner,
        DavPaths.ItemTarget i => i.Owner,
        _ => null,
    };

    /// <summary>
    /// RFC 6352 is silent on read-only books beyond privileges: a write to an existing resource
    /// lacks DAV:write (403 with need-privileges, RFC 3744 7.1.1); MKCOL where a collection can
    /// never be made is 405 (RFC 4918 9.3.1).
    /// </summary>
    private static async Task RefuseWrite(HttpContext ctx, string method)
    {
        ctx.Response.Headers.Allow = Allow;
        if (method == "MKCOL")
        {
            ctx.Response.StatusCode = StatusCodes.Status405MethodNotAllowed;
            return;
        }
        // RFC 3744 7.1.1: which privilege on which resource the request lacked. A DELETE or MOVE
        // takes a member out of its collection (unbind there), a PUT writes content (a new member
        // binds into the collection), PROPPATCH writes properties.
        var path = ctx.Request.PathBase + ctx.Request.Path;
        var here = path.ToString();
        var parent = here.TrimEnd('/') is var t && t.LastIndexOf('/') is > 0 and var i ? t[..(i + 1)] : here;
        var (href, privilege) = method switch
        {
            "DELETE" or "MOVE" => (parent, "unbind"),
            "PUT" => (here, "write-content"),
            "PROPPATCH" => (here, "write-properties"),
            _ => (here, "write"),
        };
        var d = DavNames.Dav;
        await WriteXml(ctx, StatusCodes.Status403Forbidden, new XElement(d + "error", new XAttribute(XNamespace.Xmlns + "d", d.NamespaceName),
            new XElement(d + "need-privileges",
                new XElement(d + "resource", new XElement(d + "href", href), new XElement(d + "privilege", new XElement(d + privilege))))));
    }

    private static async Task Get(HttpContext ctx, DavPaths.Target target, string user, IGrainFactory grains, bool head)
    {
        if (target is not DavPaths.ItemTarget item)
        {
            ctx.Response.Headers.Allow = "OPTIONS, PROPFIND" + (target is DavPaths.BookTarget ? ", REPORT" : "");
            ctx.Response.StatusCode = StatusCodes.Status405MethodNotAllowed;
            return;
        }
        var book = await Load(grains, user);
        if (!book.ByName.TryGetValue(item.Name, out var card))
        {
            ctx.Response.StatusCode = StatusCodes.Status404NotFound;
            return;
        }
        // RFC 6352 5.1.1 lets a client name the vCard version it reads in Accept; 3.0 unless 4.0 is preferred.
        var version = DavRequests.AcceptedVersion(ctx.Request.Headers.Accept.ToString());
        var etag = card.ETagIn(version);
        ctx.Response.Headers.Vary = "Accept";
        ctx.Response.Headers.ETag = etag;
        if (ctx.Request.Headers.IfNoneMatch.ToString() is { Length: > 0 } inm && inm.Split(',').Any(t => t.Trim() == etag || t.Trim() == "*"))
        {
            ctx.Response.StatusCode = StatusCodes.Status304NotModified;
            return;
        }
        var bytes = Encoding.UTF8.GetBytes(card.TextIn(version));
        ctx.Response.ContentType = version == VCard.V4 ? "text/vcard; charset=utf-8; version=4.0" : "text/vcard; charset=utf-8";
        ctx.Response.ContentLength = bytes.Length;
        if (!head) await ctx.Response.Body.WriteAsync(bytes);
    }

    private static async Task PropFind(HttpContext ctx, DavPaths.Target target, string user, IGrainFactory grains, CardDavSync sync)
    {
        var body = await ReadBody(ctx);
        if (!DavRequests.TryParsePropFind(body, out var request, out var error))
        {
            await BadRequest(ctx, error);
            return;
        }
        // Depth: 0 or 1. "infinity" (and no header, which means infinity, RFC 4918 10.2) is
        // answered as 1: the tree below any collection here is one level deep.
        var depth = ctx.Request.Headers["Depth"].ToString().Trim() == "0" ? 0 : 1;
        var responses = new List<XElement>();
        var minimal = Minimal(ctx);
        var props = new DavProps(user, minimal);
        switch (target)
        {
            case DavPaths.RootTarget:
                responses.Add(props.Respond(DavPaths.Root, DavProps.ResourceKind.Root, null, null, request));
                break;
            case DavPaths.PrincipalTarget:
                responses.Add(props.Respond(DavPaths.Principal(user), DavProps.ResourceKind.Principal, null, null, request));
                break;
            case DavPaths.HomeTarget:
                {
                    // The book is rendered only when needed: the listing, or the home's me-card.
                    var book = depth == 1 || request.Props.Contains(DavNames.CalendarServer + "me-card") ? await Load(grains, user) : null;
                    responses.Add(props.Respond(DavPaths.Home(user), DavProps.ResourceKind.Home, book, null, request));
                    if (depth == 1)
                    {
                        responses.Add(props.Respond(DavPaths.Book(user), DavProps.ResourceKind.Book, book, null, request));
                        await RememberIfTokenAsked(sync, user, book!, request);
                    }
                    break;
                }
            case DavPaths.BookTarget:
                {
                    var book = await Load(grains, user);
                    responses.Add(props.Respond(DavPaths.Book(user), DavProps.ResourceKind.Book, book, null, request));
                    await RememberIfTokenAsked(sync, user, book, request);
                    if (depth == 1)
                    {
                        foreach (var card in book.Cards) responses.Add(props.Respond(DavPaths.Book(user) + card.ResourceName, DavProps.ResourceKind.Item, book, card, request));
                    }
                    break;
                }
            case DavPaths.ItemTarget item:
                {
                    var book = await Load(grains, user);
                    if (!book.ByName.TryGetValue(item.Name, out var card))
                    {
                        ctx.Response.StatusCode = StatusCodes.Status404NotFound;
                        return;
                    }
                    responses.Add(props.Respond(DavPaths.Book(user) + card.ResourceName, DavProps.ResourceKind.Item, book, card, request));
                    break;
                }
        }
        await WriteXml(ctx, StatusCodes.Status207MultiStatus, DavProps.MultiStatus(responses));
    }

    /// <summary>
    /// A client that reads the book's DAV:sync-token by PROPFIND (Thunderbird does, after its first full
    /// listing; Apple Contacts too) will send that token in its next sync-collection, so the state it
    /// names is remembered now, as a sync-collection answer's is: else the first change to the book
    /// after that PROPFIND would make the token unknown.
    /// </summary>
    private static Task RememberIfTokenAsked(CardDavSync sync, string user, DavBook book, PropFindRequest request) =>
        request.Kind == PropFindKind.Prop && request.Props.Contains(DavNames.Dav + "sync-token") ? sync.RememberAsync(user, book) : Task.CompletedTask;

    /// <summary>RFC 8144 / Brief: whether 404 propstats are left out; says so (RFC 7240 Preference-Applied) and that answers vary by it.</summary>
    private static bool Minimal(HttpContext ctx)
    {
        ctx.Response.Headers.Vary = "Brief, Prefer";
        var prefer = ctx.Request.Headers["Prefer"].ToString();
        if (DavRequests.WantsMinimal(prefer, null)) ctx.Response.Headers["Preference-Applied"] = "return=minimal";
        return DavRequests.WantsMinimal(prefer, ctx.Request.Headers["Brief"].ToString());
    }

    private static async Task Report(HttpContext ctx, DavPaths.Target target, string user, IGrainFactory grains, CardDavSync sync)
    {
        var body = await ReadBody(ctx);
        if (!DavRequests.TryParseReport(body, out var report, out var error))
        {
            await BadRequest(ctx, error);
            return;
        }
        if (report.UnsupportedAddressData && target is DavPaths.BookTarget or DavPaths.ItemTarget)
        {
            // RFC 6352 8.6/8.7 precondition: a media type or version the server does not give (see supported-address-data).
            await WriteXml(ctx, StatusCodes.Status403Forbidden, new XElement(DavNames.Dav + "error",
                new XAttribute(XNamespace.Xmlns + "d", DavNames.Dav.NamespaceName), new XAttribute(XNamespace.Xmlns + "card", DavNames.Card.NamespaceName),
                new XElement(DavNames.Card + "supported-address-data")));
            return;
        }
        if (report is SyncCollectionReport syncReport && target is DavPaths.BookTarget)
        {
            await SyncCollection(ctx, user, grains, sync, syncReport);
            return;
        }
        if (report is UnsupportedReport or SyncCollectionReport || target is not (DavPaths.BookTarget or DavPaths.ItemTarget))
        {
            // RFC 3253 3.6: a report the resource does not support.
            var d = DavNames.Dav;
            await WriteXml(ctx, StatusCodes.Status403Forbidden, new XElement(d + "error", new XAttribute(XNamespace.Xmlns + "d", d.NamespaceName), new XElement(d + "supported-report")));
            return;
        }
        var book = await Load(grains, user);
        var props = new DavProps(user, Minimal(ctx), report.AddressDataVersion);
        var request = new PropFindRequest(PropFindKind.Prop, report.Props.Count > 0 ? report.Props : [DavNames.Dav + "getetag", DavNames.Card + "address-data"]);
        var responses = new List<XElement>();
        if (report is MultigetReport multiget)
        {
            foreach (var href in multiget.Hrefs)
            {
                var name = DavPaths.ItemNameOf(href, DavPaths.Book(user));
                if (name is not null && book.ByName.TryGetValue(name, out var card))
                    responses.Add(props.Respond(DavPaths.Book(user) + card.ResourceName, DavProps.ResourceKind.Item, book, card, request));
                else responses.Add(DavProps.NotFound(href));
            }
        }
        else if (report is QueryReport query)
        {
            var matches = book.Cards.Where(c => CardFilters.Matches(query.Filter, c));
            var limited = query.Limit is { } n ? matches.Take(n) : matches;
            foreach (var card in limited) responses.Add(props.Respond(DavPaths.Book(user) + card.ResourceName, DavProps.ResourceKind.Item, book, card, request));
        }
        await WriteXml(ctx, StatusCodes.Status207MultiStatus, DavProps.MultiStatus(responses));
    }

    /// <summary>
    /// RFC 6578 3: the initial sync (empty token) lists every card; a later one the cards added or
    /// changed since the token's state and, as 404 responses, those removed; both end with the new
    /// token. A token no gateway remembers (see <see cref="CardDavSync"/>) is 403 DAV:valid-sync-token (the client starts over).
    /// </summary>
    private static async Task SyncCollection(HttpContext ctx, string user, IGrainFactory grains, CardDavSync sync, SyncCollectionReport report)
    {
        var book = await Load(grains, user);
        IReadOnlyList<VCard> changed = book.Cards;
        IReadOnlyList<string> removed = [];
        if (report.SyncToken.Length > 0)
        {
            var tag = CardDavSync.TagOf(report.SyncToken);
            var before = tag is null ? null : tag == book.CTag ? CardDavSync.Unchanged : await sync.RecallAsync(user, tag);
            if (before is null)
            {
                var d = DavNames.Dav;
                await WriteXml(ctx, InvalidTokenStatus(ctx), new XElement(d + "error", new XAttribute(XNamespace.Xmlns + "d", d.NamespaceName), new XElement(d + "valid-sync-token")));
                return;
            }
            if (tag == book.CTag) changed = [];
            else
            {
                var (added, gone) = CardDavSync.Difference(before, book);
                changed = added;
                removed = gone;
            }
        }
        await sync.RememberAsync(user, book);
        var props = new DavProps(user, Minimal(ctx), report.AddressDataVersion);
        var request = new PropFindRequest(PropFindKind.Prop, report.Props.Count > 0 ? report.Props : [DavNames.Dav + "getetag"]);
        var responses = new List<XElement>(changed.Count + removed.Count + 1);
        foreach (var card in changed) responses.Add(props.Respond(DavPaths.Book(user) + card.ResourceName, DavProps.ResourceKind.Item, book, card, request));
        foreach (var name in removed) responses.Add(DavProps.NotFound(DavPaths.Book(user) + name));
        var multistatus = DavProps.MultiStatus(responses);
        multistatus.Add(new XElement(DavNames.Dav + "sync-token", CardDavSync.Token(book.CTag)));
        await WriteXml(ctx, StatusCodes.Status207MultiStatus, multistatus);
    }

    /// <summary>
    /// 403 is what RFC 6578 3.2 and RFC 4918 16 give an unmet precondition, and what Apple Contacts,
    /// DAVx5 and others take as "start over". Thunderbird's CardDAV client (CardDAVDirectory,
    /// Thunderbird 91 and later) starts over only on 400 and treats any other status as a failed
    /// sync, keeping its token, so every later sync would fail too: it gets 400 with the same body.
    /// </summary>
    private static int InvalidTokenStatus(HttpContext ctx) =>
        ctx.Request.Headers.UserAgent.ToString().Contains("Thunderbird/", StringComparison.Ordinal)
            ? StatusCodes.Status400BadRequest
            : StatusCodes.Status403Forbidden;

    /// <summary>The user's book: every visible entry as a card, through the one address-book query.</summary>
    private static async Task<DavBook> Load(IGrainFactory grains, string user)
    {
        var entries = await grains.GetGrain<IAddressBookReaderGrain>(0).All(user);
        var cards = entries.Select(VCard.From).OrderBy(c => c.ResourceName, StringComparer.Ordinal).ToList();
        var byName = new Dictionary<string, VCard>(StringComparer.Ordinal);
        foreach (var c in cards) byName.TryAdd(c.ResourceName, c);
        // The collection's tag changes whenever any card's content, or the set of cards, changes.
        var ctag = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(string.Join('\n', cards.Select(c => c.ResourceName + " " + c.ETag)))))[..32];
        return new DavBook(cards, byName, ctag);
    }

    private static async Task<string> ReadBody(HttpContext ctx)
    {
        using var reader = new StreamReader(ctx.Request.Body, Encoding.UTF8);
        return await reader.ReadToEndAsync(ctx.RequestAborted);
    }

    private static async Task BadRequest(HttpContext ctx, string? error)
    {
        ctx.Response.StatusCode = StatusCodes.Status400BadRequest;
        ctx.Response.ContentType = "text/plain; charset=utf-8";
        await ctx.Response.WriteAsync(error ?? "bad request");
    }

    private static async Task WriteXml(HttpContext ctx, int status, XElement root)
    {
        ctx.Response.StatusCode = status;
        ctx.Response.ContentType = "application/xml; charset=utf-8";
        // vCard lines end in CRLF (RFC 6350 3.2); an XML parser turns a literal CR LF into LF
        // (XML 1.0 2.11), so CRs are written as character references to arrive intact.
        var settings = new XmlWriterSettings { Encoding = new UTF8Encoding(false), NewLineHandling = NewLineHandling.Entitize };
        using var buffer = new MemoryStream();
        using (var writer = XmlWriter.Create(buffer, settings)) new XDocument(root).Save(writer);
        ctx.Response.ContentLength = buffer.Length;
        await ctx.Response.Body.WriteAsync(buffer.GetBuffer().AsMemory(0, (int)buffer.Length), ctx.RequestAborted);
    }
}

/// <summary>One user's address book as served: its cards by resource name and its collection tag.</summary>
public sealed record DavBook(IReadOnlyList<VCard> Cards, IReadOnlyDictionary<string, VCard> ByName, string CTag);

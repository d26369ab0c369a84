using System.Text;

namespace GrainMail.Gateways.Http.CardDav;

/// <summary>
/// The CardDAV tree of one user (RFC 6352 7.1, RFC 5397):
/// <c>/carddav/</c> (context path), <c>/carddav/principals/{address}/</c>,
/// <c>/carddav/addressbooks/{address}/</c> (addressbook-home-set) and its one address book
/// <c>directory/</c> holding <c>{entry}.vcf</c>.
/// </summary>
public static class DavPaths
{
    public const string Root = "/carddav/";
    public const string BookName = "directory";

    public static string Principal(string address) => $"{Root}principals/{Segment(address)}/";

    public static string Home(string address) => $"{Root}addressbooks/{Segment(address)}/";

    public static string Book(string address) => $"{Home(address)}{BookName}/";

    /// <summary>
    /// A path segment for an address: itself when made only of characters that need no
    /// percent-encoding in a path (RFC 3986 pchar: letters, digits, "-._~@+="), so that clients
    /// and this server never disagree about encoding; otherwise "x-" and the UTF-8 in hex.
    /// </summary>
    public static string Segment(string value) =>
        value.Length > 0 && value.All(c => char.IsAsciiLetterOrDigit(c) || "-._~@+=".Contains(c))
            ? value
            : "x-" + Convert.ToHexStringLower(Encoding.UTF8.GetBytes(value));

    public abstract record Target;

    public sealed record RootTarget : Target;

    public sealed record PrincipalTarget(string Owner) : Target;

    public sealed record HomeTarget(string Owner) : Target;

    public sealed record BookTarget(string Owner) : Target;

    public sealed record ItemTarget(string Owner, string Name) : Target;

    /// <summary>
    /// What a request path (decoded, below /carddav) names; null when nothing. Owners are path
    /// segments as <see cref="Segment"/> makes them: the caller compares them with the user's.
    /// </summary>
    public static Target? Parse(string? path)
    {
        var parts = (path ?? "").Split('/', StringSplitOptions.RemoveEmptyEntries);
        return parts switch
        {
            [] => new RootTarget(),
            ["principals", var owner] => new PrincipalTarget(owner),
            ["addressbooks", var owner] => new HomeTarget(owner),
            ["addressbooks", var owner, BookName] => new BookTarget(owner),
            ["addressbooks", var owner, BookName, var name] => new ItemTarget(owner, name),
            _ => null,
        };
    }

    /// <summary>The resource name a multiget href (absolute URL or path) names in <paramref name="bookPath"/>, or null.</summary>
    public static string? ItemNameOf(string href, string bookPath)
    {
        var path = Uri.TryCreate(href, UriKind.Absolute, out var abs) && abs.Scheme.StartsWith("http", StringComparison.OrdinalIgnoreCase)
            ? abs.AbsolutePath
            : href;
        path = Uri.UnescapeDataString(path);
        if (!path.StartsWith(bookPath, StringComparison.Ordinal)) return null;
        var name = path[bookPath.Length..];
        return name.Length == 0 || name.Contains('/') ? null : name;
    }
}

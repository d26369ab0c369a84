using System.Security.Cryptography;
using System.Text;
using GrainMail.Contracts.AddressBook;

namespace GrainMail.Gateways.Http.CardDav;

/// <summary>
/// One address-book entry as a vCard 3.0 (RFC 2426, the version every CardDAV client reads):
/// its text, the resource name it has in the collection, its ETag (a hash of the text, so it
/// changes exactly when the card does, a department rename included), and its property values
/// for addressbook-query filters. A client that asks for vCard 4.0 (RFC 6352 10.4 address-data
/// version, or Accept on GET) gets <see cref="Text4"/>, rendered from the same entry on demand.
/// </summary>
public sealed record VCard(string ResourceName, string Uid, string Text, string ETag, IReadOnlyDictionary<string, IReadOnlyList<string>> Properties)
{
    /// <summary>The versions served: 3.0 by default (what Apple Contacts and vdirsyncer read), 4.0 when asked.</summary>
    public const string V3 = "3.0";

    public const string V4 = "4.0";

    /// <summary>The entry the card was made from (null for a card made by hand in a test).</summary>
    public AddressBookEntry? Entry { get; init; }

    /// <summary>The same card as vCard 4.0 (RFC 6350), or the 3.0 text when the entry is unknown.</summary>
    public string Text4 => Entry is { } e ? Render(e, V4).Text : Text;

    /// <summary>The text in <paramref name="version"/> (3.0 or 4.0).</summary>
    public string TextIn(string? version) => version == V4 ? Text4 : Text;

    /// <summary>A strong ETag names one representation (RFC 9110 8.8.1): the 4.0 text has its own.</summary>
    public string ETagIn(string? version) => version == V4 ? Hash(Text4) : ETag;

    public static VCard From(AddressBookEntry e)
    {
        var (resource, uid) = Names(e);
        var (text, props) = Render(e, V3);
        return new VCard(resource, uid, text, Hash(text), props) { Entry = e };
    }

    private static (string Resource, string Uid) Names(AddressBookEntry e) => e.Kind switch
    {
        AddressBookEntryKind.Contact => ($"c-{e.ContactId}.vcf", $"grainmail:contact:{e.ContactId}"),
        AddressBookEntryKind.List => ($"l-{DavPaths.Segment(e.Address)}.vcf", $"grainmail:list:{e.Address}"),
        _ => ($"a-{DavPaths.Segment(e.Address)}.vcf", $"grainmail:account:{e.Address}"),
    };

    private static string Hash(string text) => "\"" + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text)))[..32] + "\"";

    /// <summary>
    /// The card's text in 3.0 or 4.0 and its property values. 4.0 differs where RFC 6350 does:
    /// VERSION right after BEGIN (both do it), no INTERNET email type (6350 dropped it), lower-case
    /// TYPE values, and KIND:group for a list instead of Apple's X-ADDRESSBOOKSERVER-KIND.
    /// </summary>
    private static (string Text, Dictionary<string, IReadOnlyList<string>> Props) Render(AddressBookEntry e, string version)
    {
        var v4 = version == V4;
        var (_, uid) = Names(e);
        var name = string.IsNullOrWhiteSpace(e.DisplayName) ? e.Address : e.DisplayName.Trim();
        var (family, given) = SplitName(name);
        var org = e.DepartmentPath.Count > 0 ? e.DepartmentPath : e.Organization is { } o ? [o] : [];
        var props = new Dictionary<string, IReadOnlyList<string>>(StringComparer.OrdinalIgnoreCase)
        {
            ["UID"] = [uid],
            ["FN"] = [name],
            ["N"] = [$"{family};{given}"],
            ["EMAIL"] = [e.Address],
        };
        var sb = new StringBuilder();
        Line(sb, "BEGIN:VCARD");
        Line(sb, "VERSION:" + version);
        if (v4 && e.Kind == AddressBookEntryKind.List) Line(sb, "KIND:group");
        Line(sb, "UID:" + Escape(uid));
        Line(sb, "FN:" + Escape(name));
        Line(sb, $"N:{Escape(family)};{Escape(given)};;;");
        Line(sb, (v4 ? "EMAIL;TYPE=work:" : "EMAIL;TYPE=INTERNET:") + Escape(e.Address));
        if (!string.IsNullOrWhiteSpace(e.Phone))
        {
            Line(sb, (v4 ? "TEL;TYPE=work,voice:" : "TEL;TYPE=WORK,VOICE:") + Escape(e.Phone));
            props["TEL"] = [e.Phone];
        }
        if (org.Count > 0)
        {
            // RFC 2426 3.5.5: the organisation, then its units from the top down.
            Line(sb, "ORG:" + string.Join(';', org.Select(Escape)));
            props["ORG"] = [string.Join(';', org)];
        }
        if (!string.IsNullOrWhiteSpace(e.Title))
        {
            Line(sb, "TITLE:" + Escape(e.Title));
            props["TITLE"] = [e.Title];
        }
        if (!v4 && e.Kind == AddressBookEntryKind.List) Line(sb, "X-ADDRESSBOOKSERVER-KIND:group");
        Line(sb, "END:VCARD");
        return (sb.ToString(), props);
    }

    /// <summary>
    /// N's family and given names: a Chinese name of 2–4 hanzi is family name first (one
    /// character; compound surnames are rarer than the error is harmless); a Western name of
    /// several words ends with the family name; anything else is all family name.
    /// </summary>
    public static (string Family, string Given) SplitName(string name)
    {
        if (name.Length is >= 2 and <= 4 && name.All(c => c is >= '\u4e00' and <= '\u9fff')) return (name[..1], name[1..]);
        var words = name.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        return words.Length >= 2 ? (words[^1], string.Join(' ', words[..^1])) : (name, "");
    }

    /// <summary>RFC 2426 5 / RFC 6350 3.4: backslash, comma, semicolon and newline are escaped in text values.</summary>
    public static string Escape(string value)
    {
        var sb = new StringBuilder(value.Length);
        foreach (var c in value)
        {
            switch (c)
            {
                case '\\': sb.Append("\\\\"); break;
                case ',': sb.Append("\\,"); break;
                case ';': sb.Append("\\;"); break;
                case '\n': sb.Append("\\n"); break;
                case '\r': break;
                default: sb.Append(c); break;
            }
        }
        return sb.ToString();
    }

    /// <summary>A content line, folded at 75 octets (RFC 6350 3.2) without splitting a UTF-8 sequence.</summary>
    private static void Line(StringBuilder sb, string line)
    {
        var octets = 0;
        var limit = 75;
        for (var i = 0; i < line.Length; i++)
        {
            var c = line[i];
            var width = char.IsHighSurrogate(c) ? 4 : c < 0x80 ? 1 : c < 0x800 ? 2 : 3;
            if (octets + width > limit)
            {
                sb.Append("\r\n ");
                octets = 1;
                limit = 75;
            }
            sb.Append(c);
            if (char.IsHighSurrogate(c) && i + 1 < line.Length) sb.Append(line[++i]);
            octets += width;
        }
        sb.Append("\r\n");
    }
}

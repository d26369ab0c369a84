using System.Security.Cryptography;
using System.Text;
using GrainMail.Contracts.AddressBook;

namespace GrainMail.Gateways.Http.CardDav;

/// <summary>
/// One address-book entry as a vCard 3.0 (RFC 2426, the version every CardDAV client reads):
/// its text, the resource name it has in the collection, its ETag (a hash of the text, so it
/// changes exactly when the card does, a department rename included), and its property values
/// for addressbook-query filters.
/// </summary>
public sealed record VCard(string ResourceName, string Uid, string Text, string ETag, IReadOnlyDictionary<string, IReadOnlyList<string>> Properties)
{
    public static VCard From(AddressBookEntry e)
    {
        var (resource, uid) = e.Kind switch
        {
            AddressBookEntryKind.Contact => ($"c-{e.ContactId}.vcf", $"grainmail:contact:{e.ContactId}"),
            AddressBookEntryKind.List => ($"l-{DavPaths.Segment(e.Address)}.vcf", $"grainmail:list:{e.Address}"),
            _ => ($"a-{DavPaths.Segment(e.Address)}.vcf", $"grainmail:account:{e.Address}"),
        };
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
        Line(sb, "VERSION:3.0");
        Line(sb, "UID:" + Escape(uid));
        Line(sb, "FN:" + Escape(name));
        Line(sb, $"N:{Escape(family)};{Escape(given)};;;");
        Line(sb, "EMAIL;TYPE=INTERNET:" + Escape(e.Address));
        if (!string.IsNullOrWhiteSpace(e.Phone))
        {
            Line(sb, "TEL;TYPE=WORK,VOICE:" + Escape(e.Phone));
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
        if (e.Kind == AddressBookEntryKind.List) Line(sb, "X-ADDRESSBOOKSERVER-KIND:group");
        Line(sb, "END:VCARD");
        var text = sb.ToString();
        var etag = "\"" + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text)))[..32] + "\"";
        return new VCard(resource, uid, text, etag, props);
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

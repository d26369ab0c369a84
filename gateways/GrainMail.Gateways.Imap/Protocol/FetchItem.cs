namespace GrainMail.Gateways.Imap.Protocol;

public enum FetchKind
{
    Flags,
    InternalDate,
    Rfc822Size,
    Envelope,
    Body,
    BodyStructure,
    Uid,
    ModSeq,
    Section,

    /// <summary>BINARY[part] / BINARY.PEEK[part] (RFC 3516): the part with its transfer encoding undone.</summary>
    Binary,

    /// <summary>BINARY.SIZE[part] (RFC 3516): the size of that decoded part.</summary>
    BinarySize,

    /// <summary>EMAILID (RFC 8474).</summary>
    EmailId,

    /// <summary>THREADID (RFC 8474).</summary>
    ThreadId,

    /// <summary>SAVEDATE (RFC 8514).</summary>
    SaveDate,
}

public enum SectionText
{
    /// <summary>The whole entity (or the whole message for an empty section).</summary>
    All,
    Header,
    HeaderFields,
    HeaderFieldsNot,
    Text,
    Mime,
}

/// <summary>A BODY[section] specifier (RFC 3501 6.4.5): a part path and what of that part.</summary>
public sealed record Section(int[] Path, SectionText Text, IReadOnlyList<string> Fields)
{
    /// <summary>The section as echoed in the response, e.g. <c>1.2.HEADER.FIELDS (FROM TO)</c>.</summary>
    public string Label
    {
        get
        {
            var path = string.Join('.', Path);
            var text = Text switch
            {
                SectionText.Header => "HEADER",
                SectionText.Text => "TEXT",
                SectionText.Mime => "MIME",
                SectionText.HeaderFields => "HEADER.FIELDS (" + string.Join(' ', Fields) + ")",
                SectionText.HeaderFieldsNot => "HEADER.FIELDS.NOT (" + string.Join(' ', Fields) + ")",
                _ => "",
            };
            return path.Length > 0 && text.Length > 0 ? path + "." + text : path + text;
        }
    }
}

/// <summary>One FETCH data item. RFC822, RFC822.HEADER and RFC822.TEXT are sections with their old names.</summary>
public sealed record FetchItem(FetchKind Kind, Section? Section = null, bool Peek = false, long? PartialOffset = null,
    long? PartialLength = null, string? LegacyName = null)
{
    public static List<FetchItem> ParseList(ImapParser p)
    {
        var items = new List<FetchItem>();
        if (p.Peek() == '(')
        {
            p.ReadList(() => items.Add(ParseOne(p)));
            return items;
        }
        // Macros (RFC 3501 6.4.5) or one item.
        var item = ParseOne(p, allowMacro: true, items);
        if (item is not null) items.Add(item);
        return items;
    }

    private static FetchItem? ParseOne(ImapParser p, bool allowMacro, List<FetchItem> macroItems)
    {
        var name = ReadName(p);
        if (allowMacro)
        {
            switch (name)
            {
                case "ALL":
                    macroItems.AddRange([new(FetchKind.Flags), new(FetchKind.InternalDate), new(FetchKind.Rfc822Size), new(FetchKind.Envelope)]);
                    return null;
                case "FAST":
                    macroItems.AddRange([new(FetchKind.Flags), new(FetchKind.InternalDate), new(FetchKind.Rfc822Size)]);
                    return null;
                case "FULL":
                    macroItems.AddRange([new(FetchKind.Flags), new(FetchKind.InternalDate), new(FetchKind.Rfc822Size), new(FetchKind.Envelope), new(FetchKind.Body)]);
                    return null;
            }
        }
        return Finish(p, name);
    }

    private static FetchItem ParseOne(ImapParser p) => Finish(p, ReadName(p));

    private static string ReadName(ImapParser p)
    {
        var sb = new System.Text.StringBuilder();
        while (p.Peek() is var c && c >= 0 && (char.IsAsciiLetterOrDigit((char)c) || c == '.' || c == '-'))
        {
            p.TryConsume((char)c);
            sb.Append(char.ToUpperInvariant((char)c));
        }
        if (sb.Length == 0) throw new ImapSyntaxException("Expected a FETCH item");
        return sb.ToString();
    }

    private static FetchItem Finish(ImapParser p, string name)
    {
        switch (name)
        {
            case "FLAGS": return new(FetchKind.Flags);
            case "INTERNALDATE": return new(FetchKind.InternalDate);
            case "RFC822.SIZE": return new(FetchKind.Rfc822Size);
            case "ENVELOPE": return new(FetchKind.Envelope);
            case "BODYSTRUCTURE": return new(FetchKind.BodyStructure);
            case "UID": return new(FetchKind.Uid);
            case "MODSEQ": return new(FetchKind.ModSeq);
            case "EMAILID": return new(FetchKind.EmailId);
            case "THREADID": return new(FetchKind.ThreadId);
            case "SAVEDATE": return new(FetchKind.SaveDate);
            case "BINARY.SIZE": return new(FetchKind.BinarySize, ParseBinarySection(p));
            case "BINARY":
            case "BINARY.PEEK":
                {
                    var section = ParseBinarySection(p);
                    var (offset, length) = ParsePartial(p);
                    return new(FetchKind.Binary, section, name == "BINARY.PEEK", offset, length);
                }
            case "RFC822": return new(FetchKind.Section, new Section([], SectionText.All, []), LegacyName: "RFC822");
            case "RFC822.HEADER": return new(FetchKind.Section, new Section([], SectionText.Header, []), Peek: true, LegacyName: "RFC822.HEADER");
            case "RFC822.TEXT": return new(FetchKind.Section, new Section([], SectionText.Text, []), LegacyName: "RFC822.TEXT");
            case "BODY" when p.Peek() != '[': return new(FetchKind.Body);
            case "BODY":
            case "BODY.PEEK":
                {
                    var section = ParseSection(p);
                    var (offset, length) = ParsePartial(p);
                    return new(FetchKind.Section, section, name == "BODY.PEEK", offset, length);
                }
            default:
                throw new ImapSyntaxException("Unknown FETCH item " + name);
        }
    }

    private static (long? Offset, long? Length) ParsePartial(ImapParser p)
    {
        if (!p.TryConsume('<')) return (null, null);
        var range = p.ReadAtom();
        var dot = range.IndexOf('.');
        if (!range.EndsWith('>') || dot < 0) throw new ImapSyntaxException("Invalid partial range");
        if (!long.TryParse(range[..dot], System.Globalization.NumberStyles.None, null, out var o)
            || !long.TryParse(range[(dot + 1)..^1], System.Globalization.NumberStyles.None, null, out var l) || l <= 0)
            throw new ImapSyntaxException("Invalid partial range");
        return (o, l);
    }

    /// <summary>section-binary (RFC 3516 5): part numbers only, no HEADER/TEXT/MIME.</summary>
    private static Section ParseBinarySection(ImapParser p)
    {
        p.Expect('[');
        var path = new List<int>();
        if (!p.TryConsume(']'))
        {
            foreach (var part in p.ReadAtom().Split('.'))
            {
                if (part.Length == 0 || part.Length > 9 || !part.All(char.IsAsciiDigit) || !int.TryParse(part, out var n) || n == 0)
                    throw new ImapSyntaxException("Invalid BINARY section");
                path.Add(n);
            }
            if (path.Count > 50) throw new ImapSyntaxException("Invalid BINARY section");
            p.Expect(']');
        }
        return new Section([.. path], SectionText.All, []);
    }

    private static Section ParseSection(ImapParser p)
    {
        p.Expect('[');
        var path = new List<int>();
        var text = SectionText.All;
        var fields = new List<string>();
        if (!p.TryConsume(']'))
        {
            var spec = p.ReadAtom();
            var parts = spec.Split('.');
            var i = 0;
            for (; i < parts.Length && parts[i].Length > 0 && parts[i].All(char.IsAsciiDigit); i++)
            {
                if (!int.TryParse(parts[i], out var n) || n == 0) throw new ImapSyntaxException("Invalid section part");
                path.Add(n);
            }
            var rest = string.Join('.', parts[i..]).ToUpperInvariant();
            text = rest switch
            {
                "" => SectionText.All,
                "HEADER" => SectionText.Header,
                "TEXT" => SectionText.Text,
                "MIME" when path.Count > 0 => SectionText.Mime,
                "HEADER.FIELDS" => SectionText.HeaderFields,
                "HEADER.FIELDS.NOT" => SectionText.HeaderFieldsNot,
                _ => throw new ImapSyntaxException("Invalid section " + spec),
            };
            if (text is SectionText.HeaderFields or SectionText.HeaderFieldsNot)
            {
                p.ExpectSpace();
                p.ReadList(() => fields.Add(p.ReadAString().ToUpperInvariant()));
                if (fields.Count == 0) throw new ImapSyntaxException("Empty header field list");
            }
            p.Expect(']');
        }
        return new Section([.. path], text, fields);
    }
}

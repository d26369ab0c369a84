using System.Text;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using MimeKit;
using MimeKit.Utils;

namespace GrainMail.Gateways.Jmap.Mail;

/// <summary>A leaf (or attached message) of an email's structure with the JMAP part id it was given.</summary>
public sealed record EmailPart(string PartId, MimeEntity Entity, IReadOnlyList<EmailPart> SubParts)
{
    public bool IsMultipart => Entity is Multipart;
    public string Type => Entity.ContentType.MimeType.ToLowerInvariant();
}

/// <summary>
/// The JMAP Email properties (RFC 8621 4.1) read from a message with MimeKit: header forms,
/// body structure, the textBody/htmlBody/attachments choice of 4.1.4, body values and preview.
/// Pure code over the parsed message.
/// </summary>
public sealed partial class EmailReader
{
    public static readonly string[] DefaultProperties =
    [
        "id", "blobId", "threadId", "mailboxIds", "keywords", "size", "receivedAt", "messageId", "inReplyTo", "references",
        "sender", "from", "to", "cc", "bcc", "replyTo", "subject", "sentAt", "hasAttachment", "preview", "bodyValues",
        "textBody", "htmlBody", "attachments",
    ];

    public static readonly string[] DefaultBodyProperties = ["partId", "blobId", "size", "name", "type", "charset", "disposition", "cid", "language", "location"];

    /// <summary>Properties that come from the headers and text alone (cached per Email id: content never changes).</summary>
    public static readonly HashSet<string> SummaryProperties =
        ["messageId", "inReplyTo", "references", "sender", "from", "to", "cc", "bcc", "replyTo", "subject", "sentAt", "hasAttachment", "preview"];

    private readonly MimeMessage _message;
    private readonly string _blobPrefix;

    public EmailReader(MimeMessage message, string blobPrefix)
    {
        _message = message;
        _blobPrefix = blobPrefix;
        var counter = 0;
        Root = Number(message.Body ?? new TextPart("plain") { Text = "" }, ref counter);
        var text = new List<EmailPart>();
        var html = new List<EmailPart>();
        var attachments = new List<EmailPart>();
        if (Root.IsMultipart) Walk(Root.SubParts, Root.Entity.ContentType.MediaSubtype.ToLowerInvariant(), false, html, text, attachments);
        else Walk([Root], "mixed", false, html, text, attachments);
        TextBody = text;
        HtmlBody = html;
        Attachments = attachments;
    }

    public MimeMessage Message => _message;
    public EmailPart Root { get; }
    public IReadOnlyList<EmailPart> TextBody { get; }
    public IReadOnlyList<EmailPart> HtmlBody { get; }
    public IReadOnlyList<EmailPart> Attachments { get; }

    public static EmailReader Parse(byte[] raw, string blobPrefix) =>
        new(MimeMessage.Load(new MemoryStream(raw, writable: false)), blobPrefix);

    private static EmailPart Number(MimeEntity entity, ref int counter)
    {
        if (entity is Multipart multi)
        {
            var children = new List<EmailPart>();
            foreach (var child in multi) children.Add(Number(child, ref counter));
            return new EmailPart("", entity, children); // multiparts have no partId (RFC 8621 4.1.4)
        }
        counter++;
        return new EmailPart(counter.ToString(System.Globalization.CultureInfo.InvariantCulture), entity, []);
    }

    private static bool IsInlineMedia(string type) => type.StartsWith("image/", StringComparison.Ordinal) || type.StartsWith("audio/", StringComparison.Ordinal) || type.StartsWith("video/", StringComparison.Ordinal);

    /// <summary>RFC 8621 4.1.4's algorithm for which parts are body and which attachments.</summary>
    private static void Walk(IReadOnlyList<EmailPart> parts, string multipartType, bool inAlternative, List<EmailPart>? htmlBody, List<EmailPart>? textBody, List<EmailPart> attachments)
    {
        var textLength = textBody?.Count ?? -1;
        var htmlLength = htmlBody?.Count ?? -1;
        for (var i = 0; i < parts.Count; i++)
        {
            var part = parts[i];
            var type = part.Type;
            var disposition = part.Entity.ContentDisposition?.Disposition?.ToLowerInvariant();
            var name = Name(part.Entity);
            var isInline = disposition != "attachment"
                && (type is "text/plain" or "text/html" || IsInlineMedia(type))
                && (i == 0 || (multipartType != "related" && (IsInlineMedia(type) || name is null)));
            if (part.IsMultipart)
            {
                var sub = part.Entity.ContentType.MediaSubtype.ToLowerInvariant();
                Walk(part.SubParts, sub, inAlternative || sub == "alternative", htmlBody, textBody, attachments);
            }
            else if (isInline)
            {
                if (multipartType == "alternative")
                {
                    switch (type)
                    {
                        case "text/plain": textBody?.Add(part); break;
                        case "text/html": htmlBody?.Add(part); break;
                        default: attachments.Add(part); break;
                    }
                    continue;
                }
                var text = textBody;
                var html = htmlBody;
                if (inAlternative)
                {
                    if (type == "text/plain") html = null;
                    if (type == "text/html") text = null;
                }
                text?.Add(part);
                html?.Add(part);
                if ((text is null || html is null) && IsInlineMedia(type)) attachments.Add(part);
            }
            else attachments.Add(part);
        }
        if (multipartType == "alternative" && textBody is not null && htmlBody is not null)
        {
            // A part only one alternative has goes into the other too.
            if (textLength == textBody.Count && htmlLength != htmlBody.Count) textBody.AddRange(htmlBody.Skip(Math.Max(0, htmlLength)));
            if (htmlLength == htmlBody.Count && textLength != textBody.Count) htmlBody.AddRange(textBody.Skip(Math.Max(0, textLength)));
        }
    }

    public static string? Name(MimeEntity e) => e.ContentDisposition?.FileName ?? e.ContentType.Name;

    public string PartBlobId(EmailPart part) => _blobPrefix + "-" + part.PartId;

    public IEnumerable<EmailPart> AllParts() => Flatten(Root);

    private static IEnumerable<EmailPart> Flatten(EmailPart p) => p.IsMultipart ? p.SubParts.SelectMany(Flatten) : [p];

    /// <summary>One of the header-derived or summary properties; false when <paramref name="property"/> is none of them.</summary>
    public bool TryHeaderProperty(string property, out JsonNode? value)
    {
        value = null;
        switch (property)
        {
            case "messageId": value = HeaderForm(_message.Headers, "Message-ID", "asMessageIds", false); return true;
            case "inReplyTo": value = HeaderForm(_message.Headers, "In-Reply-To", "asMessageIds", false); return true;
            case "references": value = HeaderForm(_message.Headers, "References", "asMessageIds", false); return true;
            case "sender": value = HeaderForm(_message.Headers, "Sender", "asAddresses", false); return true;
            case "from": value = HeaderForm(_message.Headers, "From", "asAddresses", false); return true;
            case "to": value = HeaderForm(_message.Headers, "To", "asAddresses", false); return true;
            case "cc": value = HeaderForm(_message.Headers, "Cc", "asAddresses", false); return true;
            case "bcc": value = HeaderForm(_message.Headers, "Bcc", "asAddresses", false); return true;
            case "replyTo": value = HeaderForm(_message.Headers, "Reply-To", "asAddresses", false); return true;
            case "subject": value = HeaderForm(_message.Headers, "Subject", "asText", false); return true;
            case "sentAt": value = HeaderForm(_message.Headers, "Date", "asDate", false); return true;
            case "hasAttachment": value = Attachments.Any(a => !(a.Entity.ContentDisposition?.Disposition?.Equals("inline", StringComparison.OrdinalIgnoreCase) ?? false) || a.Entity.ContentType.MediaType != "image"); return true;
            case "preview": value = Preview(); return true;
            case "headers": value = RawHeaders(_message.Headers); return true;
        }
        if (property.StartsWith("header:", StringComparison.OrdinalIgnoreCase) && ParseHeaderProperty(property) is (var name, var form, var all))
        {
            value = HeaderForm(_message.Headers, name, form, all);
            return true;
        }
        return false;
    }

    /// <summary>"header:{name}[:as{Form}][:all]" (RFC 8621 4.1.3); null when malformed.</summary>
    public static (string Name, string Form, bool All)? ParseHeaderProperty(string property)
    {
        var parts = property.Split(':');
        if (parts.Length < 2 || parts.Length > 4 || parts[1].Length == 0 || !parts[0].Equals("header", StringComparison.Ordinal)) return null;
        var form = "asRaw";
        var all = false;
        for (var i = 2; i < parts.Length; i++)
        {
            if (parts[i] == "all" && i == parts.Length - 1) all = true;
            else if (i == 2 && parts[i] is "asRaw" or "asText" or "asAddresses" or "asGroupedAddresses" or "asMessageIds" or "asDate" or "asURLs") form = parts[i];
            else return null;
        }
        return (parts[1], form, all);
    }

    public static JsonArray RawHeaders(HeaderList headers) =>
        new(headers.Select(h => (JsonNode)new JsonObject { ["name"] = h.Field, ["value"] = RawText(h) }).ToArray());

    private static string RawText(Header h) => Encoding.UTF8.GetString(h.RawValue).TrimEnd('\r', '\n');

    /// <summary>The value of a header field in one of the parsed forms (RFC 8621 4.1.2); the last instance, or all with :all.</summary>
    public static JsonNode? HeaderForm(HeaderList headers, string name, string form, bool all)
    {
        var instances = headers.Where(h => h.Field.Equals(name, StringComparison.OrdinalIgnoreCase)).ToList();
        if (all) return new JsonArray(instances.Select(h => Form(h, form)).ToArray());
        return instances.Count == 0 ? null : Form(instances[^1], form);
    }

    private static JsonNode? Form(Header h, string form)
    {
        var raw = RawText(h);
        switch (form)
        {
            case "asRaw":
                return raw;
            case "asText":
                return Unfold(Decode(h)).Trim();
            case "asAddresses":
                return InternetAddressList.TryParse(ParserOptions.Default, h.RawValue, out var list)
                    ? new JsonArray(list.Mailboxes.Select(Address).ToArray()) : null;
            case "asGroupedAddresses":
                if (!InternetAddressList.TryParse(ParserOptions.Default, h.RawValue, out var grouped)) return null;
                var groups = new JsonArray();
                var loose = new JsonArray();
                foreach (var a in grouped)
                {
                    if (a is GroupAddress g)
                    {
                        if (loose.Count > 0)
                        {
                            groups.Add(new JsonObject { ["name"] = null, ["addresses"] = loose });
                            loose = [];
                        }
                        groups.Add(new JsonObject { ["name"] = g.Name, ["addresses"] = new JsonArray(g.Members.Mailboxes.Select(Address).ToArray()) });
                    }
                    else if (a is MailboxAddress m) loose.Add(Address(m));
                }
                if (loose.Count > 0) groups.Add(new JsonObject { ["name"] = null, ["addresses"] = loose });
                return groups;
            case "asMessageIds":
                var ids = MessageIdsOf(raw);
                return ids.Count == 0 ? null : new JsonArray(ids.Select(i => (JsonNode)i).ToArray());
            case "asDate":
                return DateUtils.TryParse(raw, out var date) ? Date(date) : null;
            case "asURLs":
                var urls = UrlList().Matches(raw).Select(m => (JsonNode)m.Groups[1].Value).ToArray();
                return urls.Length == 0 ? null : new JsonArray(urls);
            default:
                return null;
        }
    }

    public static List<string> MessageIdsOf(string raw)
    {
        var ids = new List<string>();
        foreach (var id in MimeUtils.EnumerateReferences(raw)) ids.Add(id);
        return ids;
    }

    private static JsonNode Address(MailboxAddress m) => new JsonObject { ["name"] = string.IsNullOrEmpty(m.Name) ? null : m.Name, ["email"] = m.Address };

    /// <summary>RFC 3339 UTC date with "Z" (RFC 8620 1.4 UTCDate) or with offset (Date).</summary>
    public static string Date(DateTimeOffset d) => d.ToString("yyyy-MM-dd'T'HH:mm:sszzz", System.Globalization.CultureInfo.InvariantCulture);

    public static string UtcDate(DateTimeOffset d) => d.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", System.Globalization.CultureInfo.InvariantCulture);

    private static string Decode(Header h)
    {
        try
        {
            return h.Value ?? "";
        }
        catch (Exception e) when (e is FormatException or ArgumentException)
        {
            return Encoding.UTF8.GetString(h.RawValue);
        }
    }

    private static string Unfold(string s) => s.Replace("\r\n", "").Replace("\n", "");

    /// <summary>Up to 256 characters of the first text body part, whitespace collapsed (RFC 8621 4.1.4 preview).</summary>
    public string Preview()
    {
        var part = TextBody.FirstOrDefault(p => p.Type == "text/plain") ?? HtmlBody.FirstOrDefault(p => p.Type == "text/html");
        if (part?.Entity is not TextPart t) return "";
        var text = t.IsHtml ? HtmlTags().Replace(SafeText(t), " ") : SafeText(t);
        text = System.Net.WebUtility.HtmlDecode(Whitespace().Replace(text, " ").Trim());
        return text.Length <= 256 ? text : text[..256];
    }

    public static string SafeText(TextPart t)
    {
        try
        {
            return t.Text ?? "";
        }
        catch (Exception e) when (e is NotSupportedException or ArgumentException or FormatException)
        {
            return "";
        }
    }

    /// <summary>A body part's properties (RFC 8621 4.1.4 EmailBodyPart).</summary>
    public JsonObject BodyPart(EmailPart part, IReadOnlyCollection<string> properties)
    {
        var o = new JsonObject();
        var e = part.Entity;
        foreach (var p in properties)
        {
            switch (p)
            {
                case "partId": o[p] = part.IsMultipart ? null : part.PartId; break;
                case "blobId": o[p] = part.IsMultipart ? null : PartBlobId(part); break;
                case "size": o[p] = part.IsMultipart ? 0 : DecodedSize(e); break;
                case "headers": o[p] = RawHeaders(e.Headers); break;
                case "name": o[p] = Name(e); break;
                case "type": o[p] = e.ContentType.MimeType.ToLowerInvariant(); break;
                case "charset": o[p] = e.ContentType.MediaType.Equals("text", StringComparison.OrdinalIgnoreCase) ? (e.ContentType.Charset ?? "us-ascii") : e.ContentType.Charset; break;
                case "disposition": o[p] = e.ContentDisposition?.Disposition?.ToLowerInvariant(); break;
                case "cid": o[p] = e.ContentId; break;
                case "language": o[p] = e.Headers[HeaderId.ContentLanguage] is { } lang ? new JsonArray(lang.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries).Select(x => (JsonNode)x).ToArray()) : null; break;
                case "location": o[p] = e.ContentLocation?.ToString(); break;
                case "subParts": o[p] = part.IsMultipart ? new JsonArray(part.SubParts.Select(s => (JsonNode)BodyPart(s, properties)).ToArray()) : null; break;
                default:
                    if (p.StartsWith("header:", StringComparison.Ordinal) && ParseHeaderProperty(p) is (var name, var form, var all)) o[p] = HeaderForm(e.Headers, name, form, all);
                    break;
            }
        }
        return o;
    }

    public static long DecodedSize(MimeEntity e)
    {
        using var s = new MemoryStream();
        if (e is MimePart mp && mp.Content is not null) mp.Content.DecodeTo(s);
        else if (e is MessagePart msg && msg.Message is not null) msg.Message.WriteTo(s);
        return s.Length;
    }

    public static byte[] DecodedBytes(MimeEntity e)
    {
        using var s = new MemoryStream();
        if (e is MimePart mp && mp.Content is not null) mp.Content.DecodeTo(s);
        else if (e is MessagePart msg && msg.Message is not null) msg.Message.WriteTo(s);
        return s.ToArray();
    }

    /// <summary>EmailBodyValue (RFC 8621 4.1.4): the decoded text, truncated to at most <paramref name="maxBytes"/> UTF-8 octets when above 0.</summary>
    public static JsonObject BodyValue(EmailPart part, long maxBytes)
    {
        var problem = false;
        string text = "";
        if (part.Entity is TextPart t)
        {
            try
            {
                text = t.Text ?? "";
                problem = text.Contains('\uFFFD');
            }
            catch (Exception e) when (e is NotSupportedException or ArgumentException or FormatException)
            {
                problem = true;
            }
        }
        var truncated = false;
        if (maxBytes > 0 && Encoding.UTF8.GetByteCount(text) > maxBytes)
        {
            var bytes = Encoding.UTF8.GetBytes(text);
            var cut = (int)maxBytes;
            while (cut > 0 && (bytes[cut] & 0xC0) == 0x80) cut--; // never split a character
            text = Encoding.UTF8.GetString(bytes, 0, cut);
            truncated = true;
        }
        return new JsonObject { ["value"] = text, ["isEncodingProblem"] = problem, ["isTruncated"] = truncated };
    }

    [GeneratedRegex(@"<([^>\s]+)>")]
    private static partial Regex UrlList();

    [GeneratedRegex(@"<[^>]*>")]
    private static partial Regex HtmlTags();

    [GeneratedRegex(@"\s+")]
    private static partial Regex Whitespace();
}

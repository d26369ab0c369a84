using System.Text;
using MimeKit;
using MimeKit.Encodings;

namespace GrainMail.Gateways.Common.Mime;

/// <summary>
/// The decoded text of a message's text parts, for SEARCH BODY and TEXT: transfer encoding and
/// charset undone, one part at a time, over the <see cref="MimeNode"/> tree (no second parse of
/// the message, nothing kept after the search has looked at a part).
/// </summary>
public static class TextSearch
{
    private const int MaxDepth = 10;

    /// <summary>
    /// True when a text part of <paramref name="node"/> contains <paramref name="text"/>
    /// (case-insensitive). With <paramref name="headers"/> (TEXT) an attached message's header
    /// fields count as body of the outer message, as RFC 3501 6.4.4 has it.
    /// </summary>
    public static bool BodyContains(byte[] raw, MimeNode node, string text, bool headers, int depth = 0)
    {
        if (node.IsMultipart)
        {
            foreach (var child in node.Children)
                if (BodyContains(raw, child, text, headers, depth)) return true;
            return false;
        }
        if (node.IsMessage)
        {
            // Attached messages are searched too, as a user who searches for a word expects.
            if (node.Message is not { } inner || depth >= MaxDepth) return false;
            if (headers && HeadersContain(inner.Headers, text, names: false)) return true;
            return BodyContains(raw, inner, text, headers, depth + 1);
        }
        if (!node.ContentType.MediaType.Equals("text", StringComparison.OrdinalIgnoreCase)) return false;
        return Decode(raw, node).Contains(text, StringComparison.OrdinalIgnoreCase);
    }

    /// <summary>True when a header value (decoded; with <paramref name="names"/> also a field name) contains the text.</summary>
    public static bool HeadersContain(HeaderList headers, string text, bool names)
    {
        foreach (var h in headers)
        {
            if (DecodedValue(h).Contains(text, StringComparison.OrdinalIgnoreCase)) return true;
            if (names && h.Field.Contains(text, StringComparison.OrdinalIgnoreCase)) return true;
        }
        return false;
    }

    /// <summary>A header's value with RFC 2047 encoded-words decoded; the raw bytes as UTF-8 when it cannot be decoded.</summary>
    public static string DecodedValue(Header h)
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

    /// <summary>
    /// An address field as its addresses, "display name &lt;address&gt;" each, with the display
    /// names decoded (encoded words, also inside quotes) and unquoted; empty when it does not parse.
    /// </summary>
    public static string AddressesText(Header h)
    {
        if (!InternetAddressList.TryParse(ParserOptions.Default, h.RawValue, out var list)) return "";
        var sb = new StringBuilder();
        foreach (var mailbox in list.Mailboxes)
        {
            if (sb.Length > 0) sb.Append(", ");
            if (!string.IsNullOrEmpty(mailbox.Name)) sb.Append(mailbox.Name).Append(" <");
            sb.Append(mailbox.Address);
            if (!string.IsNullOrEmpty(mailbox.Name)) sb.Append('>');
        }
        return sb.ToString();
    }

    private static string Decode(byte[] raw, MimeNode node)
    {
        var body = raw.AsSpan(node.BodyStart, node.BodyLength);
        var transfer = HeaderValues.RawValue(node.Headers, "Content-Transfer-Encoding")?.Trim().ToLowerInvariant();
        IMimeDecoder? decoder = transfer switch
        {
            "base64" => new Base64Decoder(),
            "quoted-printable" => new QuotedPrintableDecoder(),
            _ => null,
        };
        byte[] bytes;
        int length;
        if (decoder is null)
        {
            bytes = body.ToArray();
            length = bytes.Length;
        }
        else
        {
            var input = body.ToArray();
            bytes = new byte[decoder.EstimateOutputLength(input.Length)];
            length = decoder.Decode(input, 0, input.Length, bytes);
        }
        var encoding = Charset(node.ContentType);
        if (encoding is not null) return encoding.GetString(bytes, 0, length);
        // No (known) charset: UTF-8 when it is valid, else Latin-1, which reads any byte.
        try
        {
            return new UTF8Encoding(false, throwOnInvalidBytes: true).GetString(bytes, 0, length);
        }
        catch (DecoderFallbackException)
        {
            return Encoding.Latin1.GetString(bytes, 0, length);
        }
    }

    private static Encoding? Charset(ContentType type)
    {
        try
        {
            return type.Charset is null ? null : type.CharsetEncoding;
        }
        catch (Exception e) when (e is NotSupportedException or ArgumentException)
        {
            return null;
        }
    }
}

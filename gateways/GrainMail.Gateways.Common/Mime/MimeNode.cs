using System.Text;
using MimeKit;

namespace GrainMail.Gateways.Common.Mime;

/// <summary>
/// One entity of a message with its exact byte ranges in the stored bytes: what IMAP's
/// BODY[section], BODYSTRUCTURE and RFC822.SIZE are defined over. The split into parts is our
/// own (so that the ranges are exactly RFC 3501's); MimeKit parses the headers, content types
/// and addresses.
/// </summary>
public sealed class MimeNode
{
    public required int Start { get; init; }

    /// <summary>First byte of the body, after the blank line that ends the headers.</summary>
    public required int BodyStart { get; init; }

    /// <summary>End of the body (exclusive), before the CRLF that belongs to a following boundary.</summary>
    public required int End { get; init; }

    public required HeaderList Headers { get; init; }

    public required ContentType ContentType { get; init; }

    public List<MimeNode> Children { get; } = [];

    /// <summary>For message/rfc822 (and global): the enclosed message.</summary>
    public MimeNode? Message { get; set; }

    public bool IsMultipart => ContentType.MediaType.Equals("multipart", StringComparison.OrdinalIgnoreCase);

    public bool IsMessage => ContentType.MediaType.Equals("message", StringComparison.OrdinalIgnoreCase)
        && (ContentType.MediaSubtype.Equals("rfc822", StringComparison.OrdinalIgnoreCase) || ContentType.MediaSubtype.Equals("global", StringComparison.OrdinalIgnoreCase));

    public int BodyLength => End - BodyStart;

    private const int MaxDepth = 20;

    /// <summary>Parses a whole message.</summary>
    public static MimeNode Parse(byte[] raw) => ParseEntity(raw, 0, raw.Length, null, 0);

    private static MimeNode ParseEntity(byte[] raw, int start, int end, string? defaultType, int depth)
    {
        var bodyStart = HeaderEnd(raw, start, end);
        var headers = ParseHeaders(raw, start, bodyStart);
        var typeText = headers[HeaderId.ContentType];
        if (typeText is null || !ContentType.TryParse(typeText, out var type) || type is null)
            type = ContentType.Parse(defaultType ?? "text/plain");
        var node = new MimeNode { Start = start, BodyStart = bodyStart, End = end, Headers = headers, ContentType = type };
        if (depth >= MaxDepth) return node;
        if (node.IsMultipart && type.Boundary is { Length: > 0 } boundary)
        {
            var childDefault = type.MediaSubtype.Equals("digest", StringComparison.OrdinalIgnoreCase) ? "message/rfc822" : "text/plain";
            foreach (var (s, e) in SplitParts(raw, bodyStart, end, Encoding.ASCII.GetBytes("--" + boundary)))
                node.Children.Add(ParseEntity(raw, s, e, childDefault, depth + 1));
        }
        else if (node.IsMessage && bodyStart < end)
        {
            node.Message = ParseEntity(raw, bodyStart, end, null, depth + 1);
        }
        return node;
    }

    /// <summary>The offset just after the blank line that ends the headers (or <paramref name="end"/>).</summary>
    private static int HeaderEnd(byte[] raw, int start, int end)
    {
        var i = start;
        while (i < end)
        {
            // At a line start: an empty line ends the headers.
            if (raw[i] == '\n') return i + 1;
            if (raw[i] == '\r' && i + 1 < end && raw[i + 1] == '\n') return i + 2;
            var lf = Array.IndexOf(raw, (byte)'\n', i, end - i);
            if (lf < 0) return end;
            i = lf + 1;
        }
        return end;
    }

    /// <summary>
    /// Splits a header section into fields in one pass (RFC 5322 2.2: a field is a name, a colon
    /// and a value that goes on over lines starting with a space or tab). MimeKit only gets each
    /// field's raw value to decode on demand: its own header parser costs quadratic time and memory
    /// in the number of folds, so one header folded a million times took seconds and gigabytes.
    /// A line that is not a field (no colon, or a name with other than printable ASCII) is skipped.
    /// </summary>
    internal static HeaderList ParseHeaders(byte[] raw, int start, int end)
    {
        var headers = new HeaderList();
        var i = start;
        while (i < end)
        {
            var lineEnd = LineEnd(raw, i, end);
            if (raw[i] is (byte)'\r' or (byte)'\n') break;
            // The field's value runs over the continuation lines that follow.
            var fieldEnd = lineEnd;
            while (fieldEnd < end && raw[fieldEnd] is (byte)' ' or (byte)'\t') fieldEnd = LineEnd(raw, fieldEnd, end);
            var colon = Array.IndexOf(raw, (byte)':', i, lineEnd - i);
            var nameEnd = colon;
            while (nameEnd > i && raw[nameEnd - 1] is (byte)' ' or (byte)'\t') nameEnd--;
            if (colon > i && nameEnd > i && IsFieldName(raw.AsSpan(i, nameEnd - i)))
            {
                // MimeKit parses this one field (linear in its length) and decodes its value on demand.
                if (Header.TryParse(raw, i, fieldEnd - i, out var header)) headers.Add(header);
            }
            i = fieldEnd;
        }
        return headers;
    }

    // RFC 5322 3.6.8: printable US-ASCII except the colon.
    private static bool IsFieldName(ReadOnlySpan<byte> name)
    {
        foreach (var b in name)
            if (b is < 33 or > 126 or (byte)':') return false;
        return true;
    }

    private static int LineEnd(byte[] raw, int i, int end)
    {
        var lf = Array.IndexOf(raw, (byte)'\n', i, end - i);
        return lf < 0 ? end : lf + 1;
    }

    /// <summary>The ranges of a multipart body's parts, between its delimiter lines (RFC 2046 5.1.1).</summary>
    private static List<(int Start, int End)> SplitParts(byte[] raw, int start, int end, byte[] delimiter)
    {
        var parts = new List<(int, int)>();
        var partStart = -1;
        var i = start;
        while (i < end)
        {
            var lf = Array.IndexOf(raw, (byte)'\n', i, end - i);
            var lineEnd = lf < 0 ? end : lf + 1;
            if (lineEnd - i >= delimiter.Length && raw.AsSpan(i, delimiter.Length).SequenceEqual(delimiter))
            {
                var rest = raw.AsSpan(i + delimiter.Length, lineEnd - i - delimiter.Length);
                var close = rest.StartsWith("--"u8);
                if (close || rest.Trim("\r\n \t"u8).Length == 0)
                {
                    if (partStart >= 0)
                    {
                        // The CRLF before a delimiter belongs to the delimiter.
                        var partEnd = i;
                        if (partEnd > partStart && raw[partEnd - 1] == '\n') partEnd--;
                        if (partEnd > partStart && raw[partEnd - 1] == '\r') partEnd--;
                        parts.Add((partStart, Math.Max(partStart, partEnd)));
                    }
                    if (close) return parts;
                    partStart = lineEnd;
                }
            }
            i = lineEnd;
        }
        // A multipart without its close delimiter: the last part runs to the end.
        if (partStart >= 0 && partStart <= end) parts.Add((partStart, end));
        return parts;
    }

    /// <summary>Lines in the body: LFs, plus a last line without one.</summary>
    public int BodyLines(byte[] raw)
    {
        var n = 0;
        for (var i = BodyStart; i < End; i++) if (raw[i] == '\n') n++;
        if (End > BodyStart && raw[End - 1] != '\n') n++;
        return n;
    }
}

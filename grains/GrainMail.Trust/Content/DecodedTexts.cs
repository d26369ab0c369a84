using System.Buffers;
using System.Text;
using MimeKit;

namespace GrainMail.Trust.Content;

/// <summary>
/// The decoded text (transfer encoding and charset undone) of every text part of one message, read once. MimeKit decodes
/// again on every <see cref="TextPart.Text"/>, and on the MX path three readers want the texts (the linked domains of the
/// URI lists, GTUBE, the tokenizer): decoding was done three times per message before session 12.
/// </summary>
public sealed class DecodedTexts
{
    private readonly string?[] _byPart;

    private DecodedTexts(MimeMessage message, string?[] byPart, IReadOnlyList<string> texts) => (Message, _byPart, Texts) = (message, byPart, texts);

    /// <summary>The message these are the texts of (a reader checks that it was given the texts of its own message).</summary>
    public MimeMessage Message { get; }

    /// <summary>The texts of the parts that decoded, in the order of <see cref="MimeMessage.BodyParts"/>.</summary>
    public IReadOnlyList<string> Texts { get; }

    /// <summary>How many text parts the message has (decodable or not).</summary>
    public int PartCount => _byPart.Length;

    /// <summary>The text of the <paramref name="index"/>-th text part of the message, or null when it could not be decoded.</summary>
    public string? Part(int index) => _byPart[index];

    public static DecodedTexts Of(MimeMessage message)
    {
        var byPart = new List<string?>(2);
        var texts = new List<string>(2);
        foreach (var part in message.BodyParts)
        {
            if (part is not TextPart text) continue;
            var decoded = TryDecode(text);
            byPart.Add(decoded);
            if (decoded is not null) texts.Add(decoded);
        }
        return new DecodedTexts(message, [.. byPart], texts);
    }

    /// <summary>A part's text, exactly <see cref="TextPart.Text"/>, or null for an unknown charset or a broken encoding
    /// (DecoderFallbackException is an ArgumentException). The common parts take <see cref="TryDecodeDirect"/>.</summary>
    public static string? TryDecode(TextPart part) => TryDecodeDirect(part, out var direct) ? direct : TryDecodeWithMimeKit(part);

    /// <summary>The part's text through MimeKit's <see cref="TextPart.Text"/> (its decoder, charset and newline filter streams).</summary>
    public static string? TryDecodeWithMimeKit(TextPart part)
    {
        try
        {
            return part.Text ?? "";
        }
        catch (Exception e) when (e is FormatException or NotSupportedException or ArgumentException)
        {
            return null;
        }
    }

    /// <summary>
    /// The text of the common parts without MimeKit's filter streams (session 15: those were a quarter of what the checks
    /// cost per message): the content as 7bit, 8bit, binary, quoted-printable or base64, and as US-ASCII, UTF-8 or
    /// ISO-8859-1, or with no charset. The result is the string <see cref="TextPart.Text"/> gives, or false where that is not
    /// certain, and MimeKit decodes: an HTML part without a charset (MimeKit reads its meta tags), other charsets, a byte
    /// order mark, bytes that are not valid UTF-8 (MimeKit falls back to ISO-8859-1), anything but ASCII under a charset
    /// other than UTF-8, and quoted-printable or base64 that is not well formed (MimeKit's decoders pass such input through
    /// in their own ways). As <see cref="TextPart.Text"/> does on this platform, CR LF becomes LF, a CR at the very end goes,
    /// and every other CR stays.
    /// </summary>
    public static bool TryDecodeDirect(TextPart part, out string? text)
    {
        text = null;
        if (part.Content is not { } content) return false;
        var charset = part.ContentType.Charset;
        var kind = charset is null ? Charset.None
            : charset.Equals("us-ascii", StringComparison.OrdinalIgnoreCase) ? Charset.Ascii
            : charset.Equals("utf-8", StringComparison.OrdinalIgnoreCase) ? Charset.Utf8
            : charset.Equals("iso-8859-1", StringComparison.OrdinalIgnoreCase) ? Charset.Latin1
            : Charset.Other;
        if (kind == Charset.Other || (kind == Charset.None && part.IsHtml)) return false;
        var transfer = content.Encoding;
        if (transfer is not (ContentEncoding.Default or ContentEncoding.SevenBit or ContentEncoding.EightBit or ContentEncoding.Binary
            or ContentEncoding.QuotedPrintable or ContentEncoding.Base64)) return false;
        var stream = content.Stream;
        if (stream is null || !stream.CanSeek || stream.Length > 64 * 1024 * 1024) return false;

        var length = (int)stream.Length;
        var buffer = ArrayPool<byte>.Shared.Rent(Math.Max(length, 1));
        try
        {
            var position = stream.Position;
            stream.Position = 0;
            var read = 0;
            try
            {
                while (read < length && stream.Read(buffer, read, length - read) is var n and > 0) read += n;
            }
            finally
            {
                stream.Position = position;
            }
            var bytes = buffer.AsSpan(0, read);
            var decoded = transfer switch
            {
                ContentEncoding.QuotedPrintable => QuotedPrintable(bytes),
                ContentEncoding.Base64 => Base64(bytes),
                _ => read,
            };
            if (decoded < 0) return false;
            bytes = bytes[..Unix(bytes[..decoded])];
            if (System.Text.Ascii.IsValid(bytes))
            {
                text = Encoding.ASCII.GetString(bytes);
                return true;
            }
            // Beyond ASCII only UTF-8 (declared, or tried first when nothing is declared) is certain to read as MimeKit reads it.
            if (kind is not (Charset.Utf8 or Charset.None)) return false;
            if (bytes is [0xEF, 0xBB, 0xBF, ..] || !System.Text.Unicode.Utf8.IsValid(bytes)) return false;
            text = Encoding.UTF8.GetString(bytes);
            return true;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private enum Charset { None, Ascii, Utf8, Latin1, Other }

    /// <summary>Quoted-printable decoded in place (=XX, either case; soft breaks = LF and = CR LF); -1 for any other use of "=".</summary>
    private static int QuotedPrintable(Span<byte> bytes)
    {
        var at = bytes.IndexOf((byte)'=');
        if (at < 0) return bytes.Length;
        var output = at;
        var i = at;
        while (i < bytes.Length)
        {
            var c = bytes[i];
            if (c != (byte)'=')
            {
                bytes[output++] = c;
                i++;
                continue;
            }
            if (i + 1 < bytes.Length && bytes[i + 1] == (byte)'\n')
            {
                i += 2;
                continue;
            }
            if (i + 2 >= bytes.Length) return -1;
            var (a, b) = (bytes[i + 1], bytes[i + 2]);
            if (a == (byte)'\r' && b == (byte)'\n')
            {
                i += 3;
                continue;
            }
            if (Hex(a) is not (>= 0 and var high) || Hex(b) is not (>= 0 and var low)) return -1;
            bytes[output++] = (byte)(high << 4 | low);
            i += 3;
        }
        return output;
    }

    private static int Hex(byte c) => c switch
    {
        >= (byte)'0' and <= (byte)'9' => c - '0',
        >= (byte)'A' and <= (byte)'F' => c - 'A' + 10,
        >= (byte)'a' and <= (byte)'f' => c - 'a' + 10,
        _ => -1,
    };

    /// <summary>Base64 decoded in place: only the alphabet and line breaks, in whole quartets, "=" only as the last one or
    /// two characters; -1 for anything else.</summary>
    private static int Base64(Span<byte> bytes)
    {
        var compact = 0;
        foreach (var c in bytes)
        {
            if (c is (byte)'\r' or (byte)'\n') continue;
            bytes[compact++] = c;
        }
        var data = bytes[..compact];
        if (data.Length % 4 != 0) return -1;
        var padding = data.EndsWith("=="u8) ? 2 : data.EndsWith("="u8) ? 1 : 0;
        foreach (var c in data[..^padding])
        {
            if (!(c is >= (byte)'A' and <= (byte)'Z' or >= (byte)'a' and <= (byte)'z' or >= (byte)'0' and <= (byte)'9' or (byte)'+' or (byte)'/'))
                return -1;
        }
        return System.Buffers.Text.Base64.DecodeFromUtf8InPlace(data, out var written) == OperationStatus.Done ? written : -1;
    }

    /// <summary>CR LF to LF and a CR at the end dropped, in place (MimeKit's newline filter for this platform); the new length.</summary>
    private static int Unix(Span<byte> bytes)
    {
        var cr = bytes.IndexOf((byte)'\r');
        if (cr < 0) return bytes.Length;
        // Whole runs between CRs are moved at once (a line at a time, not a byte at a time).
        var output = cr;
        var i = cr;
        while (true)
        {
            // bytes[i] is a CR: it stays unless LF or the end follows.
            var keep = i + 1 < bytes.Length && bytes[i + 1] != (byte)'\n';
            if (keep) bytes[output++] = (byte)'\r';
            var start = i + 1;
            if (start >= bytes.Length) return output;
            var next = bytes[start..].IndexOf((byte)'\r');
            var end = next < 0 ? bytes.Length : start + next;
            bytes[start..end].CopyTo(bytes[output..]);
            output += end - start;
            if (next < 0) return output;
            i = end;
        }
    }
}

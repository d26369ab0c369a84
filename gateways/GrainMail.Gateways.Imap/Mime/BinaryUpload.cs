using MimeKit;

namespace GrainMail.Gateways.Imap.Mime;

/// <summary>
/// A message that came as a literal8 (RFC 3516 4.4: APPEND of binary content) made storable: the
/// store keeps message text (CRLF lines, no NUL), so every leaf part whose content is binary
/// (transfer encoding "binary", or NUL octets in it) is re-encoded as base64. BINARY[part] of the
/// stored message then gives back exactly the octets the client sent; the rest of the message,
/// its headers included, is written back as it came. Pure: bytes in, bytes out.
/// </summary>
public static class BinaryUpload
{
    /// <summary>The outcome of making an upload storable.</summary>
    public enum Outcome
    {
        /// <summary>Nothing binary in it: stored as sent.</summary>
        Unchanged,

        /// <summary>Binary parts were re-encoded as base64.</summary>
        Reencoded,

        /// <summary>Binary octets outside any part body (NUL in a header, an unparsable message): NO [UNKNOWN-CTE].</summary>
        Unstorable,
    }

    public static (Outcome Outcome, byte[] Message) MakeStorable(byte[] message)
    {
        if (!NeedsWork(message)) return (Outcome.Unchanged, message);
        MimeMessage parsed;
        try
        {
            using var input = new MemoryStream(message, writable: false);
            parsed = MimeMessage.Load(input);
        }
        catch (FormatException)
        {
            return (Outcome.Unstorable, message);
        }
        var changed = false;
        foreach (var part in parsed.BodyParts.OfType<MimePart>())
        {
            if (part.Content is not { } content) continue;
            // Only content sent as it is can hold binary octets; base64 and quoted-printable already keep them as text.
            var asIs = part.ContentTransferEncoding is ContentEncoding.Default or ContentEncoding.SevenBit or ContentEncoding.EightBit or ContentEncoding.Binary;
            if (asIs && (part.ContentTransferEncoding == ContentEncoding.Binary || HasNul(content)))
            {
                // MimeKit decodes the content from the encoding it came in and writes it in the new one.
                part.ContentTransferEncoding = ContentEncoding.Base64;
                changed = true;
            }
        }
        // Nothing to re-encode: the NUL that made the upload need work is not in a part body.
        if (!changed) return (Array.IndexOf(message, (byte)0) >= 0 ? Outcome.Unstorable : Outcome.Unchanged, message);
        using var output = new MemoryStream(message.Length + message.Length / 3 + 1024);
        parsed.WriteTo(new FormatOptions { NewLineFormat = NewLineFormat.Dos }, output);
        var result = output.ToArray();
        // A NUL left over is outside every part body (a header, a preamble): the store cannot keep it.
        if (Array.IndexOf(result, (byte)0) >= 0) return (Outcome.Unstorable, message);
        return (Outcome.Reencoded, result);
    }

    /// <summary>True when the message has a NUL or declares a binary transfer encoding somewhere.</summary>
    private static bool NeedsWork(byte[] message) =>
        Array.IndexOf(message, (byte)0) >= 0 || message.AsSpan().IndexOf("binary"u8) >= 0 || message.AsSpan().IndexOf("BINARY"u8) >= 0
        || message.AsSpan().IndexOf("Binary"u8) >= 0;

    private static bool HasNul(IMimeContent content)
    {
        using var decoded = new MemoryStream();
        content.DecodeTo(decoded);
        return Array.IndexOf(decoded.GetBuffer(), (byte)0, 0, (int)decoded.Length) >= 0;
    }
}

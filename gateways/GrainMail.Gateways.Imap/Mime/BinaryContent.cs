using MimeKit.Encodings;
using GrainMail.Gateways.Common.Mime;

namespace GrainMail.Gateways.Imap.Mime;

/// <summary>
/// BINARY[section] and BINARY.SIZE[section] (RFC 3516 4.2): a part's body with its
/// Content-Transfer-Encoding undone. Pure: bytes and the parsed tree in, bytes out.
/// </summary>
public static class BinaryContent
{
    /// <summary>The result of decoding one section.</summary>
    public enum Outcome
    {
        Ok,

        /// <summary>The part's transfer encoding is not one the server can undo: NO [UNKNOWN-CTE].</summary>
        UnknownEncoding,
    }

    /// <summary>
    /// The decoded octets of the part at <paramref name="path"/> (empty path: the whole message
    /// as stored). A part that does not exist gives no octets, like BODY[] of one.
    /// </summary>
    public static (Outcome Outcome, byte[] Bytes) Decode(byte[] raw, MimeNode root, IReadOnlyList<int> path)
    {
        if (path.Count == 0) return (Outcome.Ok, raw);
        var node = Resolve(root, path);
        if (node is null) return (Outcome.Ok, []);
        var body = raw.AsSpan(node.BodyStart, node.BodyLength);
        // A multipart or message part has no encoding of its own to undo (RFC 2045 6.4).
        if (node.IsMultipart || node.IsMessage) return (Outcome.Ok, body.ToArray());
        var transfer = ImapBodyFormatter.RawValue(node.Headers, "Content-Transfer-Encoding")?.Trim().ToLowerInvariant();
        IMimeDecoder? decoder;
        switch (transfer)
        {
            case null or "" or "7bit" or "8bit" or "binary":
                return (Outcome.Ok, body.ToArray());
            case "base64":
                decoder = new Base64Decoder();
                break;
            case "quoted-printable":
                decoder = new QuotedPrintableDecoder();
                break;
            default:
                return (Outcome.UnknownEncoding, []);
        }
        var input = body.ToArray();
        var output = new byte[decoder.EstimateOutputLength(input.Length)];
        var length = decoder.Decode(input, 0, input.Length, output);
        return (Outcome.Ok, output.AsSpan(0, length).ToArray());
    }

    /// <summary>The entity a part path names (RFC 3501 6.4.5 numbering), or null.</summary>
    public static MimeNode? Resolve(MimeNode root, IReadOnlyList<int> path)
    {
        MimeNode scope = root, node = root;
        for (var i = 0; i < path.Count; i++)
        {
            var n = path[i];
            if (scope.IsMultipart)
            {
                if (n < 1 || n > scope.Children.Count) return null;
                node = scope.Children[n - 1];
            }
            else if (n == 1)
            {
                node = scope;
            }
            else
            {
                return null;
            }
            if (i == path.Count - 1) break;
            if (node.IsMessage && node.Message is { } enclosed) scope = enclosed;
            else if (node.IsMultipart && node != scope) scope = node;
            else return null;
        }
        return node;
    }
}

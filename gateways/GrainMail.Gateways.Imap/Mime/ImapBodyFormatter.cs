using System.Text;
using GrainMail.Gateways.Common.Mime;
using GrainMail.Gateways.Imap.Protocol;
using MimeKit;
using MimeKit.Utils;

namespace GrainMail.Gateways.Imap.Mime;

/// <summary>ENVELOPE, BODY and BODYSTRUCTURE (RFC 3501 7.4.2) of a parsed message.</summary>
public static class ImapBodyFormatter
{
    public static void Envelope(ImapWriter w, MimeNode message)
    {
        var h = message.Headers;
        w.Raw("(");
        w.NString(RawValue(h, "Date")).Raw(" ");
        w.NString(RawValue(h, "Subject")).Raw(" ");
        var from = RawValue(h, "From");
        Addresses(w, from);
        w.Raw(" ");
        // Sender and Reply-To absent or empty are the From value (RFC 3501 7.4.2, RFC 9051 7.5.2).
        Addresses(w, OrFrom(RawValue(h, "Sender"), from));
        w.Raw(" ");
        Addresses(w, OrFrom(RawValue(h, "Reply-To"), from));
        w.Raw(" ");
        Addresses(w, RawValue(h, "To"));
        w.Raw(" ");
        Addresses(w, RawValue(h, "Cc"));
        w.Raw(" ");
        Addresses(w, RawValue(h, "Bcc"));
        w.Raw(" ");
        w.NString(RawValue(h, "In-Reply-To")).Raw(" ");
        w.NString(RawValue(h, "Message-ID"));
        w.Raw(")");
    }

    private static string? OrFrom(string? value, string? from) =>
        !string.IsNullOrWhiteSpace(value) && InternetAddressList.TryParse(value, out var list) && list.Count > 0 ? value : from;

    /// <summary>A header's value as it is in the message, unfolded; null when absent.</summary>
    public static string? RawValue(HeaderList headers, string field) => HeaderValues.RawValue(headers, field);

    private static void Addresses(ImapWriter w, string? value)
    {
        if (string.IsNullOrWhiteSpace(value) || !InternetAddressList.TryParse(value, out var list) || list.Count == 0)
        {
            w.Raw("NIL");
            return;
        }
        w.Raw("(");
        foreach (var address in list) Address(w, address);
        w.Raw(")");
    }

    private static void Address(ImapWriter w, InternetAddress address)
    {
        switch (address)
        {
            case MailboxAddress m:
                {
                    var at = m.Address.LastIndexOf('@');
                    var local = at < 0 ? m.Address : m.Address[..at];
                    var host = at < 0 ? null : m.Address[(at + 1)..];
                    w.Raw("(").NString(Phrase(m.Name)).Raw(" NIL ").NString(local).Raw(" ").NString(host).Raw(")");
                    break;
                }
            case GroupAddress g:
                // RFC 3501: a group is its name as mailbox with a NIL host, its members, then an end marker.
                w.Raw("(NIL NIL ").NString(g.Name).Raw(" NIL)");
                foreach (var member in g.Members) Address(w, member);
                w.Raw("(NIL NIL NIL NIL)");
                break;
        }
    }

    // Display names go out as the client would have seen them in the header: non-ASCII as encoded-words.
    private static string? Phrase(string? name)
    {
        if (string.IsNullOrEmpty(name)) return null;
        return name.All(c => c < 0x80) ? name : Encoding.ASCII.GetString(Rfc2047.EncodePhrase(Encoding.UTF8, name));
    }

    public static void BodyStructure(ImapWriter w, byte[] raw, MimeNode node, bool extensible)
    {
        var type = node.ContentType;
        if (node.IsMultipart)
        {
            w.Raw("(");
            if (node.Children.Count == 0)
            {
                // A multipart without parts is shown as an empty text part, as other servers do.
                w.Raw("(\"TEXT\" \"PLAIN\" NIL NIL NIL \"7BIT\" 0 0)");
            }
            foreach (var child in node.Children) BodyStructure(w, raw, child, extensible);
            w.Raw(" ").String(type.MediaSubtype.ToUpperInvariant());
            if (extensible)
            {
                w.Raw(" ");
                Parameters(w, type.Parameters);
                w.Raw(" ");
                Disposition(w, node.Headers);
                w.Raw(" ");
                w.NString(Language(node.Headers)).Raw(" ");
                w.NString(RawValue(node.Headers, "Content-Location"));
            }
            w.Raw(")");
            return;
        }

        w.Raw("(").String(type.MediaType.ToUpperInvariant()).Raw(" ").String(type.MediaSubtype.ToUpperInvariant()).Raw(" ");
        Parameters(w, type.Parameters);
        w.Raw(" ").NString(RawValue(node.Headers, "Content-ID"));
        w.Raw(" ").NString(RawValue(node.Headers, "Content-Description"));
        var encoding = RawValue(node.Headers, "Content-Transfer-Encoding");
        w.Raw(" ").String(string.IsNullOrEmpty(encoding) ? "7BIT" : encoding.ToUpperInvariant());
        w.Raw(" ").Number(node.BodyLength);
        if (node.IsMessage && node.Message is { } inner)
        {
            w.Raw(" ");
            Envelope(w, inner);
            w.Raw(" ");
            BodyStructure(w, raw, inner, extensible);
            w.Raw(" ").Number(node.BodyLines(raw));
        }
        else if (type.MediaType.Equals("text", StringComparison.OrdinalIgnoreCase))
        {
            w.Raw(" ").Number(node.BodyLines(raw));
        }
        if (extensible)
        {
            w.Raw(" ").NString(RawValue(node.Headers, "Content-MD5")).Raw(" ");
            Disposition(w, node.Headers);
            w.Raw(" ").NString(Language(node.Headers));
            w.Raw(" ").NString(RawValue(node.Headers, "Content-Location"));
        }
        w.Raw(")");
    }

    private static void Parameters(ImapWriter w, ParameterList parameters)
    {
        if (parameters.Count == 0)
        {
            w.Raw("NIL");
            return;
        }
        w.Raw("(");
        var first = true;
        foreach (var p in parameters)
        {
            if (!first) w.Raw(" ");
            first = false;
            w.String(p.Name.ToUpperInvariant()).Raw(" ").String(p.Value ?? "");
        }
        w.Raw(")");
    }

    private static void Disposition(ImapWriter w, HeaderList headers)
    {
        var value = headers[HeaderId.ContentDisposition];
        if (value is null || !ContentDisposition.TryParse(value, out var disposition) || disposition is null)
        {
            w.Raw("NIL");
            return;
        }
        w.Raw("(").String(disposition.Disposition.ToUpperInvariant()).Raw(" ");
        Parameters(w, disposition.Parameters);
        w.Raw(")");
    }

    private static string? Language(HeaderList headers) => RawValue(headers, "Content-Language");

    /// <summary>Header lines of <paramref name="node"/> whose field names are (or, with <paramref name="not"/>, are not) listed, plus the blank line.</summary>
    public static byte[] HeaderFields(byte[] raw, MimeNode node, IReadOnlyCollection<string> fields, bool not)
    {
        var wanted = new HashSet<string>(fields, StringComparer.OrdinalIgnoreCase);
        using var output = new MemoryStream();
        var i = node.Start;
        var headerEnd = node.BodyStart;
        var include = false;
        while (i < headerEnd)
        {
            var lf = Array.IndexOf(raw, (byte)'\n', i, headerEnd - i);
            var lineEnd = lf < 0 ? headerEnd : lf + 1;
            var line = raw.AsSpan(i, lineEnd - i);
            if (line.Trim("\r\n"u8).Length == 0) break;
            if (line[0] is not ((byte)' ' or (byte)'\t'))
            {
                var colon = line.IndexOf((byte)':');
                var name = colon > 0 ? Encoding.ASCII.GetString(line[..colon]).Trim() : "";
                include = name.Length > 0 && wanted.Contains(name) != not;
            }
            if (include) output.Write(line);
            i = lineEnd;
        }
        output.Write("\r\n"u8);
        return output.ToArray();
    }
}

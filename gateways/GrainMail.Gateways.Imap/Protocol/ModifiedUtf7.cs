using System.Text;

namespace GrainMail.Gateways.Imap.Protocol;

/// <summary>
/// Mailbox names in modified UTF-7 (RFC 3501 5.1.3): printable ASCII as itself, '&amp;' as
/// "&amp;-", everything else as '&amp;' + modified base64 of UTF-16 + '-'. Used for clients that
/// have not enabled UTF8=ACCEPT.
/// </summary>
public static class ModifiedUtf7
{
    private static readonly UnicodeEncoding StrictUtf16 = new(bigEndian: true, byteOrderMark: false, throwOnInvalidBytes: true);

    public static string Encode(string name)
    {
        var sb = new StringBuilder();
        var pending = new StringBuilder();
        foreach (var ch in name)
        {
            if (ch >= 0x20 && ch <= 0x7e)
            {
                Flush(sb, pending);
                sb.Append(ch == '&' ? "&-" : ch.ToString());
            }
            else
            {
                pending.Append(ch);
            }
        }
        Flush(sb, pending);
        return sb.ToString();

        static void Flush(StringBuilder sb, StringBuilder pending)
        {
            if (pending.Length == 0) return;
            var bytes = Encoding.BigEndianUnicode.GetBytes(pending.ToString());
            sb.Append('&').Append(Convert.ToBase64String(bytes).TrimEnd('=').Replace('/', ',')).Append('-');
            pending.Clear();
        }
    }

    /// <summary>
    /// Decodes a name that is in the one form RFC 3501 5.1.3 allows: printable ASCII as itself,
    /// no base64 run for what could be written plainly, no two runs in a row, no 8-bit octets, no
    /// broken UTF-16. Null otherwise; the same name is never reachable under two spellings.
    /// </summary>
    public static string? DecodeCanonical(string name)
    {
        var decoded = Decode(name);
        return decoded is not null && Encode(decoded) == name ? decoded : null;
    }

    /// <summary>Decodes a name leniently (any base64 run); null when it cannot be read at all.</summary>
    public static string? Decode(string name)
    {
        if (!name.Contains('&')) return name;
        var sb = new StringBuilder();
        for (var i = 0; i < name.Length; i++)
        {
            var ch = name[i];
            if (ch != '&')
            {
                sb.Append(ch);
                continue;
            }
            var end = name.IndexOf('-', i + 1);
            if (end < 0) return null;
            if (end == i + 1)
            {
                sb.Append('&');
                i = end;
                continue;
            }
            var b64 = name[(i + 1)..end].Replace(',', '/');
            b64 = b64.PadRight(b64.Length + (4 - b64.Length % 4) % 4, '=');
            try
            {
                var bytes = Convert.FromBase64String(b64);
                if (bytes.Length % 2 != 0) return null;
                sb.Append(StrictUtf16.GetString(bytes));
            }
            catch (Exception e) when (e is FormatException or DecoderFallbackException)
            {
                return null;
            }
            i = end;
        }
        return sb.ToString();
    }
}

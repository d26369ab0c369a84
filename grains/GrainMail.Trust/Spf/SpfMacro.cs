using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace GrainMail.Trust.Spf;

/// <summary>The values macros read (RFC 7208 7.2).</summary>
public sealed record SpfMacroContext(string Sender, string LocalPart, string SenderDomain, string Domain, IPAddress Ip, string Helo, string Receiver, DateTimeOffset Now);

/// <summary>Macro expansion (RFC 7208 7). Syntax is checked by <see cref="IsValidMacroString"/>;
/// expansion needs DNS only for %{p}.</summary>
public static class SpfMacro
{
    private const string Delimiters = ".-+,/_=";

    /// <summary>Whether text is a valid macro-string; c, r and t are allowed only in explanations (7.1).</summary>
    public static bool IsValidMacroString(string text, bool explanation)
    {
        for (var i = 0; i < text.Length; i++)
        {
            var c = text[i];
            if (c != '%')
            {
                if (c < 0x21 && !(explanation && c == ' ') || c > 0x7e) return false;
                continue;
            }
            if (i + 1 >= text.Length) return false;
            var n = text[++i];
            if (n is '%' or '_' or '-') continue;
            if (n != '{') return false;
            var close = text.IndexOf('}', i);
            if (close < 0 || !IsValidMacro(text[(i + 1)..close], explanation)) return false;
            i = close;
        }
        return true;
    }

    private static bool IsValidMacro(string body, bool explanation)
    {
        if (body.Length == 0) return false;
        var letter = char.ToLowerInvariant(body[0]);
        if (!"slodiphv".Contains(letter) && !(explanation && "crt".Contains(letter))) return false;
        var i = 1;
        var digits = 0;
        while (i < body.Length && char.IsAsciiDigit(body[i])) { i++; digits++; }
        // A DIGIT transformer must be nonzero (7.1).
        if (digits > 0 && int.TryParse(body.AsSpan(1, digits), CultureInfo.InvariantCulture, out var keep) && keep == 0) return false;
        if (i < body.Length && (body[i] == 'r' || body[i] == 'R')) i++;
        for (; i < body.Length; i++)
        {
            if (!Delimiters.Contains(body[i])) return false;
        }
        return true;
    }

    /// <summary>Expands a macro string already checked valid. <paramref name="validatedName"/> gives %{p}.</summary>
    public static async Task<string> ExpandAsync(string text, SpfMacroContext ctx, Func<Task<string>> validatedName, bool explanation)
    {
        var sb = new StringBuilder();
        for (var i = 0; i < text.Length; i++)
        {
            var c = text[i];
            if (c != '%') { sb.Append(c); continue; }
            var n = text[++i];
            switch (n)
            {
                case '%': sb.Append('%'); continue;
                case '_': sb.Append(' '); continue;
                case '-': sb.Append("%20"); continue;
            }
            var close = text.IndexOf('}', i);
            var body = text[(i + 1)..close];
            i = close;
            var letter = body[0];
            var value = char.ToLowerInvariant(letter) switch
            {
                's' => ctx.Sender,
                'l' => ctx.LocalPart,
                'o' => ctx.SenderDomain,
                'd' => ctx.Domain,
                'i' => DottedIp(ctx.Ip),
                'p' => await validatedName(),
                'v' => ctx.Ip.AddressFamily == AddressFamily.InterNetworkV6 ? "ip6" : "in-addr",
                'h' => ctx.Helo,
                'c' => ctx.Ip.ToString(),
                'r' => ctx.Receiver,
                't' => ctx.Now.ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture),
                _ => "",
            };
            var j = 1;
            while (j < body.Length && char.IsAsciiDigit(body[j])) j++;
            var keep = j > 1 ? int.Parse(body.AsSpan(1, j - 1), CultureInfo.InvariantCulture) : 0;
            var reverse = j < body.Length && body[j] is 'r' or 'R';
            if (reverse) j++;
            var delimiters = j < body.Length ? body[j..].ToCharArray() : ['.'];
            if (keep > 0 || reverse || j < body.Length)
            {
                var parts = value.Split(delimiters).ToList();
                if (reverse) parts.Reverse();
                if (keep > 0 && keep < parts.Count) parts = parts.GetRange(parts.Count - keep, keep);
                value = string.Join('.', parts);
            }
            // An uppercase macro letter URL-escapes the value (7.3).
            if (char.IsAsciiLetterUpper(letter)) value = UrlEscape(value);
            sb.Append(value);
        }
        return sb.ToString();
    }

    /// <summary>%{i}: dotted quad, or for IPv6 32 dot-separated hex nibbles (7.3).</summary>
    private static string DottedIp(IPAddress ip)
    {
        if (ip.AddressFamily != AddressFamily.InterNetworkV6) return ip.ToString();
        var hex = Convert.ToHexStringLower(ip.GetAddressBytes());
        return string.Join('.', hex.ToCharArray());
    }

    private static string UrlEscape(string value)
    {
        var sb = new StringBuilder();
        foreach (var b in Encoding.UTF8.GetBytes(value))
        {
            var ch = (char)b;
            if (char.IsAsciiLetterOrDigit(ch) || ch is '-' or '.' or '_' or '~') sb.Append(ch);
            else sb.Append('%').Append(b.ToString("X2", CultureInfo.InvariantCulture));
        }
        return sb.ToString();
    }
}

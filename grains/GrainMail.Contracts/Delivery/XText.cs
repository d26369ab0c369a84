using System.Text;

namespace GrainMail.Contracts.Delivery;

/// <summary>
/// RFC 3461 4 xtext, the encoding of ENVID, ORCPT and AUTH= values: printable ASCII except
/// "+" and "=", which (like anything else) travel as "+" and two upper-case hex digits.
/// </summary>
public static class XText
{
    /// <summary>The decoded text; null when <paramref name="xtext"/> is not valid xtext.</summary>
    public static string? Decode(string xtext)
    {
        var bytes = new List<byte>(xtext.Length);
        for (var i = 0; i < xtext.Length; i++)
        {
            var c = xtext[i];
            if (c == '+')
            {
                if (i + 2 >= xtext.Length) return null;
                if (!IsUpperHex(xtext[i + 1]) || !IsUpperHex(xtext[i + 2])) return null;
                bytes.Add((byte)(HexValue(xtext[i + 1]) * 16 + HexValue(xtext[i + 2])));
                i += 2;
            }
            else if (c is >= '!' and <= '~' and not '=')
            {
                bytes.Add((byte)c);
            }
            else
            {
                return null;
            }
        }
        // The hex escapes may carry UTF-8 (RFC 6533 utf-8-addr-xtext); anything else is refused.
        try
        {
            return new UTF8Encoding(false, throwOnInvalidBytes: true).GetString(bytes.ToArray());
        }
        catch (DecoderFallbackException)
        {
            return null;
        }
    }

    /// <summary>Encodes <paramref name="text"/> (as UTF-8) as xtext.</summary>
    public static string Encode(string text)
    {
        var b = new StringBuilder(text.Length);
        foreach (var octet in Encoding.UTF8.GetBytes(text))
        {
            if (octet is >= (byte)'!' and <= (byte)'~' and not (byte)'+' and not (byte)'=') b.Append((char)octet);
            else b.Append('+').Append(octet.ToString("X2", System.Globalization.CultureInfo.InvariantCulture));
        }
        return b.ToString();
    }

    private static bool IsUpperHex(char c) => c is >= '0' and <= '9' or >= 'A' and <= 'F';

    private static int HexValue(char c) => c <= '9' ? c - '0' : c - 'A' + 10;
}

using MimeKit;

namespace GrainMail.Sieve;

/// <summary>Address handling of RFC 5228 2.7.4 and subaddress (RFC 5233, separator '+').</summary>
public static class SieveAddresses
{
    public const char DetailSeparator = '+';

    /// <summary>A single bare mailbox (local@domain) as redirect and vacation take.</summary>
    public static bool IsValidMailbox(string s)
    {
        if (string.IsNullOrWhiteSpace(s) || s.Length > 320) return false;
        if (!MailboxAddress.TryParse(s, out var m) || m.Address is not { } a) return false;
        var at = a.LastIndexOf('@');
        return at > 0 && at < a.Length - 1 && !a.Any(char.IsWhiteSpace);
    }

    /// <summary>The part of <paramref name="address"/> a test asks for; null when it has none (no detail).</summary>
    public static string? Part(string address, string part)
    {
        var at = address.LastIndexOf('@');
        var local = at < 0 ? address : address[..at];
        var domain = at < 0 ? "" : address[(at + 1)..];
        var plus = local.IndexOf(DetailSeparator);
        return part switch
        {
            "localpart" => local,
            "domain" => domain,
            "user" => plus < 0 ? local : local[..plus],
            // RFC 5233 4: no separator, no detail: the test fails for this address.
            "detail" => plus < 0 ? null : local[(plus + 1)..],
            _ => address,
        };
    }

    /// <summary>The mailbox addresses of a header value (groups flattened); nothing when it does not parse.</summary>
    public static IEnumerable<string> Parse(string headerValue)
    {
        if (!InternetAddressList.TryParse(headerValue, out var list)) yield break;
        foreach (var m in list.Mailboxes) if (!string.IsNullOrEmpty(m.Address)) yield return m.Address;
    }
}

/// <summary>Script names (RFC 5804 1.6): 1 to 128 characters, no control characters.</summary>
public static class SieveScriptNames
{
    public const int MaxLength = 128;

    public static bool IsValid(string name) =>
        name.Length is > 0 and <= MaxLength && !name.Any(c => char.IsControl(c) || c is '\u2028' or '\u2029') && !name.Contains('/');
}

using System.Text;

namespace GrainMail.Contracts;

/// <summary>
/// Syntax rules for the addresses and domain names GrainMail hosts. Kept deliberately
/// stricter than RFC 5321 allows for remote addresses: these are names an administrator
/// creates, so quoted local parts and address literals are refused.
/// </summary>
public static class MailAddress
{
    public const int MaxLocalPartLength = 64;
    public const int MaxDomainLength = DomainName.MaxLength;

    /// <summary>The A-label form of a domain (UTS 46 and IDNA2008, see <see cref="DomainName"/>); null when it is not a valid host name.</summary>
    public static string? NormalizeDomain(string? domain) => DomainName.TryParse(domain, out var name, out _) ? name.Ascii : null;

    /// <summary>
    /// Lower-cases a local part made of RFC 5322 dot-atom characters (UTF-8 letters allowed
    /// for SMTPUTF8 mailboxes), in Unicode NFC so that a composed and a decomposed spelling of one
    /// name (é as U+00E9 or as e + U+0301) are one mailbox; null when it is not one.
    /// </summary>
    public static string? NormalizeLocalPart(string? localPart)
    {
        if (string.IsNullOrEmpty(localPart)) return null;
        var lp = GrainMail.Text.UnicodeNormalization.ToNfc(localPart.Trim()).ToLowerInvariant();
        if (lp.Length is 0 || Encoding.UTF8.GetByteCount(lp) > MaxLocalPartLength) return null;
        if (lp[0] == '.' || lp[^1] == '.' || lp.Contains("..", StringComparison.Ordinal)) return null;
        foreach (var c in lp)
        {
            if (c < 0x80)
            {
                if (!(char.IsAsciiLetterOrDigit(c) || "!#$%&'*+-/=?^_`{|}~.".Contains(c))) return null;
            }
            else if (char.IsControl(c) || char.IsWhiteSpace(c))
            {
                return null;
            }
        }
        return lp;
    }

    /// <summary>Splits and normalises <c>local@domain</c>; false when either half is invalid.</summary>
    public static bool TryParse(string? address, out string localPart, out string domain)
    {
        localPart = domain = "";
        if (string.IsNullOrWhiteSpace(address)) return false;
        var at = address.LastIndexOf('@');
        if (at <= 0 || at == address.Length - 1) return false;
        var lp = NormalizeLocalPart(address[..at]);
        var d = NormalizeDomain(address[(at + 1)..]);
        if (lp is null || d is null) return false;
        localPart = lp;
        domain = d;
        return true;
    }

    /// <summary>The normalised form of an address, or null when it is not valid.</summary>
    public static string? Normalize(string? address) =>
        TryParse(address, out var lp, out var d) ? $"{lp}@{d}" : null;

    public static string DomainOf(string normalizedAddress) =>
        normalizedAddress[(normalizedAddress.LastIndexOf('@') + 1)..];

    public static string LocalPartOf(string normalizedAddress) =>
        normalizedAddress[..normalizedAddress.LastIndexOf('@')];
}

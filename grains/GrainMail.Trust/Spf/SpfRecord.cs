using System.Net;

namespace GrainMail.Trust.Spf;

/// <summary>A mechanism's qualifier (RFC 7208 4.6.2); it is the result when the mechanism matches.</summary>
public enum SpfQualifier { Pass, Fail, SoftFail, Neutral }

public enum SpfMechanismKind { All, Include, A, Mx, Ptr, Ip4, Ip6, Exists }

/// <summary>One directive: qualifier, mechanism, its domain-spec (unexpanded macro string, null when absent)
/// or network, and the CIDR lengths for a/mx/ip4/ip6.</summary>
public sealed record SpfDirective(SpfQualifier Qualifier, SpfMechanismKind Kind, string? DomainSpec, IPAddress? Network, int Cidr4, int Cidr6, string Text);

/// <summary>A parsed SPF record: its directives in order and the redirect and exp modifiers.</summary>
public sealed record SpfRecord(IReadOnlyList<SpfDirective> Directives, string? Redirect, string? Explanation);

/// <summary>Parses "v=spf1 ..." text (RFC 7208 4.6 and 12). Pure: any syntax error anywhere is a permerror
/// before any mechanism is evaluated (4.6).</summary>
public static partial class SpfRecordParser
{
    [System.Text.RegularExpressions.GeneratedRegex(@"(/[0-9]+)?(//[0-9]+)?$")]
    private static partial System.Text.RegularExpressions.Regex TrailingCidr();

    /// <summary>Whether a TXT string is an SPF version 1 record: "v=spf1" then a space or the end (4.5).</summary>
    public static bool IsSpf1(string txt) =>
        txt.StartsWith("v=spf1", StringComparison.OrdinalIgnoreCase) && (txt.Length == 6 || txt[6] == ' ');

    public static SpfRecord? TryParse(string text, out string error)
    {
        error = "";
        // Only US-ASCII printable characters and spaces (3.1, 12: terms are separated by SP only).
        foreach (var c in text)
        {
            if (c < 0x20 || c > 0x7e) { error = "the record holds a character that is not printable US-ASCII"; return null; }
        }
        var directives = new List<SpfDirective>();
        string? redirect = null, exp = null;
        foreach (var term in text[6..].Split(' ', StringSplitOptions.RemoveEmptyEntries))
        {
            var eq = term.IndexOf('=');
            var colonOrSlash = term.IndexOfAny([':', '/']);
            if (eq > 0 && (colonOrSlash < 0 || eq < colonOrSlash) && IsModifierName(term[..eq]))
            {
                var name = term[..eq].ToLowerInvariant();
                var value = term[(eq + 1)..];
                if (!SpfMacro.IsValidMacroString(value, false)) { error = $"bad macro string in {term}"; return null; }
                if (name == "redirect")
                {
                    if (redirect is not null) { error = "redirect appears twice"; return null; }
                    if (!IsDomainSpec(value)) { error = $"bad domain in {term}"; return null; }
                    redirect = value;
                }
                else if (name == "exp")
                {
                    if (exp is not null) { error = "exp appears twice"; return null; }
                    if (!IsDomainSpec(value)) { error = $"bad domain in {term}"; return null; }
                    exp = value;
                }
                // Other modifiers are ignored (6).
                continue;
            }
            var directive = ParseDirective(term, out error);
            if (directive is null) return null;
            directives.Add(directive);
        }
        return new SpfRecord(directives, redirect, exp);
    }

    private static bool IsModifierName(string name) =>
        name.Length > 0 && char.IsAsciiLetter(name[0]) && name.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.');

    private static SpfDirective? ParseDirective(string term, out string error)
    {
        error = "";
        var qualifier = SpfQualifier.Pass;
        var rest = term;
        switch (term[0])
        {
            case '+': qualifier = SpfQualifier.Pass; rest = term[1..]; break;
            case '-': qualifier = SpfQualifier.Fail; rest = term[1..]; break;
            case '~': qualifier = SpfQualifier.SoftFail; rest = term[1..]; break;
            case '?': qualifier = SpfQualifier.Neutral; rest = term[1..]; break;
        }
        var nameEnd = rest.IndexOfAny([':', '/']);
        var name = (nameEnd < 0 ? rest : rest[..nameEnd]).ToLowerInvariant();
        var arg = nameEnd < 0 ? "" : rest[nameEnd..];
        SpfDirective Make(SpfMechanismKind kind, string? spec, IPAddress? net = null, int c4 = 32, int c6 = 128) =>
            new(qualifier, kind, spec, net, c4, c6, term);

        switch (name)
        {
            case "all":
                if (arg.Length > 0) break;
                return Make(SpfMechanismKind.All, null);
            case "include":
            case "exists":
                {
                    if (!arg.StartsWith(':') || !IsDomainSpec(arg[1..])) break;
                    return Make(name == "include" ? SpfMechanismKind.Include : SpfMechanismKind.Exists, arg[1..]);
                }
            case "ptr":
                {
                    if (arg.Length == 0) return Make(SpfMechanismKind.Ptr, null);
                    if (!arg.StartsWith(':') || !IsDomainSpec(arg[1..])) break;
                    return Make(SpfMechanismKind.Ptr, arg[1..]);
                }
            case "a":
            case "mx":
                {
                    var kind = name == "a" ? SpfMechanismKind.A : SpfMechanismKind.Mx;
                    string? spec = null;
                    var cidrText = arg;
                    if (arg.StartsWith(':'))
                    {
                        // The dual-cidr is a suffix of digits after "/" or "//"; a "/" inside the name is
                        // part of the domain-spec (macro-literal allows it).
                        var cidr = TrailingCidr().Match(arg);
                        spec = arg[1..cidr.Index];
                        cidrText = cidr.Value;
                        if (!IsDomainSpec(spec)) break;
                    }
                    if (!TryDualCidr(cidrText, out var c4, out var c6)) break;
                    return Make(kind, spec, null, c4, c6);
                }
            case "ip4":
            case "ip6":
                {
                    if (!arg.StartsWith(':')) break;
                    var body = arg[1..];
                    var slash = body.IndexOf('/');
                    var addrText = slash < 0 ? body : body[..slash];
                    var v6 = name == "ip6";
                    if (!IPAddress.TryParse(addrText, out var net)) break;
                    if (v6 != (net.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6)) break;
                    // ip4 takes dotted-quad only (IPAddress accepts "1.2" and the like).
                    if (!v6 && addrText.Split('.').Length != 4) break;
                    var max = v6 ? 128 : 32;
                    var len = max;
                    if (slash >= 0 && !TryCidr(body[(slash + 1)..], max, out len)) break;
                    return v6 ? Make(SpfMechanismKind.Ip6, null, net, 32, len) : Make(SpfMechanismKind.Ip4, null, net, len, 128);
                }
            default:
                error = $"unknown mechanism {term}";
                return null;
        }
        error = $"bad syntax in {term}";
        return null;
    }

    /// <summary>dual-cidr-length = [ ip4-cidr-length ] [ "/" ip6-cidr-length ] (5.6).</summary>
    private static bool TryDualCidr(string text, out int c4, out int c6)
    {
        c4 = 32; c6 = 128;
        if (text.Length == 0) return true;
        if (!text.StartsWith('/')) return false;
        var rest = text[1..];
        var dbl = rest.IndexOf("//", StringComparison.Ordinal);
        if (rest.StartsWith('/')) return TryCidr(rest[1..], 128, out c6);
        if (dbl < 0) return TryCidr(rest, 32, out c4);
        return TryCidr(rest[..dbl], 32, out c4) && TryCidr(rest[(dbl + 2)..], 128, out c6);
    }

    /// <summary>A CIDR length: digits without a leading zero (except "0"), at most the address size.</summary>
    private static bool TryCidr(string text, int max, out int len)
    {
        len = 0;
        if (text.Length == 0 || text.Length > 3 || !text.All(char.IsAsciiDigit)) return false;
        if (text.Length > 1 && text[0] == '0') return false;
        len = int.Parse(text, System.Globalization.CultureInfo.InvariantCulture);
        return len <= max;
    }

    /// <summary>domain-spec = macro-string domain-end (7.1): a valid macro string whose last label is a
    /// macro or a top label (letters, digits and hyphens, not all digits).</summary>
    public static bool IsDomainSpec(string spec)
    {
        if (spec.Length == 0 || !SpfMacro.IsValidMacroString(spec, false)) return false;
        var trimmed = spec.EndsWith('.') ? spec[..^1] : spec;
        if (trimmed.EndsWith('}')) return true;
        var dot = trimmed.LastIndexOf('.');
        if (dot < 0) return false;
        var top = trimmed[(dot + 1)..];
        return top.Length > 0 && top.All(c => char.IsAsciiLetterOrDigit(c) || c == '-') && !top.All(char.IsAsciiDigit)
            && top[0] != '-' && top[^1] != '-';
    }
}

using System.Text;
using GrainMail.Trust.Dkim;
using GrainMail.Trust.Dmarc;
using GrainMail.Trust.Spf;
using MimeKit;

namespace GrainMail.Trust.Results;

/// <summary>Everything checked for one inbound message.</summary>
public sealed record InboundVerdicts(SpfCheck? MailFrom, SpfCheck? Helo, IReadOnlyList<DkimSignatureVerdict> Dkim, DmarcVerdict? Dmarc, ArcVerdict? Arc);

/// <summary>The Authentication-Results header (RFC 8601) under our authserv-id, and removal of forged ones.</summary>
public static class AuthenticationResults
{
    public const string HeaderName = "Authentication-Results";

    /// <summary>The header's value: "authserv-id; method=result ptype.property=value; ..." (RFC 8601 2.2).</summary>
    public static string Format(string authservId, InboundVerdicts v)
    {
        var parts = new List<string>();
        if (v.MailFrom is { } mf)
            parts.Add($"spf={Lower(mf.Verdict.Result)} smtp.mailfrom={Value(mf.Sender)}");
        else if (v.Helo is { } helo)
            parts.Add($"spf={Lower(helo.Verdict.Result)} smtp.helo={Value(helo.Domain)}");
        if (v.Dkim.Count == 0) parts.Add("dkim=none");
        foreach (var d in v.Dkim)
            parts.Add($"dkim={Lower(d.Result)} header.d={Value(d.Domain)} header.s={Value(d.Selector)} header.a={Value(d.Algorithm)} header.b={Value(d.SignaturePrefix)}");
        if (v.Dmarc is { } dm)
            parts.Add($"dmarc={Lower(dm.Result)}" + (dm.PublishedPolicy is { } p ? $" policy.dmarc={Lower(p)}" : "") + $" header.from={Value(dm.FromDomain)}");
        if (v.Arc is { } arc) parts.Add($"arc={Lower(arc.Result)}");
        return parts.Count == 0 ? $"{authservId}; none" : $"{authservId};\r\n\t" + string.Join(";\r\n\t", parts);
    }

    /// <summary>Prepends our header to the message.</summary>
    public static void Prepend(MimeMessage message, string authservId, InboundVerdicts verdicts) =>
        message.Headers.Insert(0, new Header(HeaderName, Format(authservId, verdicts)));

    /// <summary>Removes incoming Authentication-Results headers that claim our authserv-id (RFC 8601 5):
    /// only we may say what we checked. Others' headers stay. Returns how many were removed.</summary>
    public static int RemoveForged(MimeMessage message, string authservId)
    {
        var forged = message.Headers.Where(h => h.Id == HeaderId.AuthenticationResults && ClaimsId(h.Value, authservId)).ToList();
        foreach (var h in forged) message.Headers.Remove(h);
        return forged.Count;
    }

    /// <summary>Whether a header value's authserv-id (the first token, after comments) is ours, case-blind.</summary>
    public static bool ClaimsId(string value, string authservId)
    {
        var text = StripComments(value).Trim();
        var end = text.IndexOfAny([';', ' ', '\t', '\r', '\n']);
        var id = (end < 0 ? text : text[..end]).Trim();
        return id.Equals(authservId, StringComparison.OrdinalIgnoreCase);
    }

    private static string StripComments(string value)
    {
        var sb = new StringBuilder();
        var depth = 0;
        foreach (var c in value)
        {
            if (c == '(') depth++;
            else if (c == ')' && depth > 0) depth--;
            else if (depth == 0) sb.Append(c);
        }
        return sb.ToString();
    }

    private static string Lower<T>(T value) where T : struct, Enum => LowerNames<T>.Of(value);

    /// <summary>Each value of an enum in lower case, made once (the header is written for every MX message).</summary>
    private static class LowerNames<T> where T : struct, Enum
    {
        private static readonly Dictionary<T, string> Names = Enum.GetValues<T>().Distinct().ToDictionary(v => v, v => v.ToString().ToLowerInvariant());

        public static string Of(T value) => Names.TryGetValue(value, out var name) ? name : value.ToString().ToLowerInvariant();
    }

    /// <summary>A value is a token or a quoted string (RFC 8601 2.2, RFC 2045 token).</summary>
    private static string Value(string v) =>
        v.Length > 0 && !v.AsSpan().ContainsAnyExcept(TokenChars) ? v
            : v.Contains('@') && !HasWhiteSpace(v) && !v.Contains('"') ? v
            : "\"" + v.Replace("\\", "\\\\").Replace("\"", "\\\"") + "\"";

    // The characters of an RFC 2045 token: printable ASCII but the specials.
    private static readonly System.Buffers.SearchValues<char> TokenChars = System.Buffers.SearchValues.Create(
        Enumerable.Range(0x21, 0x7f - 0x21).Select(c => (char)c).Where(c => !"()<>,;:\\\"/[]?=".Contains(c)).ToArray());

    private static bool HasWhiteSpace(string v)
    {
        foreach (var c in v)
            if (char.IsWhiteSpace(c)) return true;
        return false;
    }
}

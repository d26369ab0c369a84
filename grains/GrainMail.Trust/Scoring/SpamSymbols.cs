namespace GrainMail.Trust.Scoring;

/// <summary>One piece of evidence and what it adds to the score (negative: evidence of a good sender).</summary>
public sealed record Symbol(string Name, double Weight, string? Detail = null);

/// <summary>
/// The named symbols the checks produce and their default weights. A domain's policy may give any of
/// them (and any blocklist symbol) another weight. The defaults are chosen so that authentication
/// failures alone send mail to Junk at most, and a single blocklist listing never rejects.
/// </summary>
public static class SpamSymbols
{
    public static readonly IReadOnlyDictionary<string, double> Defaults = new Dictionary<string, double>(StringComparer.Ordinal)
    {
        ["SPF_PASS"] = -0.5,
        ["SPF_FAIL"] = 3,
        ["SPF_SOFTFAIL"] = 1,
        ["SPF_NEUTRAL"] = 0,
        ["SPF_NONE"] = 0.5,
        ["SPF_TEMPERROR"] = 0,
        ["SPF_PERMERROR"] = 0.5,
        ["SPF_HELO_PASS"] = 0,
        ["SPF_HELO_FAIL"] = 1,
        ["SPF_HELO_SOFTFAIL"] = 0.5,
        ["DKIM_PASS"] = -0.5,
        ["DKIM_FAIL"] = 2,
        ["DKIM_NONE"] = 0,
        ["DKIM_TEMPERROR"] = 0,
        ["DKIM_PERMERROR"] = 0.5,
        ["DMARC_PASS"] = -1,
        ["DMARC_FAIL"] = 3,
        ["DMARC_NONE"] = 0,
        ["DMARC_TEMPERROR"] = 0,
        ["DMARC_PERMERROR"] = 0.5,
        ["ARC_PASS"] = 0,
        ["ARC_FAIL"] = 1,
        ["FROM_INVALID"] = 2,
    };

    /// <summary>The symbol of a listing in a DNS blocklist for the connecting IP: RBL_ and the zone.</summary>
    public static string Blocklist(string zone) => "RBL_" + Name(zone);

    /// <summary>The symbol of a linked domain listed in a URI blocklist: URIBL_ and the zone.</summary>
    public static string UriBlocklist(string zone) => "URIBL_" + Name(zone);

    /// <summary>A blocklist that gave an error: noted with weight 0, never counted as a listing.</summary>
    public static string BlocklistError(string symbol) => symbol + "_ERROR";

    private static string Name(string zone) =>
        new(zone.ToUpperInvariant().Select(c => char.IsAsciiLetterOrDigit(c) ? c : '_').ToArray());
}

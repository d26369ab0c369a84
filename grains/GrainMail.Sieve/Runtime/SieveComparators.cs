namespace GrainMail.Sieve;

/// <summary>
/// Comparators (RFC 4790, RFC 5228 2.7.3): i;octet and i;ascii-casemap are always there;
/// i;ascii-numeric and i;unicode-casemap (RFC 5051) need their "comparator-" require.
/// </summary>
public static class SieveComparators
{
    public const string Octet = "i;octet";
    public const string AsciiCasemap = "i;ascii-casemap";
    public const string AsciiNumeric = "i;ascii-numeric";
    public const string UnicodeCasemap = "i;unicode-casemap";

    public static bool IsKnown(string name) => name is Octet or AsciiCasemap or AsciiNumeric or UnicodeCasemap;

    public static bool IsBuiltIn(string name) => name is Octet or AsciiCasemap;

    /// <summary>The string a comparator actually compares: case folded for the casemaps.</summary>
    public static string Canonical(string comparator, string s) => comparator switch
    {
        AsciiCasemap => AsciiUpper(s),
        UnicodeCasemap => s.ToUpperInvariant(),
        _ => s,
    };

    private static string AsciiUpper(string s)
    {
        var any = false;
        foreach (var c in s) if (c is >= 'a' and <= 'z') { any = true; break; }
        if (!any) return s;
        return string.Create(s.Length, s, (span, src) =>
        {
            for (var i = 0; i < src.Length; i++) span[i] = src[i] is >= 'a' and <= 'z' ? (char)(src[i] - 32) : src[i];
        });
    }

    /// <summary>Ordering under the comparator (for :value and :count, RFC 5231).</summary>
    public static int Compare(string comparator, string a, string b)
    {
        if (comparator == AsciiNumeric)
        {
            // RFC 4790 9.1: the leading digits as a number; a string without them is positive infinity.
            var x = Numeric(a);
            var y = Numeric(b);
            if (x is null && y is null) return 0;
            if (x is null) return 1;
            if (y is null) return -1;
            return x.Value.CompareTo(y.Value);
        }
        return string.CompareOrdinal(Canonical(comparator, a), Canonical(comparator, b));
    }

    private static System.Numerics.BigInteger? Numeric(string s)
    {
        var n = 0;
        while (n < s.Length && char.IsAsciiDigit(s[n])) n++;
        return n == 0 ? null : System.Numerics.BigInteger.Parse(s.AsSpan(0, n));
    }

    public static bool AreEqual(string comparator, string a, string b) =>
        comparator == AsciiNumeric ? Compare(comparator, a, b) == 0 : string.Equals(Canonical(comparator, a), Canonical(comparator, b), StringComparison.Ordinal);

    public static bool Contains(string comparator, string value, string key) =>
        comparator != AsciiNumeric && Canonical(comparator, value).Contains(Canonical(comparator, key), StringComparison.Ordinal);

    /// <summary>
    /// RFC 5228 2.7.1 wildcards: <c>*</c> any sequence, <c>?</c> one character, <c>\</c> quotes the
    /// next. The texts the wildcards took go to <paramref name="captures"/> (RFC 5229 3.2: each as
    /// short as the match allows, left to right). Failed (pattern, text) positions are remembered,
    /// so the cost is bounded by their product, never exponential.
    /// </summary>
    public static bool Matches(string comparator, string value, string pattern, List<string>? captures)
    {
        if (comparator == AsciiNumeric) return false;
        // Tokens of the pattern: a literal char (already case-folded), '*' or '?' wildcards.
        var tokens = new List<(char Char, int Kind)>();
        for (var i = 0; i < pattern.Length; i++)
        {
            var c = pattern[i];
            if (c == '\\' && i + 1 < pattern.Length) tokens.Add((pattern[++i], 0));
            else if (c == '*') tokens.Add(('*', 1));
            else if (c == '?') tokens.Add(('?', 2));
            else tokens.Add((c, 0));
        }
        var folded = Canonical(comparator, value);
        var literals = tokens.Select(t => t.Kind == 0 ? Canonical(comparator, t.Char.ToString())[0] : t.Char).ToArray();
        var failed = new HashSet<(int, int)>();
        var spans = new List<(int Start, int Length)>();
        if (!Match(0, 0)) return false;
        if (captures is not null)
        {
            captures.Clear();
            captures.Add(value);
            foreach (var (start, length) in spans) captures.Add(value.Substring(start, length));
        }
        return true;

        bool Match(int p, int s)
        {
            if (p == tokens.Count) return s == folded.Length;
            if (failed.Contains((p, s))) return false;
            var kind = tokens[p].Kind;
            if (kind == 1)
            {
                for (var len = 0; s + len <= folded.Length; len++)
                {
                    spans.Add((s, len));
                    if (Match(p + 1, s + len)) return true;
                    spans.RemoveAt(spans.Count - 1);
                }
            }
            else if (s < folded.Length)
            {
                if (kind == 2)
                {
                    spans.Add((s, 1));
                    if (Match(p + 1, s + 1)) return true;
                    spans.RemoveAt(spans.Count - 1);
                }
                else if (folded[s] == literals[p] && Match(p + 1, s + 1)) return true;
            }
            failed.Add((p, s));
            return false;
        }
    }

    /// <summary>A relational operator of RFC 5231 applied to a comparison result.</summary>
    public static bool Relation(string op, int comparison) => op.ToLowerInvariant() switch
    {
        "gt" => comparison > 0,
        "ge" => comparison >= 0,
        "lt" => comparison < 0,
        "le" => comparison <= 0,
        "eq" => comparison == 0,
        "ne" => comparison != 0,
        _ => false,
    };
}

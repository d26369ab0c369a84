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
    /// short as the match allows, left to right). At most pattern length × text length steps, never
    /// exponential, whatever the pattern.
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
        // Classic glob matching: on a mismatch only the last '*' seen grows by one. Earlier stars keep
        // the shortest text that lets the rest match; at most pattern × text steps.
        var n = tokens.Count;
        var pos = new int[n + 1];
        int p = 0, s = 0, star = -1, mark = 0;
        while (s < folded.Length)
        {
            if (p < n && tokens[p].Kind == 1) { pos[p] = s; star = p; mark = s; p++; }
            else if (p < n && (tokens[p].Kind == 2 || folded[s] == literals[p])) { pos[p] = s; p++; s++; }
            else if (star >= 0) { p = star + 1; s = ++mark; }
            else return false;
        }
        while (p < n && tokens[p].Kind == 1) { pos[p] = s; p++; }
        if (p != n) return false;
        pos[n] = folded.Length;
        if (captures is not null)
        {
            captures.Clear();
            captures.Add(value);
            for (var k = 0; k < n; k++)
            {
                if (tokens[k].Kind == 1) captures.Add(value[pos[k]..pos[k + 1]]);
                else if (tokens[k].Kind == 2) captures.Add(value.Substring(pos[k], 1));
            }
        }
        return true;
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

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
        UnicodeCasemap => UnicodeCasemapFold(s),
        _ => s,
    };

    /// <summary>
    /// RFC 5051 2: each code point to its titlecase (simple mapping), then the whole string to NFKD,
    /// so that "é" and "E" + U+0301, or fullwidth "Ａ" and "a", compare equal. Letters that only a
    /// compatibility decomposition produces (the "fi" of the ligature "ﬁ") are titlecased too, so the
    /// fold is the same whatever spelling came in. .NET has no per-character titlecase; it equals the
    /// uppercase except for the DŽ/Dž/dž, LJ/Lj/lj, NJ/Nj/nj and DZ/Dz/dz digraphs, whose titlecase forms
    /// are the middle letter of each triple.
    /// </summary>
    public static string UnicodeCasemapFold(string s)
    {
        var titled = Titlecase(s);
        var decomposed = TryNormalize(titled);
        return ReferenceEquals(decomposed, titled) || decomposed == titled ? titled : Titlecase(decomposed);
    }

    private static string Titlecase(string s)
    {
        var b = new System.Text.StringBuilder(s.Length);
        foreach (var rune in s.EnumerateRunes())
        {
            var v = rune.Value;
            if (v is >= 0x01C4 and <= 0x01CC) b.Append((char)(0x01C5 + (v - 0x01C4) / 3 * 3));
            else if (v is >= 0x01F1 and <= 0x01F3) b.Append('\u01F2');
            else b.Append(System.Text.Rune.ToUpperInvariant(rune).ToString());
        }
        return b.ToString();
    }

    /// <summary>NFKD from GrainMail's own Unicode tables (string.Normalize does nothing under InvariantGlobalization);
    /// unpaired surrogates pass through.</summary>
    private static string TryNormalize(string s) => GrainMail.Text.UnicodeNormalization.ToNfkd(s);

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
    /// exponential, whatever the pattern. Under i;unicode-casemap a "character" is a text element
    /// (a base and its combining marks), compared in its RFC 5051 form, so that a precomposed letter
    /// and its decomposed spelling are the same one character.
    /// </summary>
    public static bool Matches(string comparator, string value, string pattern, List<string>? captures)
    {
        if (comparator == AsciiNumeric) return false;
        var (units, starts) = Units(comparator, value);
        // Tokens of the pattern: a literal (already folded), '*' or '?' wildcards.
        var tokens = new List<(string Text, int Kind)>();
        var (pu, _) = Units(Octet, pattern, comparator == UnicodeCasemap);
        for (var i = 0; i < pu.Length; i++)
        {
            var c = pu[i];
            if (c == "\\" && i + 1 < pu.Length) tokens.Add((Canonical(comparator, pu[++i]), 0));
            else if (c == "*") tokens.Add(("*", 1));
            else if (c == "?") tokens.Add(("?", 2));
            else tokens.Add((Canonical(comparator, c), 0));
        }
        // Classic glob matching: on a mismatch only the last '*' seen grows by one. Earlier stars keep
        // the shortest text that lets the rest match; at most pattern × text steps.
        var n = tokens.Count;
        var pos = new int[n + 1];
        int p = 0, s = 0, star = -1, mark = 0;
        while (s < units.Length)
        {
            if (p < n && tokens[p].Kind == 1) { pos[p] = s; star = p; mark = s; p++; }
            else if (p < n && (tokens[p].Kind == 2 || (tokens[p].Kind == 0 && units[s] == tokens[p].Text))) { pos[p] = s; p++; s++; }
            else if (star >= 0) { p = star + 1; s = ++mark; }
            else return false;
        }
        while (p < n && tokens[p].Kind == 1) { pos[p] = s; p++; }
        if (p != n) return false;
        pos[n] = units.Length;
        if (captures is not null)
        {
            captures.Clear();
            captures.Add(value);
            for (var k = 0; k < n; k++)
            {
                if (tokens[k].Kind == 0) continue;
                captures.Add(value[starts[pos[k]]..starts[pos[k + 1]]]);
            }
        }
        return true;
    }

    /// <summary>
    /// The text as the matcher's characters, folded under the comparator, and where each starts in
    /// the original (one more entry: the end). UTF-16 units, or text elements for i;unicode-casemap.
    /// </summary>
    private static (string[] Units, int[] Starts) Units(string comparator, string text, bool textElements = false)
    {
        var units = new List<string>(text.Length);
        var starts = new List<int>(text.Length + 1);
        if (comparator == UnicodeCasemap || textElements)
        {
            var e = System.Globalization.StringInfo.GetTextElementEnumerator(text);
            while (e.MoveNext())
            {
                starts.Add(e.ElementIndex);
                units.Add(Canonical(comparator, e.GetTextElement()));
            }
        }
        else
        {
            var folded = Canonical(comparator, text);
            for (var i = 0; i < folded.Length; i++)
            {
                starts.Add(i);
                units.Add(folded[i].ToString());
            }
        }
        starts.Add(text.Length);
        return ([.. units], [.. starts]);
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

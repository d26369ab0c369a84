using System.Collections.Concurrent;
using System.Text;
using System.Text.RegularExpressions;

namespace GrainMail.Sieve;

/// <summary>
/// The <c>:regex</c> match type (draft-ietf-sieve-regex): POSIX extended regular expressions, run by
/// .NET's non-backtracking engine, so a user's pattern costs time linear in the text whatever its
/// shape (no catastrophic backtracking); a match timeout bounds even that. What the engine cannot do
/// without backtracking (back-references, look-arounds, atomic groups) is refused at upload with the
/// line, as is a pattern that does not compile. POSIX bracket classes (<c>[[:digit:]]</c>) are
/// translated; beyond ERE the pattern is read with .NET's syntax.
/// </summary>
public static class SieveRegex
{
    /// <summary>Longest pattern accepted: the engine's automaton grows with the pattern.</summary>
    public const int MaxPatternLength = 1024;

    /// <summary>Time one match may take; the engine is linear, this only bounds very long texts.</summary>
    public static readonly TimeSpan MatchTimeout = TimeSpan.FromMilliseconds(250);

    private const int CacheSize = 512;
    private static readonly ConcurrentDictionary<(string Pattern, bool IgnoreCase), Regex> Cache = new();

    private static readonly Dictionary<string, string> PosixClasses = new(StringComparer.Ordinal)
    {
        ["alpha"] = "a-zA-Z",
        ["digit"] = "0-9",
        ["alnum"] = "a-zA-Z0-9",
        ["upper"] = "A-Z",
        ["lower"] = "a-z",
        ["space"] = @" \t\r\n\v\f",
        ["blank"] = @" \t",
        ["punct"] = @"!-/:-@\[-`{-~",
        ["xdigit"] = "0-9A-Fa-f",
        ["cntrl"] = @"\x00-\x1f\x7f",
        ["print"] = @"\x20-\x7e",
        ["graph"] = @"\x21-\x7e",
    };

    /// <summary>The compiled pattern under the comparator, or the reason it cannot be one.</summary>
    public static (Regex? Regex, string? Error) Compile(string pattern, string comparator)
    {
        // The draft: i;ascii-numeric defines no regex matching.
        if (comparator == SieveComparators.AsciiNumeric) return (null, "comparator \"i;ascii-numeric\" cannot be used with ':regex'");
        if (pattern.Length > MaxPatternLength) return (null, $"regular expression longer than {MaxPatternLength} characters");
        var ignoreCase = comparator != SieveComparators.Octet;
        if (Cache.TryGetValue((pattern, ignoreCase), out var cached)) return (cached, null);
        string translated;
        try
        {
            translated = TranslatePosixClasses(pattern);
        }
        catch (FormatException e)
        {
            return (null, e.Message);
        }
        Regex regex;
        try
        {
            var options = RegexOptions.NonBacktracking | RegexOptions.CultureInvariant | (ignoreCase ? RegexOptions.IgnoreCase : RegexOptions.None);
            regex = new Regex(translated, options, MatchTimeout);
        }
        catch (ArgumentException e)
        {
            return (null, $"bad regular expression: {FirstSentence(e.Message)}");
        }
        catch (NotSupportedException e)
        {
            return (null, $"regular expression not supported (no back-references or look-arounds): {FirstSentence(e.Message)}");
        }
        if (Cache.Count >= CacheSize) Cache.Clear();
        Cache[(pattern, ignoreCase)] = regex;
        return (regex, null);
    }

    /// <summary>
    /// Whether <paramref name="value"/> matches; on a match the captures hold the whole match and
    /// each group's text (${0}, ${1}, … of RFC 5229, as the draft asks). A match that runs out of
    /// time counts as no match: a filter's condition cannot block delivery.
    /// </summary>
    public static bool Matches(Regex regex, string value, List<string>? captures)
    {
        Match m;
        try
        {
            m = regex.Match(value);
        }
        catch (RegexMatchTimeoutException)
        {
            return false;
        }
        if (!m.Success) return false;
        if (captures is not null)
        {
            captures.Clear();
            foreach (Group g in m.Groups) captures.Add(g.Success ? g.Value : "");
        }
        return true;
    }

    private static string FirstSentence(string message)
    {
        var dot = message.IndexOf(". ", StringComparison.Ordinal);
        return (dot > 0 ? message[..dot] : message).TrimEnd('.');
    }

    /// <summary><c>[:name:]</c> inside a bracket expression becomes the ranges it stands for.</summary>
    private static string TranslatePosixClasses(string pattern)
    {
        if (!pattern.Contains("[:", StringComparison.Ordinal)) return pattern;
        var b = new StringBuilder(pattern.Length + 16);
        var inBracket = false;
        for (var i = 0; i < pattern.Length; i++)
        {
            var c = pattern[i];
            if (c == '\\' && i + 1 < pattern.Length)
            {
                b.Append(c).Append(pattern[++i]);
                continue;
            }
            if (!inBracket)
            {
                if (c == '[')
                {
                    inBracket = true;
                    b.Append(c);
                    // "[]…]" and "[^]…]": a leading ']' is a literal (POSIX).
                    if (i + 1 < pattern.Length && pattern[i + 1] == '^') b.Append(pattern[++i]);
                    if (i + 1 < pattern.Length && pattern[i + 1] == ']') { b.Append(@"\]"); i++; }
                    continue;
                }
                b.Append(c);
                continue;
            }
            if (c == '[' && i + 1 < pattern.Length && pattern[i + 1] == ':')
            {
                var end = pattern.IndexOf(":]", i + 2, StringComparison.Ordinal);
                if (end < 0) throw new FormatException("unterminated character class '[:'");
                var name = pattern[(i + 2)..end];
                if (!PosixClasses.TryGetValue(name, out var ranges)) throw new FormatException($"unknown character class [:{name}:]");
                b.Append(ranges);
                i = end + 1;
                continue;
            }
            if (c == ']') inBracket = false;
            b.Append(c);
        }
        return b.ToString();
    }
}

using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace GrainMail.Storage.Governance;

/// <summary>
/// The words of a subject for the domain-wide search, and their keyed tokens. A word is a run of
/// letters and digits after NFKC and lower-casing ("Ｒｅ: Invoice-42" → re, invoice, 42); each Han,
/// kana or Hangul character is a word of its own, since those scripts put no spaces between words.
/// A token is HMAC-SHA-256 of the word under the domain's token key, cut to
/// <see cref="TokenBytes"/> bytes: equality of tokens is what the search needs, and the database
/// learns which messages share a word, never the word (see docs/architecture.md, "Subject search").
/// </summary>
public static class SubjectWords
{
    public const string Purpose = "message-index-subject-words";

    /// <summary>96 bits: a collision among a domain's words is out of reach; the search checks the opened subject anyway.</summary>
    public const int TokenBytes = 12;

    /// <summary>Words kept per subject and per query (a subject is at most 998 characters).</summary>
    public const int MaxWords = 128;

    /// <summary>Longer runs are cut: nobody searches for a 200-character "word".</summary>
    public const int MaxWordLength = 64;

    public static IReadOnlyList<string> Words(string? text)
    {
        if (string.IsNullOrEmpty(text)) return [];
        var normalized = GrainMail.Text.UnicodeNormalization.ToNfkc(text).ToLowerInvariant();
        var words = new List<string>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var current = new StringBuilder();
        void Flush()
        {
            if (current.Length == 0) return;
            var w = current.Length > MaxWordLength ? current.ToString(0, MaxWordLength) : current.ToString();
            current.Clear();
            if (words.Count < MaxWords && seen.Add(w)) words.Add(w);
        }
        foreach (var rune in normalized.EnumerateRunes())
        {
            if (IsIdeographic(rune))
            {
                Flush();
                current.Append(rune.ToString());
                Flush();
            }
            else if (Rune.IsLetterOrDigit(rune) || Rune.GetUnicodeCategory(rune) is UnicodeCategory.NonSpacingMark or UnicodeCategory.SpacingCombiningMark)
                current.Append(rune.ToString());
            else Flush();
        }
        Flush();
        return words;
    }

    public static byte[][] Tokens(byte[] key, IEnumerable<string> words) =>
        words.Select(w => HMACSHA256.HashData(key, Encoding.UTF8.GetBytes(w))[..TokenBytes]).ToArray();

    private static bool IsIdeographic(Rune r) =>
        r.Value is >= 0x3040 and <= 0x30FF // hiragana, katakana
            or >= 0x3400 and <= 0x4DBF or >= 0x4E00 and <= 0x9FFF or >= 0xF900 and <= 0xFAFF or >= 0x20000 and <= 0x3134F // Han
            or >= 0xAC00 and <= 0xD7AF; // Hangul syllables
}

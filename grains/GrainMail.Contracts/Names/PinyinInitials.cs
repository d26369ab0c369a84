using System.Text;

namespace GrainMail.Contracts.Names;

/// <summary>
/// Pinyin initials of Chinese names (张三丰 → "zsf"), for address-book autocomplete, derived
/// without a pinyin dictionary from two facts:
/// <list type="bullet">
/// <item>GB2312 level-1 hanzi (rows 16–55, 3,755 characters) are ordered by pinyin, so each
/// initial letter's range begins at a known character (啊 for a, 芭 for b, … 匝 for z); a
/// character's initial is the letter of the last range start at or before its GB2312 code. A
/// polyphone gets the reading GB2312 sorted it under (its most common one).</item>
/// <item>Level-2 hanzi (rows 56–87) are ordered by radical, not by reading; a small table of
/// characters common in given names and surnames supplies their initials. Others, and hanzi
/// outside GB2312 (GBK extensions, traditional forms), have no initial and are skipped.</item>
/// </list>
/// Latin words contribute their first letter ("Li Lei" → "ll"). PostgreSQL computes the same
/// function, <c>address_book_initials(text)</c> in migration 0016, from <see cref="SqlTranslation"/>:
/// an expression index over it follows every write of a name, by whichever grain writes it.
/// </summary>
public static class PinyinInitials
{
    /// <summary>The first level-1 character of each initial's range (i, u and v begin no syllable).</summary>
    public static readonly IReadOnlyList<(char Initial, char First)> Level1RangeStarts =
    [
        ('a', '啊'), ('b', '芭'), ('c', '擦'), ('d', '搭'), ('e', '蛾'), ('f', '发'), ('g', '噶'), ('h', '哈'),
        ('j', '击'), ('k', '喀'), ('l', '垃'), ('m', '妈'), ('n', '拿'), ('o', '哦'), ('p', '啪'), ('q', '期'),
        ('r', '然'), ('s', '撒'), ('t', '塌'), ('w', '挖'), ('x', '昔'), ('y', '压'), ('z', '匝'),
    ];

    /// <summary>Level-2 (or non-GB2312) characters frequent in Chinese names, with their initials.</summary>
    public static readonly IReadOnlyDictionary<char, char> Level2Names = Table(
        ('q', "琪琦茜骞亓杞"), ('x', "璇萱诩骁暄煊昕栩"), ('j', "婧婕菁瑾"), ('y', "妍嫣煜熠烨祎钰彧鄢琰昱瑜晔"),
        ('h', "昊晗灏泓桦珩"), ('w', "炜邬"), ('k', "锴珂阚琨"), ('r', "芮"), ('b', "蓓"), ('p', "濮"),
        ('m', "旻淼"), ('s', "晟"), ('n', "楠"), ('z', "梓钊璋"), ('c', "琛褚"));

    private const int Level1First = 0xB0A1;
    private const int Level1Last = 0xD7F9;

    private static readonly Encoding Gb = GbEncoding();
    private static readonly Lazy<IReadOnlyDictionary<char, char>> All = new(Build);

    /// <summary>The initial of one character: a lower-case letter, or null when unknown.</summary>
    public static char? Of(char c) => All.Value.TryGetValue(c, out var i) ? i : null;

    /// <summary>Initials of a name: one letter per known hanzi and per Latin word, in order.</summary>
    public static string Of(string? name)
    {
        if (string.IsNullOrEmpty(name)) return "";
        var sb = new StringBuilder(name.Length);
        var inLatinWord = false;
        foreach (var c in name)
        {
            if (char.IsAsciiLetter(c))
            {
                if (!inLatinWord) sb.Append(char.ToLowerInvariant(c));
                inLatinWord = true;
                continue;
            }
            inLatinWord = false;
            if (Of(c) is { } initial) sb.Append(initial);
        }
        return sb.ToString();
    }

    /// <summary>
    /// The two strings of SQL <c>translate(name, From, To)</c> that map each known hanzi to its
    /// initial as a full-width capital (Ａ–Ｚ), so that the SQL can tell it from Latin letters.
    /// </summary>
    public static (string From, string To) SqlTranslation()
    {
        var from = new StringBuilder();
        var to = new StringBuilder();
        foreach (var (c, initial) in All.Value.OrderBy(p => p.Key))
        {
            from.Append(c);
            to.Append((char)('Ａ' + (initial - 'a')));
        }
        return (from.ToString(), to.ToString());
    }

    /// <summary>The GB2312 code of a character (two bytes as one number), or null outside GB2312/GBK.</summary>
    public static int? GbCode(char c)
    {
        try
        {
            var bytes = Gb.GetBytes([c]);
            return bytes.Length == 2 ? (bytes[0] << 8) | bytes[1] : null;
        }
        catch (EncoderFallbackException)
        {
            return null;
        }
    }

    private static IReadOnlyDictionary<char, char> Build()
    {
        var map = new Dictionary<char, char>();
        var starts = Level1RangeStarts.Select(s => (s.Initial, Code: GbCode(s.First) ?? throw new InvalidOperationException($"{s.First} not in GB2312"))).ToList();
        for (var hi = Level1First >> 8; hi <= Level1Last >> 8; hi++)
        {
            for (var lo = 0xA1; lo <= 0xFE; lo++)
            {
                var code = (hi << 8) | lo;
                if (code > Level1Last) break;
                var c = Gb.GetString([(byte)hi, (byte)lo]);
                if (c.Length != 1) continue;
                var initial = starts.Last(s => s.Code <= code).Initial;
                map[c[0]] = initial;
            }
        }
        foreach (var (c, initial) in Level2Names) map.TryAdd(c, initial);
        return map;
    }

    private static Dictionary<char, char> Table(params (char Initial, string Chars)[] rows)
    {
        var map = new Dictionary<char, char>();
        foreach (var (initial, chars) in rows)
        {
            foreach (var c in chars) map.Add(c, initial);
        }
        return map;
    }

    private static Encoding GbEncoding()
    {
        Encoding.RegisterProvider(CodePagesEncodingProvider.Instance);
        // Code page 936 (GBK) is a superset of GB2312 with the same codes for GB2312's characters.
        return Encoding.GetEncoding(936, EncoderFallback.ExceptionFallback, DecoderFallback.ReplacementFallback);
    }
}

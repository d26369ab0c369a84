using System.Text.RegularExpressions;
using GrainMail.Contracts.Names;

namespace GrainMail.Protocol.Tests;

/// <summary>Pinyin initials from the GB2312 level-1 order and the level-2 name table, and the SQL copy of that table.</summary>
public sealed class PinyinInitialsTests
{
    [Theory]
    [InlineData("张三丰", "zsf")]
    [InlineData("李四", "ls")]
    [InlineData("王小明", "wxm")]
    [InlineData("欧阳娜娜", "oynn")]
    [InlineData("赵钱孙李周吴郑王", "zqslzwzw")]
    [InlineData("冯陈褚卫蒋沈韩杨", "fccwjshy")] // 褚 is level 2: from the name table
    [InlineData("Li Lei", "ll")]
    [InlineData("王Bob", "wb")]
    [InlineData("Andy Lau 刘德华", "alldh")]
    [InlineData("陈琪", "cq")] // 琪 is level 2: from the name table
    [InlineData("刘昊然", "lhr")]
    [InlineData("张梓涵", "zzh")]
    [InlineData("李1号", "lh")] // digits carry no initial
    [InlineData("", "")]
    [InlineData(null, "")]
    public void Names_get_their_initials(string? name, string initials) => Assert.Equal(initials, PinyinInitials.Of(name));

    [Fact]
    public void Characters_without_a_known_reading_are_skipped()
    {
        // 丂 is GBK-only, 鑫 is level 2 and not in the name table, ☃ is no hanzi.
        Assert.Null(PinyinInitials.Of('丂'));
        Assert.Equal("zx", PinyinInitials.Of("张鑫☃小"));
    }

    [Fact]
    public void Range_starts_are_ordered_level_1_characters_that_open_their_letter()
    {
        var codes = PinyinInitials.Level1RangeStarts.Select(s => PinyinInitials.GbCode(s.First)!.Value).ToList();
        Assert.Equal(codes.Order(), codes);
        Assert.Equal(0xB0A1, codes[0]); // 啊 is the first level-1 character
        Assert.All(codes, c => Assert.InRange(c, 0xB0A1, 0xD7F9));
        foreach (var (initial, first) in PinyinInitials.Level1RangeStarts) Assert.Equal(initial, PinyinInitials.Of(first));
        // The character just before each range start belongs to the previous letter.
        for (var i = 1; i < codes.Count; i++)
        {
            var before = codes[i] - 1;
            if ((before & 0xFF) < 0xA1) before = ((before >> 8) << 8 | 0xFE) - 0x100; // previous row's last cell
            var c = System.Text.Encoding.GetEncoding(936).GetString([(byte)(before >> 8), (byte)(before & 0xFF)]);
            Assert.Equal(PinyinInitials.Level1RangeStarts[i - 1].Initial, PinyinInitials.Of(c[0]));
        }
    }

    [Fact]
    public void The_name_table_only_adds_characters_level_1_does_not_order()
    {
        foreach (var (c, _) in PinyinInitials.Level2Names)
        {
            var code = PinyinInitials.GbCode(c);
            // Level 1: rows B0-D7, cells A1-FE (a GBK extension code such as B574 has a low second byte).
            var level1 = code is >= 0xB0A1 and <= 0xD7F9 && (code & 0xFF) >= 0xA1;
            Assert.False(level1, $"{c} is a level-1 character ({code:X}): its initial comes from the order");
        }
    }

    private static string Migration(string file)
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (!File.Exists(Path.Combine(dir!.FullName, "Cluster.sln"))) dir = dir.Parent;
        return File.ReadAllText(Path.Combine(dir.FullName, "grains", "GrainMail.Storage", "Migrations", file));
    }

    /// <summary>The concatenated string literals of <paramref name="sql"/> between two markers.</summary>
    private static string Literal(string sql, string from, string to)
    {
        var start = sql.IndexOf(from, StringComparison.Ordinal);
        var end = sql.IndexOf(to, start, StringComparison.Ordinal);
        return string.Concat(Regex.Matches(sql[start..end], "'([^']*)'").Select(m => m.Groups[1].Value));
    }

    [Fact]
    public void The_migrations_sql_function_holds_the_same_table()
    {
        var sql = Migration("0016_address_book.sql");
        var (expectedFrom, expectedTo) = PinyinInitials.SqlTranslation();
        Assert.Equal(expectedFrom, Literal(sql, "-- from (hanzi)", "-- to (initials)"));
        Assert.Equal(expectedTo, Literal(sql, "-- to (initials)", "'([A-Za-z])"));
        Assert.Equal(3755 + PinyinInitials.Level2Names.Count, expectedFrom.Length);
    }

    /// <summary>
    /// Migration 0047's cheaper body of the function: the same table behind the letters that map to
    /// themselves, and a first step that keeps every hanzi of the table (it drops what lies outside one range).
    /// </summary>
    [Fact]
    public void The_cheaper_sql_function_of_0047_holds_the_same_table_and_keeps_all_its_hanzi()
    {
        var sql = Migration("0047_address_book_initials_cost.sql");
        var (expectedFrom, expectedTo) = PinyinInitials.SqlTranslation();
        const string Letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyzＡＢＣＤＥＦＧＨＩＪＫＬＭＮＯＰＱＲＳＴＵＶＷＸＹＺ";
        Assert.Equal(Letters + expectedFrom, Literal(sql, "-- from (letters to themselves, then hanzi)", "-- to (letters, then initials)"));
        Assert.Equal(Letters + expectedTo, Literal(sql, "-- to (letters, then initials)", "-- end of the table"));
        var range = Regex.Match(sql, @"'\[\^A-Za-zＡ-Ｚ(.)-(.)\]', '', 'g'\), *\r?\n *-- from");
        Assert.True(range.Success, "the first step's character class");
        Assert.All(expectedFrom, c => Assert.InRange(c, range.Groups[1].Value[0], range.Groups[2].Value[0]));
    }
}

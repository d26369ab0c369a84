using System.Text;
using GrainMail.Contracts.Domains;
using GrainMail.Gateways.Http.Organization.Csv;

namespace GrainMail.Protocol.Tests;

/// <summary>The directory's CSV format: RFC 4180 records with line numbers, encoding detection, the account columns.</summary>
public sealed class AccountCsvTests
{
    private const string D = "corp.test";

    [Theory]
    [InlineData("a,b,c\r\nd,e,f\r\n", "1:a|b|c;2:d|e|f")]
    [InlineData("a,b\nc,d", "1:a|b;2:c|d")]
    [InlineData("\"x, y\",\"say \"\"hi\"\"\"\n", "1:x, y|say \"hi\"")]
    [InlineData("h\n\"two\nlines\",z\nnext,1\n", "1:h;2:two\nlines|z;4:next|1")]
    [InlineData("a,,\n\n\r\nb\n", "1:a||;4:b")]
    [InlineData("", "")]
    public void Records_carry_the_line_they_start_on(string text, string expected)
    {
        var (records, unterminated) = CsvReader.Read(text);
        Assert.Null(unterminated);
        Assert.Equal(expected, string.Join(';', records.Select(r => $"{r.Line}:{string.Join('|', r.Fields)}")));
    }

    [Fact]
    public void An_unclosed_quote_is_reported_at_the_line_it_opens()
    {
        var (_, unterminated) = CsvReader.Read("h\nok\n\"never\nclosed\n");
        Assert.Equal(3, unterminated);
    }

    [Theory]
    [InlineData("plain", "plain")]
    [InlineData("a,b", "\"a,b\"")]
    [InlineData("say \"x\"", "\"say \"\"x\"\"\"")]
    [InlineData(" edge", "\" edge\"")]
    [InlineData("two\nlines", "\"two\nlines\"")]
    [InlineData(null, "")]
    public void Fields_are_quoted_only_when_needed(string? value, string expected) => Assert.Equal(expected, CsvReader.Quote(value));

    [Fact]
    public void UTF8_with_and_without_a_BOM_and_GB18030_are_told_apart()
    {
        const string text = "address,displayName\r\nli@corp.test,李娜\r\n";
        var (a, ea) = CsvText.Decode(Encoding.UTF8.GetBytes(text));
        Assert.Equal((text, "utf-8"), (a, ea));
        var (b, eb) = CsvText.Decode([0xEF, 0xBB, 0xBF, .. Encoding.UTF8.GetBytes(text)]);
        Assert.Equal((text, "utf-8-bom"), (b, eb));
        var gb = CsvText.Gb18030.GetBytes(text);
        Assert.NotEqual(Encoding.UTF8.GetBytes(text), gb);
        var (c, ec) = CsvText.Decode(gb);
        Assert.Equal((text, "gb18030"), (c, ec));
        // ASCII is both: it stays UTF-8.
        Assert.Equal("utf-8", CsvText.Decode("a,b\n"u8).Encoding);
    }

    [Fact]
    public void Rows_become_accounts_with_their_attributes()
    {
        var csv = """
            Address,DISPLAYNAME,department,title,employeeLevel,phone,quotaMB,maySendExternal,mayReceiveExternal,inAddressBook,enabled,mustChangePassword
            Li@Corp.test,李娜,Sales/North/Beijing,Manager,M2,+86 10 5555,1.5,no,是,false,1,
            wu@corp.test,,,,,,,,,,,
            """;
        var (rows, problems) = AccountCsv.Parse(csv, D);
        Assert.Empty(problems);
        Assert.Equal(2, rows.Count);
        var li = rows[0];
        Assert.Equal((2, "li"), (li.Line, li.LocalPart));
        Assert.Equal(["Sales", "North", "Beijing"], li.Department);
        Assert.Equal(new AccountAttributes("李娜", "Manager", "M2", "+86 10 5555", null, 1_572_864, false, true, false, true, null), li.Attributes);
        Assert.Null(li.PasswordHash);
        // Empty cells are "not given": the account keeps (or, when new, gets the default for) every attribute.
        Assert.Equal(AccountAttributes.None, rows[1].Attributes);
        Assert.Empty(rows[1].Department);
    }

    [Fact]
    public void Every_bad_row_is_reported_with_its_line_and_column()
    {
        var deep = string.Join('/', Enumerable.Range(1, 13).Select(i => $"L{i}"));
        var csv = string.Join("\n",
            "address,displayName,department,quotaMB,enabled,passwordHash",
            "ok@corp.test,Ok,A/B,100,true,",
            "not an address,,,,,",
            "x@other.test,,,,,",
            "bad@corp.test,,,-5,maybe,",
            "ok@corp.test,,,,,",
            $"deep@corp.test,,{deep},,,",
            "slash@corp.test,,A//B,,,",
            "hash@corp.test,,,,,plaintext",
            "\"quoted, name\"@corp.test,,,,,");
        var (rows, problems) = AccountCsv.Parse(csv, D);
        Assert.Equal(["ok"], rows.Select(r => r.LocalPart));
        var byLine = problems.Select(p => (p.Line, p.Column)).ToList();
        Assert.Equal(
            [(3, "address"), (4, "address"), (5, "quotaMB"), (5, "enabled"), (6, "address"), (7, "department"), (8, "department"), (9, "passwordHash"), (10, "address")],
            byLine);
        Assert.Contains("line 2", problems.Single(p => p.Line == 6).Message);
    }

    [Theory]
    [InlineData("displayName\nAnn\n", "exactly one of the columns")]
    [InlineData("address,localPart\na@corp.test,a\n", "exactly one of the columns")]
    [InlineData("address,password\na@corp.test,secret\n", "plain-text passwords")]
    [InlineData("address,colour\na@corp.test,red\n", "unknown column")]
    [InlineData("address,title,TITLE\na@corp.test,x,y\n", "column given twice")]
    [InlineData("", "no header row")]
    public void A_bad_header_is_reported_on_line_1(string csv, string message)
    {
        var (_, problems) = AccountCsv.Parse(csv, D);
        Assert.Contains(problems, p => p.Line == 1 && p.Message.Contains(message, StringComparison.Ordinal));
    }

    [Fact]
    public void An_exported_line_reads_back_as_the_same_account()
    {
        var account = new DirectoryAccount("zhang.wei@corp.test", "张伟, \"Wei\"", "Engineer", "P6", "+86 21 1234", 7, "研发/平台", 1_234_567,
            false, true, false, true, true, DateTimeOffset.UnixEpoch);
        var csv = AccountCsv.HeaderLine() + "\r\n" + AccountCsv.Line(account) + "\r\n";
        var (rows, problems) = AccountCsv.Parse(csv, D);
        Assert.Empty(problems);
        var row = Assert.Single(rows);
        Assert.Equal("zhang.wei", row.LocalPart);
        Assert.Equal(["研发", "平台"], row.Department);
        Assert.Equal(new AccountAttributes("张伟, \"Wei\"", "Engineer", "P6", "+86 21 1234", null, 1_234_567, false, true, false, true, true), row.Attributes);
    }

    [Fact]
    public void Fuzzed_files_never_throw()
    {
        var random = new Random(4213);
        var seed = Encoding.UTF8.GetBytes("address,displayName,department,quotaMB,enabled\r\n\"a@corp.test\",名字,A/B,10,true\r\nb@corp.test,\"x\"\"y\",,,no\r\n");
        for (var i = 0; i < 3000; i++)
        {
            var bytes = i % 2 == 0 ? Fuzz.RandomBytes(random, 200) : Fuzz.Mutate(random, seed);
            var (text, _) = CsvText.Decode(bytes);
            var (rows, problems) = AccountCsv.Parse(text, D);
            // Every record is either an account or has a problem with a line number.
            Assert.All(problems, p => Assert.True(p.Line >= 1));
            Assert.All(rows, r => Assert.False(string.IsNullOrEmpty(r.LocalPart)));
        }
    }
}

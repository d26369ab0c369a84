using GrainMail.Contracts;

namespace GrainMail.Protocol.Tests;

/// <summary>Domain names: UTS 46 processing, the IDNA2008 rules on top, the UTS 39 registration rules.</summary>
public sealed class DomainNameTests
{
    public static TheoryData<string, string, string> Valid() => new()
    {
        { "Example.COM", "example.com", "example.com" },
        { "example.com.", "example.com", "example.com" },
        { "mail-1.example.co.uk", "mail-1.example.co.uk", "mail-1.example.co.uk" },
        { "bücher.de", "xn--bcher-kva.de", "bücher.de" },
        { "BÜCHER.DE", "xn--bcher-kva.de", "bücher.de" },
        { "xn--bcher-kva.de", "xn--bcher-kva.de", "bücher.de" },
        { "XN--BCHER-KVA.de", "xn--bcher-kva.de", "bücher.de" },
        // Full-width letters and the ideographic full stop map to their plain forms (UTS 46 mapping).
        { "ＥＸＡＭＰＬＥ.com", "example.com", "example.com" },
        { "example\u3002com", "example.com", "example.com" },
        // Decomposed ü is normalised (NFC) to the same name as the precomposed one.
        { "bu\u0308cher.de", "xn--bcher-kva.de", "bücher.de" },
        // Nontransitional (IDNA2008): ß stays ß.
        { "faß.de", "xn--fa-hia.de", "faß.de" },
        { "пример.рф", "xn--e1afmkfd.xn--p1ai", "пример.рф" },
        { "日本語.jp", "xn--wgv71a119e.jp", "日本語.jp" },
    };

    [Theory]
    [InlineData("\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645.ir")] // Persian with a non-joiner between two joining letters (CONTEXTJ)
    [InlineData("\u30a2\u30fb\u30a4.jp")] // katakana middle dot among katakana (CONTEXTO)
    [InlineData("l\u00b7l.cat")] // Catalan ela geminada (CONTEXTO)
    public void Contextual_characters_are_kept_where_their_rule_holds(string input)
    {
        Assert.True(DomainName.TryParse(input, out var name, out var error), error);
        Assert.Equal(input, name.Unicode);
        Assert.StartsWith("xn--", name.Ascii);
    }

    [Theory]
    [InlineData("a\u200cb.com")] // a non-joiner between Latin letters
    [InlineData("a\u30fbb.jp")] // a katakana middle dot without kana or Han
    [InlineData("a\u00b7b.cat")] // a middle dot not between two l
    public void Contextual_characters_are_refused_out_of_context(string input) =>
        Assert.False(DomainName.TryParse(input, out _, out _));

    [Theory]
    [MemberData(nameof(Valid))]
    public void Valid_names_become_A_labels(string input, string ascii, string unicode)
    {
        Assert.True(DomainName.TryParse(input, out var name, out var error), error);
        Assert.Equal(ascii, name.Ascii);
        Assert.Equal(unicode, name.Unicode);
        Assert.Equal(ascii, MailAddress.NormalizeDomain(input));
    }

    public static TheoryData<string?, string> Invalid() => new()
    {
        { null, "empty" },
        { "  ", "empty" },
        { "nodots", "two labels" },
        { "not a domain", "not allowed" },
        { "exa_mple.com", "not allowed" },
        { "-lead.com", "hyphen" },
        { "trail-.com", "hyphen" },
        { "ab--cd.com", "third and fourth" },
        { "a..com", "empty label" },
        { "1.2.3.4", "digits" },
        { new string('a', 64) + ".com", "longer than 63" },
        { string.Join('.', Enumerable.Repeat(new string('a', 60), 5)) + ".com", "longer than 253" },
        // Invalid Punycode, and Punycode of something that is not a valid U-label.
        { "xn--zz.com", "xn--" },
        { "xn--a.com", "xn--" },
        // Emoji and symbols: UTS 46 lets them through (NV8), IDNA2008 does not.
        { "😀.com", "IDNA2008" },
        { "i❤.ws", "IDNA2008" },
        { "xn--e28h.com", "IDNA2008" },
        { "a\u200db.com", "joiner" },
        { "a\u05d0.com", "Bidi" },
        { "a\u00a0b.com", "allow" },
    };

    [Theory]
    [MemberData(nameof(Invalid))]
    public void Invalid_names_are_refused_with_a_reason(string? input, string reason)
    {
        Assert.False(DomainName.TryParse(input, out _, out var error));
        Assert.Contains(reason, error, StringComparison.OrdinalIgnoreCase);
        Assert.Null(MailAddress.NormalizeDomain(input));
    }

    [Theory]
    [InlineData("example.com")]
    [InlineData("bücher.de")]
    [InlineData("пример.рф")]
    [InlineData("παράδειγμα.gr")]
    [InlineData("日本語ひらがなカタカナabc.jp")] // Latin with Han and kana: allowed by UTS 39
    [InlineData("한국어abc.kr")]
    [InlineData("пример1-2.com")] // digits and hyphens go with any script
    public void Single_script_labels_may_be_registered(string input)
    {
        Assert.True(DomainName.TryParse(input, out var name, out var error), error);
        Assert.Null(name.RegistrationProblem());
    }

    [Theory]
    [InlineData("ex\u0430mple.com", "Cyrillic")] // Cyrillic а in a Latin name
    [InlineData("p\u0430ypal.com", "Latin")]
    [InlineData("αbc.com", "Greek")]
    [InlineData("ひらがな한국.jp", "Hangul")]
    public void Mixed_script_labels_are_refused_for_registration(string input, string script)
    {
        Assert.True(DomainName.TryParse(input, out var name, out var error), error);
        var problem = name.RegistrationProblem();
        Assert.NotNull(problem);
        Assert.Contains(script, problem);
    }

    [Theory]
    [InlineData("ren\u00E9e", "ren\u00E9e")]
    [InlineData("rene\u0301e", "ren\u00E9e")] // decomposed: the same name in NFC
    [InlineData("RENE\u0301E", "ren\u00E9e")]
    [InlineData("\uFF41lice", "\uFF41lice")] // a full-width letter is another name: NFC, not NFKC
    public void Local_parts_are_one_spelling_in_nfc(string input, string expected) =>
        Assert.Equal(expected, MailAddress.NormalizeLocalPart(input));

    [Fact]
    public void Look_alikes_share_a_skeleton()
    {
        DomainName Parse(string s) => DomainName.TryParse(s, out var n, out var e) ? n : throw new InvalidOperationException(e);
        Assert.True(Parse("ex\u0430mple.com").IsConfusableWith(Parse("example.com")));
        Assert.True(Parse("example.com").IsConfusableWith(Parse("ex\u0430mple.com")));
        // Whole-script Cyrillic "соса" looks like Latin "coca".
        Assert.True(Parse("\u0441\u043e\u0441\u0430.com").IsConfusableWith(Parse("coca.com")));
        Assert.False(Parse("bücher.de").IsConfusableWith(Parse("bucher.de")));
        Assert.False(Parse("example.com").IsConfusableWith(Parse("example.com")));
        // Within ASCII nothing is confusable: "examp1e" is not taken for "example".
        Assert.False(Parse("examp1e.com").IsConfusableWith(Parse("example.com")));
    }

    [Fact]
    public void Fuzzed_names_never_throw_and_what_parses_is_stable()
    {
        var random = new Random(4711);
        string[] pieces = ["a", "z", "0", "9", "-", ".", "xn--", "ü", "ß", "а", "日", "😀", "\u200d", "\u0308", "Ａ", "\u3002", "\u05d0", " ", "_", "\0", "\ud800"];
        for (var i = 0; i < 3000; i++)
        {
            string input;
            if (i % 3 == 0)
            {
                var bytes = new byte[random.Next(0, 40)];
                random.NextBytes(bytes);
                input = System.Text.Encoding.UTF8.GetString(bytes);
            }
            else
            {
                var sb = new System.Text.StringBuilder(i % 2 == 0 ? "example.com" : "bücher.de");
                for (var k = random.Next(1, 8); k > 0; k--) sb.Insert(random.Next(0, sb.Length + 1), pieces[random.Next(pieces.Length)]);
                if (random.Next(4) == 0 && sb.Length > 0) sb.Remove(random.Next(sb.Length), 1);
                input = sb.ToString();
            }
            if (!DomainName.TryParse(input, out var name, out var error))
            {
                Assert.False(string.IsNullOrEmpty(error));
                continue;
            }
            Assert.All(name.Ascii, c => Assert.True(char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c) || c is '-' or '.'));
            Assert.True(DomainName.TryParse(name.Ascii, out var again, out _));
            Assert.Equal(name, again);
            Assert.True(DomainName.TryParse(name.Unicode, out var fromUnicode, out _));
            Assert.Equal(name.Ascii, fromUnicode.Ascii);
            _ = name.RegistrationProblem();
            Assert.False(name.IsConfusableWith(name));
        }
    }
}

using System.Text;
using GrainMail.Trust.Content;
using MimeKit;

namespace GrainMail.Protocol.Tests.Trust;

/// <summary>
/// The direct decode of the common text parts (<see cref="DecodedTexts.TryDecodeDirect"/>) gives exactly MimeKit's
/// <see cref="TextPart.Text"/>, and leaves to MimeKit what it cannot be sure of.
/// </summary>
public sealed class DecodedTextsTests
{
    private static TextPart Part(string headers, byte[] body)
    {
        var raw = Encoding.ASCII.GetBytes("From: a@example.com\r\nSubject: t\r\nMIME-Version: 1.0\r\n" + headers + "\r\n").Concat(body).ToArray();
        return (TextPart)MimeMessage.Load(new MemoryStream(raw)).Body!;
    }

    private static byte[] Bytes(string s) => Encoding.UTF8.GetBytes(s);

    /// <summary>Bodies as sent (already in their transfer encoding) that the direct path must take, with each charset it accepts.</summary>
    public static TheoryData<string, string> Taken => new()
    {
        { "", "plain ascii line\r\nsecond line\r\n" },
        { "Content-Transfer-Encoding: 7bit\r\n", "lone\rcr and\r\r\ndouble cr, tab\tand NUL-free text\r" },
        { "Content-Transfer-Encoding: 8bit\r\n", "caf\u00e9 \u65e5\u672c\u8a9e \ud83d\ude00\r\nline\n bare lf\r\n" },
        { "Content-Transfer-Encoding: binary\r\n", "no final newline \u00fc" },
        { "Content-Transfer-Encoding: quoted-printable\r\n", "caf=C3=A9 soft=\r\nbreak, lf soft=\nbreak, lower =c3=a9, trailing space  \r\n=3D equals\r\n" },
        { "Content-Transfer-Encoding: Quoted-Printable\r\n", "a=0D=0Ab=0Dc=0D" },
        { "Content-Transfer-Encoding: base64\r\n", Convert.ToBase64String(Bytes("hello\r\nw\u00f6rld\r\n"), Base64FormattingOptions.InsertLineBreaks) + "\r\n" },
        { "Content-Transfer-Encoding: base64\r\n", Convert.ToBase64String(Bytes("x")) + "\r\n" },
        { "Content-Transfer-Encoding: base64\r\n", Convert.ToBase64String(Bytes("xy")) },
        { "Content-Transfer-Encoding: base64\r\n", Convert.ToBase64String(Encoding.ASCII.GetBytes(new string('q', 3000) + "\r\n"), Base64FormattingOptions.InsertLineBreaks) + "\r\n" },
        { "", "" },
    };

    [Theory]
    [MemberData(nameof(Taken))]
    public void Common_parts_are_decoded_directly_as_MimeKit_decodes_them(string transfer, string body)
    {
        foreach (var type in new[] { "text/plain", "text/plain; charset=utf-8", "text/plain; charset=UTF-8", "text/plain; charset=\"us-ascii\"",
            "text/html; charset=utf-8", "text/plain; charset=iso-8859-1" })
        {
            var part = Part($"Content-Type: {type}\r\n{transfer}", Bytes(body));
            var expected = DecodedTexts.TryDecodeWithMimeKit(part);
            // Beyond ASCII (once decoded) only UTF-8 (or no charset) is taken; the rest goes to MimeKit. An empty body has no content to read.
            var ascii = part.GetText(Encoding.Latin1).All(char.IsAscii); // one char per decoded byte
            var taken = DecodedTexts.TryDecodeDirect(part, out var direct);
            if (body.Length > 0 && (ascii || !type.Contains("ascii", StringComparison.Ordinal) && !type.Contains("8859", StringComparison.Ordinal)))
            {
                Assert.True(taken, $"{type} {transfer}");
                Assert.Equal(expected, direct);
            }
            Assert.Equal(expected, DecodedTexts.TryDecode(part));
        }
    }

    /// <summary>Bodies the direct path must leave to MimeKit (and the result is MimeKit's all the same).</summary>
    public static TheoryData<string, byte[]> Declined => new()
    {
        { "Content-Type: text/html\r\n", Bytes("<html><head><meta charset=\"iso-8859-1\"></head><body>x</body></html>") },
        { "Content-Type: text/plain; charset=windows-1252\r\n", Bytes("plain") },
        { "Content-Type: text/plain\r\n", [0x63, 0x61, 0x66, 0xE9, 0x0D, 0x0A] },
        { "Content-Type: text/plain; charset=utf-8\r\n", [0x61, 0xC3, 0x28, 0x62] },
        { "Content-Type: text/plain\r\n", [0xEF, 0xBB, 0xBF, 0x61, 0xC3, 0xA9] },
        { "Content-Type: text/plain; charset=us-ascii\r\n", [0x61, 0xC3, 0xA9] },
        { "Content-Type: text/plain; charset=iso-8859-1\r\n", [0x61, 0x80, 0xE9] },
        { "Content-Type: text/plain\r\nContent-Transfer-Encoding: quoted-printable\r\n", Bytes("bad =ZZ escape\r\n") },
        { "Content-Type: text/plain\r\nContent-Transfer-Encoding: quoted-printable\r\n", Bytes("dangling =") },
        { "Content-Type: text/plain\r\nContent-Transfer-Encoding: quoted-printable\r\n", Bytes("soft with space = \r\nnext") },
        { "Content-Type: text/plain\r\nContent-Transfer-Encoding: base64\r\n", Bytes("aGVsbG8=aGVsbG8=\r\n") },
        { "Content-Type: text/plain\r\nContent-Transfer-Encoding: base64\r\n", Bytes("aGVsbG8\r\n") },
        { "Content-Type: text/plain\r\nContent-Transfer-Encoding: base64\r\n", Bytes("aGVs bG8h\r\n") },
        { "Content-Type: text/plain\r\nContent-Transfer-Encoding: x-uuencode\r\n", Bytes("begin 644 x\r\n#86)C\r\n`\r\nend\r\n") },
    };

    [Theory]
    [MemberData(nameof(Declined))]
    public void Uncommon_parts_are_left_to_MimeKit(string headers, byte[] body)
    {
        var part = Part(headers, body);
        Assert.False(DecodedTexts.TryDecodeDirect(part, out _));
        Assert.Equal(DecodedTexts.TryDecodeWithMimeKit(part), DecodedTexts.TryDecode(part));
    }

    [Fact]
    public void Reading_a_part_directly_leaves_its_content_for_the_other_readers()
    {
        var part = Part("Content-Type: text/plain\r\nContent-Transfer-Encoding: quoted-printable\r\n", Bytes("caf=C3=A9\r\n"));
        Assert.True(DecodedTexts.TryDecodeDirect(part, out var first));
        Assert.True(DecodedTexts.TryDecodeDirect(part, out var second));
        Assert.Equal(first, second);
        Assert.Equal("caf\u00e9\n", DecodedTexts.TryDecodeWithMimeKit(part));
        Assert.Equal(first, DecodedTexts.TryDecodeWithMimeKit(part));
    }

    /// <summary>Every text part of the SpamAssassin corpus (SPAM_CORPUS_DIR, or the unpacked pack the accuracy benchmark
    /// leaves under /tmp/trust-acc-corpus): the direct decode, where it is taken, equals MimeKit's; no difference at all.</summary>
    [Fact]
    public void Every_text_part_of_the_SpamAssassin_corpus_decodes_as_MimeKit_decodes_it()
    {
        var dir = Environment.GetEnvironmentVariable("SPAM_CORPUS_DIR") ?? "/tmp/trust-acc-corpus/package/data";
        if (!Directory.Exists(dir)) Assert.Skip($"no corpus at {dir} (tests/bench/spam-accuracy.sh unpacks it)");
        System.Text.Encoding.RegisterProvider(System.Text.CodePagesEncodingProvider.Instance);
        int parts = 0, taken = 0;
        var differences = new List<string>();
        foreach (var file in Directory.EnumerateFiles(dir, "*.txt", SearchOption.AllDirectories).Order(StringComparer.Ordinal))
        {
            MimeMessage message;
            try
            {
                message = MimeMessage.Load(file);
            }
            catch (FormatException)
            {
                continue;
            }
            foreach (var part in message.BodyParts.OfType<TextPart>())
            {
                parts++;
                if (!DecodedTexts.TryDecodeDirect(part, out var direct)) continue;
                taken++;
                if (direct != DecodedTexts.TryDecodeWithMimeKit(part)) differences.Add(file);
            }
        }
        TestContext.Current.TestOutputHelper?.WriteLine($"{parts} text parts, {taken} decoded directly, {differences.Count} differences");
        Assert.Empty(differences);
        // The direct path is the common one: most parts of real mail take it.
        Assert.True(taken > parts / 2, $"{taken} of {parts} parts decoded directly");
    }
}

/// <summary>GTUBE found by its rare piece gives string.Contains's answer, in ordinary text and in lines of X.</summary>
public sealed class GtubeSearchTests
{
    [Fact]
    public void The_test_string_is_found_wherever_it_is_and_only_there()
    {
        var x = new string('X', 4000);
        var texts = new[]
        {
            "", "XJS", Gtube.Text, "a" + Gtube.Text, x + Gtube.Text, Gtube.Text + x, x + Gtube.Text + x, x + Gtube.Text[..^1] + x,
            "*C4JDBQADN1" + Gtube.Text[..20], "XJ" + Gtube.Text[3..], x + "XJS*C4JDBQADN1" + x + Gtube.Text, Gtube.Text[1..] + x,
            "XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34" + x,
        };
        foreach (var t in texts) Assert.Equal(t.Contains(Gtube.Text, StringComparison.Ordinal), Gtube.Contains([t]));
        Assert.True(Gtube.Contains(["nothing", x + Gtube.Text]));
        Assert.False(Gtube.Contains(["nothing", x]));
    }
}

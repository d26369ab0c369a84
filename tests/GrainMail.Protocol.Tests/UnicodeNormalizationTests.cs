using System.Globalization;
using System.Text;
using GrainMail.Text;

namespace GrainMail.Protocol.Tests;

/// <summary>
/// GrainMail's own NFC, NFD, NFKC and NFKD (the build has no ICU) against the Unicode standard's
/// conformance file, NormalizationTest.txt, as Debian's unicode-data package installs it: every line's
/// columns c1..c5 must satisfy c2 = NFC(c1..c3), c4 = NFC(c4..c5), c3 = NFD(c1..c3), c5 = NFD(c4..c5),
/// c4 = NFKC(c1..c5) and c5 = NFKD(c1..c5) (UAX #15, the file's own header).
/// </summary>
public sealed class UnicodeNormalizationTests
{
    private const string Directory = "/usr/share/unicode";

    private static string[] TestLines()
    {
        var plain = Path.Combine(Directory, "NormalizationTest.txt");
        if (File.Exists(plain)) return File.ReadAllLines(plain, Encoding.UTF8);
        // Debian ships the file compressed with bzip2, which .NET does not read: bzcat does.
        var psi = new System.Diagnostics.ProcessStartInfo("bzcat", plain + ".bz2") { RedirectStandardOutput = true };
        using var p = System.Diagnostics.Process.Start(psi)!;
        var text = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        Assert.Equal(0, p.ExitCode);
        return text.Split('\n');
    }

    private static string Decode(string column) =>
        string.Concat(column.Split(' ', StringSplitOptions.RemoveEmptyEntries).Select(h => char.ConvertFromUtf32(int.Parse(h, NumberStyles.HexNumber, CultureInfo.InvariantCulture))));

    [Fact]
    public void Every_line_of_the_conformance_file_holds()
    {
        var lines = 0;
        var failures = new List<string>();
        foreach (var raw in TestLines())
        {
            var line = raw.Split('#')[0].Trim();
            if (line.Length == 0 || line.StartsWith('@')) continue;
            var c = line.Split(';').Take(5).Select(Decode).ToArray();
            lines++;
            for (var i = 0; i < 5; i++)
            {
                if (UnicodeNormalization.ToNfc(c[i]) != (i < 3 ? c[1] : c[3])) failures.Add($"NFC {raw}");
                if (UnicodeNormalization.ToNfd(c[i]) != (i < 3 ? c[2] : c[4])) failures.Add($"NFD {raw}");
            }
            foreach (var source in c)
            {
                if (UnicodeNormalization.ToNfkc(source) != c[3]) failures.Add($"NFKC {raw}");
                if (UnicodeNormalization.ToNfkd(source) != c[4]) failures.Add($"NFKD {raw}");
            }
        }
        Assert.True(lines > 15_000, $"only {lines} test lines read");
        Assert.True(failures.Count == 0, $"{failures.Count} failures, first: {string.Join("\n", failures.Take(5))}");
    }

    [Theory]
    [InlineData("plain ASCII stays", "plain ASCII stays")]
    [InlineData("ＡＢＣ１２３", "ABC123")]
    [InlineData("ﬁnance", "finance")]
    [InlineData("Cafe\u0301", "Café")] // composed again by NFKC
    [InlineData("\u1112\u1161\u11AB", "한")]
    public void Nfkc_folds_compatibility_forms_and_composes(string input, string expected) =>
        Assert.Equal(expected, UnicodeNormalization.ToNfkc(input));

    [Theory]
    [InlineData("Cafe\u0301", "Caf\u00E9")]
    [InlineData("ＡＢＣ", "ＡＢＣ")] // full-width letters are compatibility forms: NFC keeps them
    [InlineData("\uFB01nance", "\uFB01nance")]
    [InlineData("\u1112\u1161\u11AB", "\uD55C")]
    [InlineData("\u212B", "\u00C5")] // ANGSTROM SIGN is a canonical singleton of A WITH RING ABOVE
    public void Nfc_composes_without_folding_compatibility_forms(string input, string expected) =>
        Assert.Equal(expected, UnicodeNormalization.ToNfc(input));

    [Fact]
    public void Unpaired_surrogates_pass_through()
    {
        var broken = "a\uD800b\uDC00é";
        Assert.Equal("a\uD800b\uDC00e\u0301", UnicodeNormalization.ToNfkd(broken));
        Assert.Equal(broken, UnicodeNormalization.ToNfkc(broken));
    }
}

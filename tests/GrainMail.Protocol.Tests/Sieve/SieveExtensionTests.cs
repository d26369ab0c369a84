using System.Text;
using GrainMail.Sieve;
using GrainMail.Sieve.Validation;
using MimeKit;

namespace GrainMail.Protocol.Tests.Sieve;

/// <summary>
/// The Sieve extensions of issue 17's second round: <c>:regex</c> (draft-ietf-sieve-regex),
/// <c>ereject</c> (RFC 5429), <c>vacation-seconds</c> (RFC 6131) and RFC 5051's i;unicode-casemap.
/// </summary>
public sealed class SieveExtensionTests
{
    private const string Message = """
        From: Alice <alice@example.org>
        To: bob@example.net
        Subject: Invoice 2026-0042 overdue
        Message-ID: <r1@example.org>
        Content-Type: text/plain; charset=utf-8

        Please pay.

        """;

    private static readonly DateTimeOffset Now = new(2026, 12, 1, 12, 0, 0, TimeSpan.Zero);

    private static SieveResult Run(string script, string? subject = null)
    {
        var (compiled, error) = SieveValidator.Compile(script);
        Assert.True(compiled is not null, error?.ToString());
        var text = subject is null ? Message : Message.Replace("Invoice 2026-0042 overdue", subject);
        var m = MimeMessage.Load(new MemoryStream(Encoding.UTF8.GetBytes(text.Replace("\n", "\r\n"))));
        return SieveInterpreter.Run(compiled!, new SieveContext(m, 300, new SieveEnvelope("alice@example.org", "bob@example.net"), Now), "main");
    }

    private static string Folder(SieveResult r) => r.Actions.OfType<FileIntoAction>().SingleOrDefault()?.Folder ?? "(keep)";

    // ---- :regex -----------------------------------------------------------------------------------

    [Theory]
    [InlineData("^invoice [0-9]{4}-[0-9]+", null, true)]
    [InlineData("^invoice [0-9]{4}-[0-9]+", "i;octet", false)] // case matters under i;octet
    [InlineData("^Invoice [[:digit:]]{4}-[[:digit:]]+ (overdue|paid)$", "i;octet", true)]
    [InlineData("[[:upper:]]{3}", "i;octet", false)]
    [InlineData("receipt|statement", null, false)]
    [InlineData("0042", null, true)]
    public void Regex_matches_header_values(string pattern, string? comparator, bool expected)
    {
        var cmp = comparator is null ? "" : $":comparator \"{comparator}\" ";
        var r = Run($"require [\"regex\", \"fileinto\"];\nif header :regex {cmp}\"subject\" \"{pattern.Replace("\\", "\\\\")}\" {{ fileinto \"Hit\"; }}");
        Assert.False(r.Failed, r.Error?.ToString());
        Assert.Equal(expected ? "Hit" : "(keep)", Folder(r));
    }

    [Fact]
    public void Regex_groups_become_match_variables()
    {
        var r = Run("require [\"regex\", \"variables\", \"fileinto\"];\nif header :regex \"subject\" \"invoice ([0-9]+)-([0-9]+)\" { fileinto \"Year-${1}/No-${2}/${0}\"; }");
        Assert.Equal("Year-2026/No-0042/Invoice 2026-0042", Folder(r));
    }

    [Theory]
    [InlineData("require \"fileinto\";\nif header :regex \"subject\" \"x\" { keep; }", 2, "':regex' needs require \"regex\"")]
    [InlineData("require \"regex\";\n\nif header :regex \"subject\" \"(unclosed\" { keep; }", 3, "bad regular expression")]
    [InlineData("require \"regex\";\nif header :regex \"subject\" \"(a)\\\\1\" { keep; }", 2, "not supported")]
    [InlineData("require \"regex\";\nif header :regex \"subject\" \"(?=a)b\" { keep; }", 2, "not supported")]
    [InlineData("require \"regex\";\nif header :regex \"subject\" \"[[:nosuch:]]\" { keep; }", 2, "unknown character class")]
    [InlineData("require [\"regex\", \"comparator-i;ascii-numeric\"];\nif header :regex :comparator \"i;ascii-numeric\" \"subject\" \"1\" { keep; }", 2, "cannot be used with ':regex'")]
    [InlineData("require [\"regex\", \"relational\"];\nif header :regex :count \"eq\" \"subject\" \"1\" { keep; }", 2, "cannot be used with")]
    public void Regex_errors_are_refused_at_upload_with_the_line(string script, int line, string reason)
    {
        var (compiled, error) = SieveValidator.Compile(script);
        Assert.Null(compiled);
        Assert.Equal(line, error!.Line);
        Assert.Contains(reason, error.Reason);
    }

    [Fact]
    public void A_catastrophic_backtracking_pattern_runs_in_linear_time()
    {
        // (a+)+$ on "aaaa…b" takes exponential time on a backtracking engine.
        var subject = new string('a', 50_000) + "!";
        var watch = System.Diagnostics.Stopwatch.StartNew();
        var r = Run("require [\"regex\", \"fileinto\"];\nif header :regex \"subject\" \"^(a+)+$\" { fileinto \"Hit\"; }", subject);
        Assert.False(r.Failed);
        Assert.Equal("(keep)", Folder(r));
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(2), $"took {watch.Elapsed}");
    }

    [Fact]
    public void A_regex_built_from_variables_that_does_not_compile_matches_nothing()
    {
        var r = Run("require [\"regex\", \"variables\", \"fileinto\"];\nset \"p\" \"(broken\";\nif header :regex \"subject\" \"${p}\" { fileinto \"Hit\"; }");
        Assert.False(r.Failed);
        Assert.Equal("(keep)", Folder(r));
    }

    // ---- ereject (RFC 5429) --------------------------------------------------------------------------

    [Fact]
    public void Ereject_is_a_reject_marked_extended()
    {
        var r = Run("require \"ereject\";\nif header :contains \"subject\" \"invoice\" { ereject \"No invoices here\"; }");
        var reject = Assert.Single(r.Actions.OfType<RejectAction>());
        Assert.True(reject.Extended);
        Assert.Equal("No invoices here", reject.Reason);
        Assert.DoesNotContain(r.Actions, a => a is KeepAction);
        Assert.False(Assert.Single(Run("require \"reject\"; reject \"x\";").Actions.OfType<RejectAction>()).Extended);
    }

    [Theory]
    [InlineData("ereject \"x\";", "'ereject' needs require \"ereject\"")]
    [InlineData("require \"ereject\";\nereject [\"a\", \"b\"];", "must be a string")]
    public void Ereject_syntax(string script, string reason) =>
        Assert.Contains(reason, SieveValidator.Compile(script).Error!.Reason);

    [Theory]
    [InlineData("require [\"ereject\", \"fileinto\"];\nfileinto \"x\";\nereject \"no\";", "cannot be combined")]
    [InlineData("require [\"ereject\", \"reject\"];\nreject \"a\";\nereject \"b\";", "used twice")]
    [InlineData("require \"ereject\";\nkeep;\nereject \"no\";", "cannot be combined")]
    public void Ereject_conflicts_are_run_time_errors(string script, string reason)
    {
        var r = Run(script);
        Assert.True(r.Failed);
        Assert.Contains(reason, r.Error!.Reason);
    }

    // ---- vacation-seconds (RFC 6131) ---------------------------------------------------------------

    [Theory]
    [InlineData("require \"vacation\";\nvacation \"away\";", 7 * 86400)]
    [InlineData("require \"vacation\";\nvacation :days 2 \"away\";", 2 * 86400)]
    [InlineData("require \"vacation-seconds\";\nvacation :seconds 1800 \"away\";", 1800)]
    [InlineData("require [\"vacation\", \"vacation-seconds\"];\nvacation :seconds 0 \"away\";", 0)]
    [InlineData("require \"vacation-seconds\";\nvacation :seconds 999999999 \"away\";", 365 * 86400)]
    public void Vacation_period_in_days_or_seconds(string script, long seconds)
    {
        var v = Assert.Single(Run(script).Actions.OfType<VacationAction>());
        Assert.Equal(TimeSpan.FromSeconds(seconds), v.Period);
    }

    [Theory]
    [InlineData("require \"vacation\";\nvacation :seconds 60 \"away\";", "':seconds' needs require \"vacation-seconds\"")]
    [InlineData("require \"vacation-seconds\";\nvacation :days 1 :seconds 60 \"away\";", "':seconds' cannot be used with ':days'")]
    [InlineData("require \"vacation-seconds\";\nvacation :seconds \"60\" \"away\";", "must be a number")]
    public void Vacation_seconds_syntax(string script, string reason) =>
        Assert.Contains(reason, SieveValidator.Compile(script).Error!.Reason);

    // ---- i;unicode-casemap (RFC 5051) ---------------------------------------------------------------

    [Theory]
    [InlineData("ǆ", "Ǆ", true)] // the digraph's three cases share one titlecase
    [InlineData("ǅ", "ǆ", true)]
    [InlineData("Ärger", "ärger", true)]
    [InlineData("ΣΊΣΥΦΟΣ", "σίσυφος", true)]
    [InlineData("Straße", "STRASSE", false)] // ß has no simple titlecase mapping
    [InlineData("abc", "abd", false)]
    public void Unicode_casemap_is(string a, string b, bool equal) =>
        Assert.Equal(equal, SieveComparators.AreEqual(SieveComparators.UnicodeCasemap, a, b));

    /// <summary>
    /// RFC 5051's NFKD step, from GrainMail's own Unicode tables (GrainMail.Text): the build runs with
    /// InvariantGlobalization, where string.Normalize leaves text as it is.
    /// </summary>
    [Theory]
    [InlineData("é", "E\u0301")] // precomposed and decomposed
    [InlineData("Café", "CAFE\u0301")]
    [InlineData("Ｇｒａｉｎ", "grain")] // fullwidth compatibility forms
    [InlineData("ＡＢＣ", "abc")]
    [InlineData("ǅ", "dž")]
    [InlineData("ﬁle", "FILE")] // the ligature's NFKD "fi" is folded as well
    [InlineData("ﬁ", "fi")]
    [InlineData("한국", "\u1112\u1161\u11AB\u1100\u116E\u11A8")] // Hangul syllables and their conjoining jamo
    [InlineData("①", "1")]
    [InlineData("x\u0323\u0307", "x\u0307\u0323")] // marks in canonical order, whatever order they came in
    public void Unicode_casemap_decomposes(string a, string b) =>
        Assert.True(SieveComparators.AreEqual(SieveComparators.UnicodeCasemap, a, b));

    [Theory]
    [InlineData("ﬁ", "fl")]
    [InlineData("é", "e")] // the accent stays a difference
    [InlineData("한", "항")]
    [InlineData("Ａ", "B")]
    public void Unicode_casemap_keeps_real_differences(string a, string b) =>
        Assert.False(SieveComparators.AreEqual(SieveComparators.UnicodeCasemap, a, b));

    [Theory]
    [InlineData("Café", "caf?", true)] // é, either spelling, is one character
    [InlineData("Cafe\u0301", "caf?", true)]
    [InlineData("Cafe\u0301", "caf??", false)]
    [InlineData("Ärger im Büro", "ärger*BÜRO", true)]
    public void Unicode_casemap_wildcards(string value, string pattern, bool expected) =>
        Assert.Equal(expected, SieveComparators.Matches(SieveComparators.UnicodeCasemap, value, pattern, null));

    [Fact]
    public void Unicode_casemap_captures_the_original_text()
    {
        var captures = new List<string>();
        Assert.True(SieveComparators.Matches(SieveComparators.UnicodeCasemap, "RE: Café", "re: *", captures));
        Assert.Equal(new[] { "RE: Café", "Café" }, captures);
    }

    [Fact]
    public void Unicode_casemap_contains_through_a_script()
    {
        var r = Run("require [\"fileinto\", \"comparator-i;unicode-casemap\"];\nif header :contains :comparator \"i;unicode-casemap\" \"subject\" \"ÜBERFÄLLIG\" { fileinto \"Hit\"; }",
            "Rechnung überfällig");
        Assert.Equal("Hit", Folder(r));
    }

    [Fact]
    public void Fuzzed_regex_scripts_give_a_script_or_an_error_never_an_exception()
    {
        var random = new Random(6131);
        const string Seed = "require [\"regex\", \"variables\"]; if header :regex \"subject\" \"^([a-z]+) [[:digit:]]{2,4}(x|y)*$\" { set \"a\" \"${1}\"; }";
        for (var i = 0; i < 1500; i++)
        {
            var text = Encoding.UTF8.GetString(Fuzz.Mutate(random, Encoding.UTF8.GetBytes(Seed)));
            var (compiled, error) = SieveValidator.Compile(text);
            Assert.True(compiled is not null ^ error is not null);
            if (compiled is null) continue;
            var m = MimeMessage.Load(new MemoryStream(Encoding.UTF8.GetBytes(Message.Replace("\n", "\r\n"))));
            var r = SieveInterpreter.Run(compiled, new SieveContext(m, 100, new SieveEnvelope("a@b.c", "d@e.f"), Now));
            Assert.True(r.Failed ? r.Error is not null : r.Actions.All(a => a.Line >= 0));
        }
    }
}

using System.Text;
using GrainMail.Sieve;
using GrainMail.Sieve.Validation;
using MimeKit;

namespace GrainMail.Protocol.Tests.Sieve;

/// <summary>Parser, validator and interpreter of GrainMail's Sieve (RFC 5228 and its extensions), on messages in memory.</summary>
public sealed class SieveScriptTests
{
    private const string Message = """
        Return-Path: <alice@example.org>
        From: Alice <alice@example.org>
        To: Bob <bob+lists@example.net>, carol@example.net
        Cc: dave@other.test
        Subject: Quarterly report
        Date: Tue, 01 Dec 2026 10:30:00 +0800
        Received: from a by b; Tue, 01 Dec 2026 02:30:00 +0000
        Received: from c by d; Tue, 01 Dec 2026 02:29:00 +0000
        Message-ID: <q1@example.org>
        Content-Type: text/plain; charset=utf-8

        The numbers are in. Revenue grew; see the attached figures.

        """;

    private static readonly DateTimeOffset Now = new(2026, 12, 1, 12, 0, 0, TimeSpan.Zero);

    private static MimeMessage Parse(string text) => MimeMessage.Load(new MemoryStream(Encoding.UTF8.GetBytes(text.Replace("\n", "\r\n"))));

    private static SieveResult Run(string script, string? message = null, string? from = "alice@example.org", string to = "bob+lists@example.net",
        Func<string, CompiledSieve?>? include = null, SieveLimits? limits = null, Func<string, bool>? exists = null)
    {
        var (compiled, error) = SieveValidator.Compile(script);
        Assert.True(compiled is not null, error?.ToString());
        var m = Parse(message ?? Message);
        var context = new SieveContext(m, 600, new SieveEnvelope(from, to), Now)
        {
            Include = include ?? (_ => null),
            Limits = limits ?? SieveLimits.Default,
            MailboxExists = exists ?? (_ => false),
        };
        return SieveInterpreter.Run(compiled!, context, "main");
    }

    private static string Where(SieveResult r) => string.Join(",", r.Actions.Select(a => a switch
    {
        KeepAction k => "keep" + (k.Flags.Count > 0 ? "[" + string.Join(' ', k.Flags) + "]" : ""),
        FileIntoAction f => "fileinto:" + f.Folder + (f.Flags.Count > 0 ? "[" + string.Join(' ', f.Flags) + "]" : ""),
        RedirectAction d => "redirect:" + d.Address,
        RejectAction j => "reject:" + j.Reason,
        VacationAction v => "vacation:" + v.Days,
        _ => a.ToString(),
    }));

    // ---- syntax and validation: the line and the reason ----------------------------------------

    [Theory]
    [InlineData("keep", 1, "expected ';' or '{'")]
    [InlineData("require \"fileinto\";\nif true {\n  fileinto \"x\"\n}", 4, "expected ';' or '{'")]
    [InlineData("frobnicate;", 1, "unknown command 'frobnicate'")]
    [InlineData("fileinto \"x\";", 1, "'fileinto' needs require \"fileinto\"")]
    [InlineData("require \"nosuch\";", 1, "unsupported extension \"nosuch\"")]
    [InlineData("keep;\nrequire \"fileinto\";", 2, "'require' must come before every other command")]
    [InlineData("if header :is \"a\" {\n keep;\n}", 1, "'header' takes 2 positional arguments, got 1")]
    [InlineData("if header :frob \"a\" \"b\" { keep; }", 1, "'header' has no ':frob' argument")]
    [InlineData("if header :is :contains \"a\" \"b\" { keep; }", 1, "':contains' cannot be used with ':is'")]
    [InlineData("if header :count \"ge\" \"a\" \"1\" { keep; }", 1, "':count' needs require \"relational\"")]
    [InlineData("require \"relational\";\nif header :value \"gg\" \"a\" \"1\" { keep; }", 2, "\"gg\" is not a relational operator")]
    [InlineData("elsif true { keep; }", 1, "'elsif' without 'if'")]
    [InlineData("if true keep;", 1, "'if' needs a block")]
    [InlineData("if size \"10\" { keep; }", 1, "argument 1 of 'size' must be a number")]
    [InlineData("if size 10 { keep; }", 1, "'size' needs ':over' or ':under'")]
    [InlineData("redirect \"not an address\";", 1, "'redirect' needs an address")]
    [InlineData("if envelope \"from\" \"x\" { keep; }", 1, "'envelope' needs require \"envelope\"")]
    [InlineData("require \"envelope\";\nif envelope \"received\" \"x\" { keep; }", 2, "envelope part \"received\" is not supported")]
    [InlineData("require \"date\";\nif date \"date\" \"century\" \"x\" { keep; }", 2, "\"century\" is not a date part")]
    [InlineData("if header :comparator \"i;foo\" \"a\" \"b\" { keep; }", 1, "unknown comparator \"i;foo\"")]
    [InlineData("if header :comparator \"i;ascii-numeric\" \"a\" \"b\" { keep; }", 1, "needs require \"comparator-i;ascii-numeric\"")]
    [InlineData("if address :detail \"to\" \"x\" { keep; }", 1, "':detail' needs require \"subaddress\"")]
    [InlineData("require \"include\";\ninclude :global \"x\";", 2, "global scripts are not supported")]
    [InlineData("require \"vacation\";\nvacation :days 0 \"away\";", 2, "':days' must be at least 1")]
    [InlineData("\"unterminated", 1, "unterminated string")]
    [InlineData("/* never closed", 1, "unterminated comment")]
    [InlineData("keep;\n\n\n  stop extra;", 4, "'stop' takes no test")]
    [InlineData("require [\"fileinto\"];\nfileinto [\"a\", \"b\"];", 2, "argument 1 of 'fileinto' must be a string")]
    [InlineData("require \"variables\";\nset \"1bad\" \"x\";", 2, "\"1bad\" is not a variable name")]
    [InlineData("if not (true, false) { keep; }", 1, "'not' needs exactly one test")]
    [InlineData("if allof true { keep; }", 1, "'allof' needs a test list")]
    public void Broken_scripts_are_refused_with_their_line_and_reason(string script, int line, string reason)
    {
        var (compiled, error) = SieveValidator.Compile(script);
        Assert.Null(compiled);
        Assert.NotNull(error);
        Assert.Equal(line, error!.Line);
        Assert.Contains(reason, error.Reason);
    }

    [Fact]
    public void Multi_line_strings_are_dot_unstuffed_and_comments_skipped()
    {
        var (compiled, error) = SieveValidator.Compile("require \"vacation\"; # a comment\n/* block\ncomment */ vacation text:\nline one\n..dot\n.\n;\n");
        Assert.Null(error);
        var r = SieveInterpreter.Run(compiled!, new SieveContext(Parse(Message), 1, new SieveEnvelope("a@b.c", "d@e.f"), Now));
        var v = Assert.Single(r.Actions.OfType<VacationAction>());
        Assert.Equal("line one\r\n.dot\r\n", v.Reason);
    }

    [Fact]
    public void Size_limit_and_nesting_limit_are_enforced_at_upload()
    {
        var big = "keep;" + new string(' ', SieveLimits.Default.MaxScriptBytes);
        Assert.Contains("larger than", SieveValidator.Compile(big).Error!.Reason);
        var deep = string.Concat(Enumerable.Repeat("if true {", 40)) + "keep;" + new string('}', 40);
        Assert.Contains("nested deeper", SieveValidator.Compile(deep).Error!.Reason);
    }

    // ---- base tests and actions (RFC 5228) ----------------------------------------------------

    [Theory]
    [InlineData("if header :contains \"subject\" \"REPORT\" { discard; }", "")]
    [InlineData("if header :is \"subject\" \"quarterly report\" { discard; }", "")]
    [InlineData("if header :comparator \"i;octet\" :is \"subject\" \"quarterly report\" { discard; }", "keep")]
    [InlineData("if header :matches \"subject\" \"Q*r?port\" { discard; }", "")]
    [InlineData("if address :domain :is \"from\" \"EXAMPLE.org\" { discard; }", "")]
    [InlineData("if address :localpart :is [\"to\", \"cc\"] \"dave\" { discard; }", "")]
    [InlineData("if exists [\"from\", \"x-nothere\"] { discard; }", "keep")]
    [InlineData("if size :over 500 { discard; }", "")]
    [InlineData("if size :under 500 { discard; }", "keep")]
    [InlineData("if anyof (false, not exists \"x-nothere\") { discard; }", "")]
    [InlineData("if allof (true, false) { discard; } elsif true { stop; } else { discard; }", "keep")]
    [InlineData("if header :contains \"subject\" \"nothing\" { discard; } else { redirect \"archive@example.net\"; }", "redirect:archive@example.net")]
    [InlineData("redirect \"x@example.com\"; redirect \"X@example.com\"; keep;", "redirect:x@example.com,keep")]
    public void Base_tests_and_actions(string script, string expected) => Assert.Equal(expected, Where(Run(script)));

    [Fact]
    public void Too_many_redirects_is_a_run_time_error()
    {
        var r = Run("redirect \"a@x.test\"; redirect \"b@x.test\"; redirect \"c@x.test\";", limits: SieveLimits.Default with { MaxRedirects = 2 });
        Assert.True(r.Failed);
        Assert.Equal(1, r.Error!.Line);
        Assert.Contains("more than 2 redirects", r.Error.Reason);
    }

    [Fact]
    public void The_step_budget_ends_a_run_that_would_not_end()
    {
        var script = "require \"variables\";\n" + string.Concat(Enumerable.Repeat("if header :matches \"subject\" \"*a*b*c*d*e*f*g*\" { keep; }\n", 200));
        var r = Run(script, limits: SieveLimits.Default with { MaxSteps = 500 });
        Assert.True(r.Failed);
        Assert.Contains("steps", r.Error!.Reason);
    }

    // ---- extensions ------------------------------------------------------------------------------

    [Fact]
    public void Fileinto_cancels_implicit_keep_unless_copy()
    {
        Assert.Equal("fileinto:Reports", Where(Run("require \"fileinto\"; fileinto \"Reports\";")));
        Assert.Equal("fileinto:Reports,keep", Where(Run("require [\"fileinto\", \"copy\"]; fileinto :copy \"Reports\";")));
        var create = Assert.IsType<FileIntoAction>(Run("require [\"fileinto\", \"mailbox\"]; fileinto :create \"New/Box\";").Actions[0]);
        Assert.True(create.Create);
        Assert.Equal("keep", Where(Run("require \"mailbox\"; if mailboxexists \"Nope\" { discard; }")));
        Assert.Equal("", Where(Run("require \"mailbox\"; if mailboxexists \"Here\" { discard; }", exists: n => n == "Here")));
    }

    [Fact]
    public void Reject_cancels_keep_and_conflicts_with_delivering_actions()
    {
        Assert.Equal("reject:Go away", Where(Run("require \"reject\"; reject \"Go away\";")));
        var r = Run("require [\"reject\", \"fileinto\"];\nfileinto \"x\";\nreject \"no\";");
        Assert.True(r.Failed);
        Assert.Equal(3, r.Error!.Line);
    }

    [Fact]
    public void Imap4flags_set_add_remove_and_hasflag()
    {
        var r = Run("""
            require ["imap4flags", "fileinto"];
            setflag "\\Seen";
            addflag ["$Work", "\\Flagged"];
            removeflag "\\Seen";
            if hasflag :is "$work" { fileinto :flags "\\Answered" "Work"; }
            """);
        Assert.Equal("fileinto:Work[\\Answered]", Where(r));
        Assert.Equal("keep[$Work \\Flagged]", Where(Run("require \"imap4flags\"; setflag \"\\\\Seen\"; addflag [\"$Work\", \"\\\\Flagged\"]; removeflag \"\\\\Seen\";")));
        Assert.Equal("keep[$x]", Where(Run("require \"imap4flags\"; keep :flags \"$x\";")));
    }

    [Fact]
    public void Envelope_and_subaddress()
    {
        Assert.Equal("", Where(Run("require \"envelope\"; if envelope :is \"from\" \"alice@example.org\" { discard; }")));
        Assert.Equal("", Where(Run("require [\"envelope\", \"subaddress\"]; if envelope :detail \"to\" \"lists\" { discard; }")));
        Assert.Equal("", Where(Run("require [\"envelope\", \"subaddress\"]; if envelope :user \"to\" \"bob\" { discard; }")));
        // RFC 5233 4: no separator, no detail, no match (even for "").
        Assert.Equal("keep", Where(Run("require [\"envelope\", \"subaddress\"]; if envelope :detail \"to\" \"\" { discard; }", to: "bob@example.net")));
        // RFC 5228 5.4: the null reverse path compares as "".
        Assert.Equal("", Where(Run("require \"envelope\"; if envelope :is \"from\" \"\" { discard; }", from: null)));
        Assert.Equal("", Where(Run("require \"subaddress\"; if address :detail \"to\" \"lists\" { discard; }")));
    }

    [Fact]
    public void Body_text_raw_and_content()
    {
        Assert.Equal("", Where(Run("require \"body\"; if body :contains \"revenue grew\" { discard; }")));
        Assert.Equal("keep", Where(Run("require \"body\"; if body :contains \"Quarterly\" { discard; }")));
        Assert.Equal("", Where(Run("require \"body\"; if body :raw :contains \"numbers are in\" { discard; }")));
        Assert.Equal("", Where(Run("require \"body\"; if body :content \"text\" :contains \"figures\" { discard; }")));
        Assert.Equal("keep", Where(Run("require \"body\"; if body :content \"image/png\" :contains \"figures\" { discard; }")));
    }

    [Fact]
    public void Relational_count_and_value()
    {
        Assert.Equal("", Where(Run("require [\"relational\", \"comparator-i;ascii-numeric\"]; if address :count \"ge\" :comparator \"i;ascii-numeric\" [\"to\", \"cc\"] \"3\" { discard; }")));
        Assert.Equal("keep", Where(Run("require [\"relational\", \"comparator-i;ascii-numeric\"]; if address :count \"gt\" :comparator \"i;ascii-numeric\" [\"to\", \"cc\"] \"3\" { discard; }")));
        Assert.Equal("", Where(Run("require \"relational\"; if header :value \"gt\" \"subject\" \"M\" { discard; }")));
        Assert.Equal("", Where(Run("require [\"relational\", \"comparator-i;ascii-numeric\"]; if header :count \"eq\" :comparator \"i;ascii-numeric\" \"received\" \"2\" { discard; }")));
    }

    [Fact]
    public void Date_currentdate_and_index()
    {
        // 10:30 +0800 is 02:30 UTC, the local zone here.
        Assert.Equal("", Where(Run("require \"date\"; if date :is \"date\" \"hour\" \"02\" { discard; }")));
        Assert.Equal("", Where(Run("require \"date\"; if date :originalzone :is \"date\" \"hour\" \"10\" { discard; }")));
        Assert.Equal("", Where(Run("require \"date\"; if date :zone \"-0500\" :is \"date\" \"date\" \"2026-11-30\" { discard; }")));
        Assert.Equal("", Where(Run("require \"date\"; if currentdate :is \"weekday\" \"2\" { discard; }")));
        Assert.Equal("", Where(Run("require [\"date\", \"relational\"]; if currentdate :value \"ge\" \"date\" \"2026-01-01\" { discard; }")));
        Assert.Equal("", Where(Run("require [\"date\", \"index\"]; if date :index 2 :is \"received\" \"minute\" \"29\" { discard; }")));
        Assert.Equal("", Where(Run("require \"index\"; if header :index 1 :last :contains \"received\" \"from c\" { discard; }")));
        Assert.Equal("keep", Where(Run("require \"index\"; if header :index 1 :contains \"received\" \"from c\" { discard; }")));
    }

    [Fact]
    public void Variables_set_modifiers_match_variables_and_string()
    {
        var r = Run("""
            require ["variables", "fileinto"];
            if header :matches "subject" "* report" { set :lower "kind" "${1}"; }
            set :upperfirst "folder" "${kind}";
            set :length "n" "${folder}";
            if string :is "${n}" "9" { fileinto "Reports/${folder}"; }
            """);
        Assert.Equal("fileinto:Reports/Quarterly", Where(r));
        Assert.Equal("fileinto:lists", Where(Run("require [\"variables\", \"fileinto\", \"envelope\", \"subaddress\"]; if envelope :matches :detail \"to\" \"*\" { fileinto \"${1}\"; }")));
        Assert.Equal("keep", Where(Run("require \"variables\"; set \"a\" \"\"; if string :count \"eq\" \"${a}\" \"1\" { discard; }".Replace("require \"variables\"", "require [\"variables\", \"relational\"]"))));
        // Without "variables" the text is literal.
        Assert.Equal("fileinto:${x}", Where(Run("require \"fileinto\"; fileinto \"${x}\";")));
    }

    [Fact]
    public void Include_personal_once_optional_return_global_and_loops()
    {
        var scripts = new Dictionary<string, string>
        {
            ["lib"] = "require [\"fileinto\", \"include\", \"variables\"]; global \"dest\"; if header :contains \"subject\" \"report\" { fileinto \"${dest}\"; return; } discard;",
            ["self"] = "require \"include\"; include :personal \"self\";",
            ["a"] = "require \"include\"; include \"b\";",
            ["b"] = "require \"include\"; include \"a\";",
        };
        CompiledSieve? Lookup(string n) => scripts.TryGetValue(n, out var t) ? SieveValidator.Compile(t).Script : null;
        var r = Run("require [\"include\", \"variables\"]; global \"dest\"; set \"dest\" \"Reports\"; include :once \"lib\"; include :once \"lib\";", include: Lookup);
        Assert.Equal("fileinto:Reports", Where(r));
        Assert.Equal("keep", Where(Run("require \"include\"; include :optional \"missing\";", include: Lookup)));
        var missing = Run("require \"include\";\ninclude \"missing\";", include: Lookup);
        Assert.Equal(2, missing.Error!.Line);
        Assert.Contains("includes itself", Run("require \"include\"; include \"self\";", include: Lookup).Error!.Reason);
        Assert.Contains("includes itself", Run("require \"include\"; include \"a\";", include: Lookup).Error!.Reason);
    }

    // ---- vacation (RFC 5230) ---------------------------------------------------------------------

    [Fact]
    public void Vacation_action_defaults_and_handle()
    {
        var v = Assert.IsType<VacationAction>(Run("require \"vacation\"; vacation \"Away until Monday\";").Actions[0]);
        Assert.Equal(7, v.Days);
        var same = Assert.IsType<VacationAction>(Run("require \"vacation\"; vacation :days 3 \"Away until Monday\";").Actions[0]);
        Assert.Equal(v.Handle, same.Handle);
        var other = Assert.IsType<VacationAction>(Run("require \"vacation\"; vacation \"Back soon\";").Actions[0]);
        Assert.NotEqual(v.Handle, other.Handle);
        Assert.True(Run("require [\"vacation\", \"reject\"]; vacation \"x\"; reject \"y\";").Failed);
    }

    [Theory]
    [InlineData("", null, "alice@example.org")]
    [InlineData("Auto-Submitted: auto-replied\n", "Auto-Submitted", "alice@example.org")]
    [InlineData("Auto-Submitted: no\n", null, "alice@example.org")]
    [InlineData("Precedence: bulk\n", "Precedence", "alice@example.org")]
    [InlineData("List-Id: <x.example.org>\n", "mailing list", "alice@example.org")]
    [InlineData("", "automatic address", "owner-list@example.org")]
    [InlineData("", "automatic address", "MAILER-DAEMON@example.org")]
    [InlineData("", "own address", "carol@example.net")]
    [InlineData("", "null reverse path", "")]
    public void Vacation_never_answers_automatic_list_or_own_mail(string extraHeaders, string? why, string sender)
    {
        var m = Parse(extraHeaders + Message);
        var result = VacationResponder.WhyNot(m, new SieveEnvelope(sender.Length == 0 ? null : sender, "carol@example.net"), ["carol@example.net"]);
        if (why is null) Assert.Null(result);
        else Assert.Contains(why, result);
    }

    [Fact]
    public void Vacation_only_when_the_user_is_named()
    {
        Assert.Contains("not named", VacationResponder.WhyNot(Parse(Message), new SieveEnvelope("alice@example.org", "zed@example.net"), ["zed@example.net"]));
        Assert.Null(VacationResponder.WhyNot(Parse(Message), new SieveEnvelope("alice@example.org", "zed@example.net"), ["zed@example.net", "dave@other.test"]));
    }

    [Fact]
    public void Vacation_reply_is_threaded_and_marked_auto_replied()
    {
        var v = new VacationAction("I am away.", null, null, [], TimeSpan.FromDays(7), "h", false, 1);
        var reply = VacationResponder.Build(v, Parse(Message), "alice@example.org", "carol@example.net", Now, "mx.test");
        Assert.Equal("auto-replied", reply.Headers[HeaderId.AutoSubmitted]);
        Assert.Equal("Auto: Quarterly report", reply.Subject);
        Assert.Equal("q1@example.org", reply.InReplyTo);
        Assert.Contains("q1@example.org", reply.References);
        Assert.Equal("alice@example.org", reply.To.Mailboxes.Single().Address);
        Assert.Equal("carol@example.net", reply.From.Mailboxes.Single().Address);
        Assert.Equal("I am away.", reply.TextBody);
    }

    // ---- comparators and wildcards ------------------------------------------------------------

    [Theory]
    [InlineData("i;ascii-casemap", "Hello World", "h*o w?rld", true)]
    [InlineData("i;octet", "Hello World", "h*", false)]
    [InlineData("i;octet", "a*b", "a\\*b", true)]
    [InlineData("i;octet", "axb", "a\\*b", false)]
    [InlineData("i;octet", "", "*", true)]
    [InlineData("i;octet", "abc", "a??", true)]
    [InlineData("i;octet", "abc", "a???", false)]
    [InlineData("i;unicode-casemap", "ÄRGER", "ärger", true)]
    public void Wildcards(string comparator, string value, string pattern, bool expected) =>
        Assert.Equal(expected, SieveComparators.Matches(comparator, value, pattern, null));

    [Fact]
    public void Wildcard_captures_are_shortest_first()
    {
        var captures = new List<string>();
        Assert.True(SieveComparators.Matches("i;octet", "a-b-c", "*-*", captures));
        Assert.Equal(new[] { "a-b-c", "a", "b-c" }, captures);
    }

    [Fact]
    public void A_pathological_pattern_stays_cheap()
    {
        var value = new string('a', 100_000);
        var pattern = string.Concat(Enumerable.Repeat("*a", 20)) + "b";
        var watch = System.Diagnostics.Stopwatch.StartNew();
        Assert.False(SieveComparators.Matches("i;octet", value, pattern, null));
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(5));
    }

    [Fact]
    public void Ascii_numeric_orders_numbers_and_puts_text_last()
    {
        Assert.True(SieveComparators.Compare("i;ascii-numeric", "10", "9") > 0);
        Assert.True(SieveComparators.Compare("i;ascii-numeric", "abc", "99999") > 0);
        Assert.Equal(0, SieveComparators.Compare("i;ascii-numeric", "007", "7"));
    }

    // ---- fuzz --------------------------------------------------------------------------------------

    [Fact]
    public void Fuzzed_scripts_give_a_script_or_an_error_never_an_exception()
    {
        var random = new Random(5228);
        string[] seeds =
        [
            "require [\"fileinto\", \"variables\"]; if header :matches \"subject\" \"*x*\" { fileinto \"${1}\"; } else { keep; }",
            "require \"vacation\"; vacation :days 3 :subject \"away\" text:\nhi\n.\n;",
            "if anyof (size :over 1K, not exists \"from\") { discard; stop; }",
            "require [\"date\", \"relational\", \"index\"]; if date :index 1 :value \"ge\" \"date\" \"year\" \"2020\" { keep; }",
        ];
        var message = Parse(Message);
        for (var i = 0; i < 3000; i++)
        {
            var bytes = i % 3 == 0 ? Fuzz.RandomBytes(random, 200) : Fuzz.Mutate(random, Encoding.UTF8.GetBytes(seeds[i % seeds.Length]));
            var text = Encoding.UTF8.GetString(bytes);
            var (compiled, error) = SieveValidator.Compile(text);
            Assert.True(compiled is not null ^ error is not null);
            if (compiled is null) continue;
            var r = SieveInterpreter.Run(compiled, new SieveContext(message, 100, new SieveEnvelope("a@b.c", "d@e.f"), Now));
            Assert.True(r.Failed || r.Actions.Count >= 0);
        }
    }
}

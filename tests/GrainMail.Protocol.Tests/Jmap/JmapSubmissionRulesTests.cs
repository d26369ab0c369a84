using System.Text;
using System.Text.Json.Nodes;
using GrainMail.Contracts.Lists;
using GrainMail.Gateways.Jmap.Mail;
using GrainMail.Gateways.Jmap.Methods;
using GrainMail.Gateways.Jmap.Submission;
using GrainMail.Gateways.Jmap.Vacation;
using GrainMail.Gateways.Smtp.Session;
using GrainMail.Sieve;
using GrainMail.Sieve.Validation;
using MimeKit;

namespace GrainMail.Protocol.Tests.Jmap;

/// <summary>
/// The pure parts of EmailSubmission and VacationResponse: the envelope of RFC 8621 7.5, the SetErrors the
/// submission path's refusals become, Bcc removal, the vacation script and the one SetResponse.
/// </summary>
public sealed class JmapSubmissionRulesTests
{
    private static MimeMessage Parse(string text) => MimeMessage.Load(new MemoryStream(Encoding.UTF8.GetBytes(text)));

    [Fact]
    public void The_envelope_comes_from_sender_or_from_and_every_recipient_field_once()
    {
        var (env, error) = SubmissionRules.Derive(Parse(
            "From: Ann <ann@a.test>\r\nTo: bob@b.test, Carl <carl@c.test>\r\nCc: BOB@b.test\r\nBcc: dora@d.test\r\nSubject: x\r\n\r\nhi\r\n"));
        Assert.Null(error);
        Assert.Equal("ann@a.test", env!.MailFrom.Email);
        Assert.Equal(["bob@b.test", "carl@c.test", "dora@d.test"], env.RcptTo.Select(r => r.Email));

        // RFC 8621 7.5: Sender wins over From.
        (env, _) = SubmissionRules.Derive(Parse("From: ann@a.test, eve@a.test\r\nSender: sec@a.test\r\nTo: bob@b.test\r\n\r\nx\r\n"));
        Assert.Equal("sec@a.test", env!.MailFrom.Email);
        var json = env.ToJson();
        Assert.Null(json["mailFrom"]!["parameters"]);
    }

    [Theory]
    [InlineData("From: ann@a.test, eve@a.test\r\nTo: bob@b.test\r\n\r\nx\r\n", "from")]
    [InlineData("To: bob@b.test\r\n\r\nx\r\n", "from")]
    [InlineData("From: ann@a.test\r\nFrom: eve@a.test\r\nTo: bob@b.test\r\n\r\nx\r\n", "from")]
    [InlineData("From: ann@a.test\r\nSender: a@a.test, b@a.test\r\nTo: bob@b.test\r\n\r\nx\r\n", "sender")]
    public void An_ambiguous_sender_is_an_invalid_email(string text, string property)
    {
        var (env, error) = SubmissionRules.Derive(Parse(text));
        Assert.Null(env);
        Assert.Equal("invalidEmail", (string)error!["type"]!);
        Assert.Equal(property, (string)error["properties"]![0]!);
    }

    /// <summary>
    /// The submission parses From and Sender once (<see cref="Originators"/>) for the derived envelope and the ownership rule:
    /// the derived MAIL FROM is the very string that parse produced, not a second parse of the field.
    /// </summary>
    [Fact]
    public void A_derived_envelope_uses_from_and_sender_as_parsed_once()
    {
        var m = Parse("From: Ann <ann@a.test>\r\nTo: bob@b.test\r\n\r\nx\r\n");
        var once = Originators.Of(m);
        Assert.Equal((1, 0), (once.FromFields, once.SenderFields));
        var (env, error) = SubmissionRules.Derive(m, once);
        Assert.Null(error);
        Assert.Same(once.From![0], env!.MailFrom.Email);

        m = Parse("From: ann@a.test, eve@a.test\r\nSender: Sec <sec@a.test>\r\nTo: bob@b.test\r\n\r\nx\r\n");
        once = Originators.Of(m);
        (env, _) = SubmissionRules.Derive(m, once);
        Assert.Same(once.Sender![0], env!.MailFrom.Email);

        // A Sender field that is no address list names no address: exactly one is needed.
        m = Parse("From: ann@a.test\r\nSender: <ann@a.test>, <\r\nTo: bob@b.test\r\n\r\nx\r\n");
        once = Originators.Of(m);
        Assert.Equal((1, 1, null), (once.FromFields, once.SenderFields, once.Sender));
        (env, error) = SubmissionRules.Derive(m, once);
        Assert.Null(env);
        Assert.Equal("sender", (string)error!["properties"]![0]!);
    }

    [Fact]
    public void A_given_envelope_is_read_and_smtp_parameters_are_refused()
    {
        var (env, error) = SubmissionRules.Parse(JsonNode.Parse("""{"mailFrom":{"email":"a@a.test","parameters":null},"rcptTo":[{"email":"b@b.test"},{"email":"c@c.test","parameters":{}}]}""")!);
        Assert.Null(error);
        Assert.Equal(["b@b.test", "c@c.test"], env!.RcptTo.Select(r => r.Email));
        foreach (var bad in new[]
        {
            """{"mailFrom":{"email":"a@a.test","parameters":{"SIZE":"10"}},"rcptTo":[]}""",
            """{"mailFrom":{"email":"a@a.test"},"rcptTo":{"email":"b@b.test"}}""",
            """{"mailFrom":"a@a.test","rcptTo":[]}""",
            """{"mailFrom":{"email":5},"rcptTo":[]}""",
            """{"mailFrom":{"email":"a@a.test","extra":1},"rcptTo":[]}""",
            "[]",
        })
        {
            var (none, e) = SubmissionRules.Parse(JsonNode.Parse(bad)!);
            Assert.Null(none);
            Assert.Equal("invalidProperties", (string)e!["type"]!);
        }
    }

    [Fact]
    public void Recipient_refusals_become_the_rfcs_set_errors()
    {
        (string, RcptVerdict) R(string address, int code, string enhanced, string text) => (address, RcptVerdict.Refused(code, enhanced, text, address));
        Assert.Null(SubmissionRules.RecipientRefusal([], 10));
        var outside = SubmissionRules.RecipientRefusal([R("x@out.test", 550, "5.7.1", "This account may not send mail outside its domain")], 10)!;
        Assert.Equal("forbiddenToSend", (string)outside["type"]!);
        Assert.Equal("forbiddenToSend", (string)SubmissionRules.RecipientRefusal([R("x@out.test", 450, "4.7.1", "Sending rate limit")], 10)!["type"]!);
        var big = SubmissionRules.RecipientRefusal([R("x@small.test", 552, "5.3.4", "Message size exceeds the limit of 2000 bytes for this recipient")], 5000)!;
        Assert.Equal(("tooLarge", 2000L), ((string)big["type"]!, (long)big["maxSize"]!));
        var unknown = SubmissionRules.RecipientRefusal([R("nobody@a.test", 550, "5.1.1", "No such user here"), R("off@a.test", 550, "5.2.1", "Mailbox disabled")], 10)!;
        Assert.Equal("invalidRecipients", (string)unknown["type"]!);
        Assert.Equal(["nobody@a.test", "off@a.test"], ((JsonArray)unknown["invalidRecipients"]!).Select(a => (string)a!));
        Assert.Equal("invalidEmail", (string)SubmissionRules.IntakeRefusal("554 5.7.1 Virus found: Eicar-Signature")["type"]!);
        Assert.Equal("forbiddenToSend", (string)SubmissionRules.IntakeRefusal("451 4.7.1 Virus scanner unavailable")["type"]!);
    }

    [Fact]
    public void Bcc_fields_leave_the_header_and_nothing_else_changes()
    {
        const string Body = "Bcc: this line is body text\r\n";
        var raw = Encoding.ASCII.GetBytes("From: a@a.test\r\nBcc: hidden@h.test,\r\n  other@h.test\r\nTo: b@b.test\r\nbcc: x@h.test\r\nSubject: s\r\n\r\n" + Body);
        var text = Encoding.ASCII.GetString(SubmissionRules.WithoutBcc(raw));
        Assert.Equal("From: a@a.test\r\nTo: b@b.test\r\nSubject: s\r\n\r\n" + Body, text);
        // Without a body, and with bare LF line ends, too.
        Assert.Equal("From: a\nTo: b\n", Encoding.ASCII.GetString(SubmissionRules.WithoutBcc(Encoding.ASCII.GetBytes("From: a\nBcc: c\nTo: b\n"))));
    }

    [Fact]
    public void Bcc_removal_survives_any_bytes()
    {
        var random = new Random(8621);
        var seed = Encoding.ASCII.GetBytes("From: a@a.test\r\nBcc: h@h.test\r\n\tmore\r\nTo: b@b.test\r\n\r\nbody\r\n");
        for (var i = 0; i < 3000; i++)
        {
            var input = i % 2 == 0 ? Fuzz.RandomBytes(random, 199) : Fuzz.Mutate(random, seed);
            var output = SubmissionRules.WithoutBcc(input);
            Assert.True(output.Length <= input.Length);
        }
    }

    [Fact]
    public void The_vacation_script_compiles_round_trips_and_answers_only_in_its_dates()
    {
        var v = new VacationSettings(true, "2026-12-01T00:00:00Z", "2026-12-24T00:00:00Z", "Away \"for\" a while", "Back on the 24th.\nAsk \\ Carl.", null);
        var text = VacationScript.Generate(v, ["sales@a.test"]);
        var (script, error) = SieveValidator.Compile(text, SieveLimits.Default);
        Assert.Null(error);
        Assert.Equal(v, VacationScript.Read(text));

        var message = Parse("From: bob@b.test\r\nTo: ann@a.test\r\nSubject: hello\r\n\r\nhi\r\n");
        SieveResult Run(DateTimeOffset now) => SieveInterpreter.Run(script!, new SieveContext(message, 100, new SieveEnvelope("bob@b.test", "ann@a.test"), now));
        var during = Run(new DateTimeOffset(2026, 12, 10, 9, 0, 0, TimeSpan.Zero)).Actions.OfType<VacationAction>().Single();
        Assert.Equal("Away \"for\" a while", during.Subject);
        Assert.Equal("Back on the 24th.\nAsk \\ Carl.", during.Reason.Replace("\r\n", "\n"));
        Assert.Equal(["sales@a.test"], during.Addresses);
        Assert.Equal(TimeSpan.FromDays(7), during.Period);
        Assert.Empty(Run(new DateTimeOffset(2026, 11, 30, 23, 0, 0, TimeSpan.Zero)).Actions.OfType<VacationAction>());
        Assert.Empty(Run(new DateTimeOffset(2026, 12, 24, 0, 0, 0, TimeSpan.Zero)).Actions.OfType<VacationAction>());

        // Switched off: the text stays, no vacation command; HTML goes as a MIME reason.
        var off = VacationScript.Generate(v with { IsEnabled = false }, []);
        Assert.DoesNotContain("vacation :", off);
        Assert.Equal(v with { IsEnabled = false }, VacationScript.Read(off));
        var html = VacationScript.Generate(new VacationSettings(true, null, null, null, "plain", "<p>away</p>"), []);
        var (htmlScript, htmlError) = SieveValidator.Compile(html, SieveLimits.Default);
        Assert.Null(htmlError);
        var mime = SieveInterpreter.Run(htmlScript!, new SieveContext(message, 100, new SieveEnvelope("bob@b.test", "ann@a.test"), DateTimeOffset.UtcNow))
            .Actions.OfType<VacationAction>().Single();
        Assert.True(mime.Mime);
        Assert.Contains("multipart/alternative", mime.Reason);
        Assert.Equal(VacationSettings.Off, VacationScript.Read(null));
        Assert.Equal(VacationSettings.Off, VacationScript.Read("keep;\n"));
    }

    [Theory]
    [InlineData("2026-12-01T00:00:00Z", "2026-12-01T00:00:00Z")]
    [InlineData("2026-12-01T00:00:00.500Z", "2026-12-01T00:00:00Z")]
    [InlineData("2026-12-01", null)]
    [InlineData("2026-12-01T00:00:00+01:00", null)]
    [InlineData("tomorrow", null)]
    public void Vacation_dates_are_utc_dates(string text, string? canonical) => Assert.Equal(canonical, VacationScript.CanonicalDate(text));

    [Fact]
    public void A_set_response_leaves_out_what_is_empty()
    {
        var r = new SetResponse("A1", "s1");
        r.Created("k", new JsonObject { ["id"] = "x" });
        r.NotDestroyed("y", new JsonObject { ["type"] = "notFound" });
        var built = r.Build("s2");
        Assert.Equal(("A1", "s1", "s2"), ((string)built["accountId"]!, (string)built["oldState"]!, (string)built["newState"]!));
        Assert.Equal("x", (string)built["created"]!["k"]!["id"]!);
        Assert.Null(built["updated"]);
        Assert.Null(built["destroyed"]);
        Assert.Null(built["notCreated"]);
        Assert.True(built.ContainsKey("notUpdated"));
        Assert.True(r.WasCreated("k"));
        Assert.False(r.WasUpdated("k"));
    }

    /// <summary>The one loop check of SMTP DATA and EmailSubmission/set, and the SetError it becomes.</summary>
    [Fact]
    public void A_loop_is_too_many_received_fields_or_the_marks_of_a_list_the_message_is_for()
    {
        static List<(string, string)> Received(int n) => Enumerable.Range(0, n).Select(i => ("Received", $"from h{i} by h{i + 1}; 2 Dec 2026")).ToList();
        Assert.Null(MailLoop.Find(Received(3), [], 3));
        var hops = MailLoop.Find(Received(4), [], 3);
        Assert.Equal(("Received", (string?)null), (hops!.Field, hops.List));
        Assert.Equal("Too many hops (3 Received: fields): a mail loop", hops.Description);

        List<(string, string)> marked = [("From", "ann@a.test"), ("x-loop", " <Sales@Example.TEST> ")];
        Assert.Null(MailLoop.Find(marked, ["other@example.test"], 100));
        var byLoop = MailLoop.Find(marked, ["other@example.test", "sales@example.test"], 100);
        Assert.Equal(("X-Loop", "sales@example.test"), (byLoop!.Field, byLoop.List));
        // A moderator's command address is the list's too; List-Id names the list by its RFC 2919 identifier.
        var byId = MailLoop.Find([("List-ID", "Sales <sales.example.test>")], ["sales+approve-abc@example.test"], 100);
        Assert.Equal(("List-Id", "sales@example.test"), (byId!.Field, byId.List));
        Assert.Equal("Mail loop: the message has already been through the list sales@example.test", byId.Description);

        var error = SubmissionRules.LoopRefusal(byId);
        Assert.Equal("invalidEmail", (string)error["type"]!);
        Assert.Equal(["header:List-Id"], ((JsonArray)error["properties"]!).Select(p => (string)p!));
        Assert.StartsWith("554 5.4.6 Mail loop", (string)error["description"]!);
    }

    [Fact]
    public void A_from_or_sender_field_that_is_not_an_address_list_is_unparsable()
    {
        var m = Parse("From: ann@a.test\r\nSender: <ann@a.test>, <\r\nTo: bob@b.test\r\n\r\nx\r\n");
        Assert.Equal(["ann@a.test"], SubmissionRules.Addresses(m, HeaderId.From));
        Assert.Null(SubmissionRules.Addresses(m, HeaderId.Sender));
        // Every field of the kind counts: a readable one beside an unreadable one does not make it readable.
        Assert.Null(SubmissionRules.Addresses(Parse("From: ann@a.test\r\nFrom: Ann <eve@a.test>, @@@\r\nTo: bob@b.test\r\n\r\nx\r\n"), HeaderId.From));
        Assert.Equal(["bob@b.test", "eve@b.test"], SubmissionRules.Addresses(Parse("From: a@a.test\r\nTo: x@b.test\r\nSender: bob@b.test\r\nSender: eve@b.test\r\n\r\nx\r\n"), HeaderId.Sender));
    }

    [Fact]
    public void The_message_text_rule_of_jmap_is_crlf_no_nul_bounded_header_and_a_header_field()
    {
        var limits = GrainMail.Gateways.Common.Messages.MessageTextLimits.Default;
        var (ok, problem) = JmapMessageText.Read("From: ann@a.test\nSubject: lf\r\n\nOne\rTwo\n"u8, limits);
        Assert.Null(problem);
        Assert.Equal("From: ann@a.test\r\nSubject: lf\r\n\r\nOne\r\nTwo\r\n", Encoding.ASCII.GetString(ok!.Raw));
        Assert.Equal("lf", ok.Message.Subject);

        Assert.Contains("NUL", JmapMessageText.Read("From: ann@a.test\r\n\r\nx\0y\r\n"u8, limits).Problem);
        Assert.Contains("no header fields", JmapMessageText.Read("\r\nNo header.\r\n"u8, limits).Problem);
        var small = limits with { MaxHeaderFieldBytes = 100 };
        Assert.Contains("exceeds 100 bytes", JmapMessageText.Read(Encoding.ASCII.GetBytes($"From: ann@a.test\r\nX-Long: {new string('x', 200)}\r\n\r\nx\r\n"), small).Problem);
        Assert.Null(JmapMessageText.Read(Encoding.ASCII.GetBytes($"From: ann@a.test\r\nX-Long: {new string('x', 80)}\r\n\r\nx\r\n"), small).Problem);
    }
}

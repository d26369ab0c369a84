using System.Text;
using GrainMail.Tests.Infrastructure;

namespace GrainMail.Tests;

/// <summary>IMAP as a client speaks it, byte for byte, against the real host: every command family and the parser's edge cases.</summary>
public sealed class ImapProtocolTests(SmtpHostFixture host) : IClassFixture<SmtpHostFixture>
{
    private const string Pw = SmtpHostFixture.Password;

    private Task<(RawImap C, string User)> NewUser() => RawImap.NewUserAsync(host, "i");

    [Fact]
    public async Task A_stored_message_with_a_header_folded_1600000_times_is_fetched_and_searched_in_linear_time()
    {
        // 6.4 MB of one folded Subject: with a quadratic header parser FETCH ENVELOPE alone took 35 s and 1.16 GB.
        var sb = new StringBuilder("From: Alice <alice@example.org>\r\nTo: bob@example.org\r\nSubject: start");
        for (var i = 0; i < 1_600_000; i++) sb.Append("\r\n x");
        sb.Append(" needle\r\nContent-Type: text/plain\r\n\r\nbody\r\n");
        var (c, user) = await NewUser();
        await using var _ = c;
        // Acceptance refuses such headers now (APPEND answers NO [LIMIT]); mail stored before the
        // limits existed is put in place the way the stream delivers it.
        var refused = await c.AppendAsync(sb.ToString());
        Assert.Contains("[LIMIT]", refused.Tagged);
        await host.StoreDirectAsync(user, Encoding.UTF8.GetBytes(sb.ToString()));
        await Eventually.Until(async () => await host.InboxCount(user) == 1, TimeSpan.FromSeconds(30), "the stored message");
        await c.CommandAsync("SELECT INBOX");

        var envelope = await c.CommandAsync("FETCH 1 (ENVELOPE)");
        var structure = await c.CommandAsync("FETCH 1 (BODYSTRUCTURE)");
        var search = await c.CommandAsync("SEARCH HEADER Subject needle");
        var miss = await c.CommandAsync("SEARCH SUBJECT absent");

        Assert.True(envelope.Ok, envelope.Tagged);
        Assert.Contains("\"alice\" \"example.org\"", envelope.Untagged[0]);
        Assert.True(structure.Ok, structure.Tagged);
        Assert.Contains("(\"TEXT\" \"PLAIN\"", structure.Untagged[0]);
        Assert.Contains("* SEARCH 1", search.Untagged);
        Assert.Contains("* SEARCH", miss.Untagged);
        // Linear time and memory are measured where they can be counted (FoldedHeaderTests:
        // allocations of the parse); here the four commands answer, each within the client's timeout.
    }

    [Fact]
    public async Task A_partial_FETCH_of_a_large_message_reads_only_its_range()
    {
        // 3 MB of known text: the range's bytes are predictable, and far larger than one chunk.
        var sb = new StringBuilder("From: a@example.org\r\nTo: b@example.org\r\nSubject: big\r\n\r\n");
        for (var i = 0; sb.Length < 3_000_000; i++) sb.Append(i.ToString("D9")).Append("\r\n");
        var raw = Encoding.ASCII.GetBytes(sb.ToString());
        var (c, user) = await NewUser();
        await using var _ = c;
        await host.StoreDirectAsync(user, raw);
        await Eventually.Until(async () => await host.InboxCount(user) == 1, TimeSpan.FromSeconds(30), "the stored message");
        await c.CommandAsync("SELECT INBOX");
        var readsBefore = await PgCalls("blob.read");
        var rangesBefore = await PgCalls("blob.read_range");

        var fetched = await c.CommandAsync("FETCH 1 (BODY.PEEK[]<2000000.40>)");

        Assert.True(fetched.Ok, fetched.Tagged);
        Assert.Equal($"* 1 FETCH (BODY[]<2000000> {{40}}\r\n{Encoding.ASCII.GetString(raw, 2_000_000, 40)})", fetched.Untagged[0]);
        // The exporter serves a cached scrape for a moment: wait for the range read to show, then
        // check that no whole-message read came with it.
        await Eventually.Until(async () => await PgCalls("blob.read_range") > rangesBefore, TimeSpan.FromSeconds(10), "a range read in /metrics");
        Assert.Equal(readsBefore, await PgCalls("blob.read"));
    }

    /// <summary>How many timed PostgreSQL calls of <paramref name="operation"/> the host has made (from /metrics).</summary>
    private async Task<long> PgCalls(string operation)
    {
        var metrics = await host.Host.Http.GetStringAsync("/metrics");
        var line = metrics.Split('\n').FirstOrDefault(l =>
            l.StartsWith("grainmail_storage_pg_duration_milliseconds_count{", StringComparison.Ordinal) && l.Contains($"operation=\"{operation}\""));
        return line is null ? 0 : (long)double.Parse(line[(line.LastIndexOf(' ') + 1)..], System.Globalization.CultureInfo.InvariantCulture);
    }

    public const string Alternative =
        "From: =?UTF-8?B?SsO8cmdlbg==?= <juergen@example.org>\r\n" +
        "To: \"Team\" <team@example.org>, li@example.cn\r\n" +
        "Subject: =?UTF-8?B?5Lya6K6u57qq6KaB?=\r\n" +
        "Date: Mon, 16 Nov 2026 09:30:00 +0800\r\n" +
        "Message-ID: <alt-1@example.org>\r\n" +
        "MIME-Version: 1.0\r\n" +
        "Content-Type: multipart/alternative; boundary=\"b1\"\r\n" +
        "\r\n" +
        "--b1\r\n" +
        "Content-Type: text/plain; charset=utf-8\r\n" +
        "Content-Transfer-Encoding: 8bit\r\n" +
        "\r\n" +
        "Grüße aus Berlin\r\n" +
        "zweite Zeile\r\n" +
        "--b1\r\n" +
        "Content-Type: text/html; charset=utf-8\r\n" +
        "\r\n" +
        "<p>Grüße</p>\r\n" +
        "--b1--\r\n";

    public const string Mixed =
        "From: sender@example.org\r\n" +
        "To: you@example.org\r\n" +
        "Subject: report attached\r\n" +
        "Content-Type: multipart/mixed; boundary=outer\r\n" +
        "\r\n" +
        "--outer\r\n" +
        "Content-Type: text/plain\r\n" +
        "\r\n" +
        "See the attached.\r\n" +
        "--outer\r\n" +
        "Content-Type: application/pdf; name=\"r.pdf\"\r\n" +
        "Content-Disposition: attachment; filename=\"r.pdf\"\r\n" +
        "Content-Transfer-Encoding: base64\r\n" +
        "\r\n" +
        "JVBERi0xLjQK\r\n" +
        "--outer\r\n" +
        "Content-Type: message/rfc822\r\n" +
        "\r\n" +
        "From: inner@example.net\r\n" +
        "Subject: forwarded\r\n" +
        "Content-Type: multipart/mixed; boundary=inner\r\n" +
        "\r\n" +
        "--inner\r\n" +
        "Content-Type: text/plain\r\n" +
        "\r\n" +
        "inner text\r\n" +
        "--inner--\r\n" +
        "--outer--\r\n";

    [Fact]
    public async Task Greeting_and_capabilities_change_with_TLS_and_login()
    {
        var (c, greeting) = await RawImap.ConnectAsync(host.Imap);
        await using var _ = c;
        Assert.StartsWith("* OK [CAPABILITY IMAP4rev1", greeting);
        Assert.Contains("STARTTLS", greeting);
        Assert.Contains("LOGINDISABLED", greeting);
        Assert.DoesNotContain("AUTH=PLAIN", greeting);

        // Without TLS the password is never taken.
        var login = await c.CommandAsync($"LOGIN alice@smtp.test \"{Pw}\"");
        Assert.StartsWith("NO [PRIVACYREQUIRED]", login.Tagged);
        var auth = await c.CommandAsync("AUTHENTICATE PLAIN " + Convert.ToBase64String(Encoding.UTF8.GetBytes($"\0alice@smtp.test\0{Pw}")));
        Assert.StartsWith("NO [PRIVACYREQUIRED]", auth.Tagged);

        Assert.True((await c.CommandAsync("STARTTLS")).Ok);
        await c.UpgradeAsync();
        var caps = await c.CommandAsync("CAPABILITY");
        Assert.Contains("AUTH=PLAIN", caps.Untagged[0]);
        Assert.DoesNotContain("STARTTLS", caps.Untagged[0]);
        Assert.DoesNotContain("LOGINDISABLED", caps.Untagged[0]);

        var ok = await c.CommandAsync("AUTHENTICATE PLAIN " + Convert.ToBase64String(Encoding.UTF8.GetBytes($"\0alice@smtp.test\0{Pw}")));
        Assert.StartsWith("OK [CAPABILITY", ok.Tagged);
        Assert.Contains("MOVE", ok.Tagged);
        Assert.Contains("APPENDLIMIT=", ok.Tagged);
        Assert.StartsWith("BAD", (await c.CommandAsync("LOGIN a b")).Tagged);
        var logout = await c.CommandAsync("LOGOUT");
        Assert.Equal("* BYE Logging out", logout.Untagged[0]);
    }

    [Fact]
    public async Task Authenticate_without_initial_response_uses_a_continuation()
    {
        var (c, _) = await RawImap.ConnectAsync(host.Imaps, implicitTls: true);
        await using var _c = c;
        await c.SendRawAsync("x1 AUTHENTICATE PLAIN\r\n");
        Assert.Equal("+ ", await c.ReadLineAsync());
        await c.SendRawAsync(Convert.ToBase64String(Encoding.UTF8.GetBytes($"\0bob@smtp.test\0{Pw}")) + "\r\n");
        Assert.StartsWith("OK", (await c.ReadTaggedAsync("x1")).Tagged);
    }

    [Fact]
    public async Task Wrong_passwords_get_NO_and_the_third_closes_the_session()
    {
        var (c, _) = await RawImap.ConnectAsync(host.Imaps, implicitTls: true);
        await using var _c = c;
        Assert.StartsWith("NO [AUTHENTICATIONFAILED]", (await c.CommandAsync("LOGIN carol@smtp.test wrong1")).Tagged);
        Assert.StartsWith("NO [AUTHENTICATIONFAILED]", (await c.CommandAsync("LOGIN nobody@smtp.test wrong2")).Tagged);
        var third = await c.CommandAsync("LOGIN carol@smtp.test wrong3");
        Assert.StartsWith("NO [AUTHENTICATIONFAILED]", third.Tagged);
        Assert.True(await c.ClosedAsync());
    }

    [Fact]
    public async Task Commands_before_login_and_malformed_commands_get_BAD_with_the_tag()
    {
        var (c, _) = await RawImap.ConnectAsync(host.Imaps, implicitTls: true);
        await using var _c = c;
        Assert.Equal("BAD Log in first", (await c.CommandAsync("SELECT INBOX")).Tagged);
        Assert.Equal("BAD Unknown command", (await c.CommandAsync("FROB")).Tagged);
        Assert.StartsWith("BAD", (await c.CommandAsync("LOGIN \"unterminated")).Tagged);
        await c.SendRawAsync("\r\n");
        Assert.StartsWith("* BAD", await c.ReadLineAsync());
        await c.SendRawAsync("+tag NOOP\r\n");
        Assert.StartsWith("* BAD", await c.ReadLineAsync());
        await c.SendRawAsync("t9 NOOP\0\r\n");
        Assert.StartsWith("t9 BAD", await c.ReadLineAsync());
        await c.SendRawAsync(Encoding.UTF8.GetBytes("t10 LOGIN \"").Concat(new byte[] { 0xff, 0xfe }).Concat("\" x\r\n"u8.ToArray()).ToArray());
        Assert.StartsWith("t10 BAD", await c.ReadLineAsync());
        // The session is still usable.
        Assert.True((await c.CommandAsync("NOOP")).Ok);
    }

    [Fact]
    public async Task An_over_long_line_is_refused_and_the_session_goes_on()
    {
        var (c, _) = await RawImap.ConnectAsync(host.Imaps, implicitTls: true);
        await using var _c = c;
        await c.SendRawAsync("a1 NOOP " + new string('x', 70_000) + "\r\n");
        Assert.Equal("* BAD Line too long", await c.ReadLineAsync());
        Assert.True((await c.CommandAsync("NOOP")).Ok);
    }

    [Fact]
    public async Task Literals_synchronising_and_non_synchronising_in_any_argument()
    {
        var (c, _) = await RawImap.ConnectAsync(host.Imaps, implicitTls: true);
        await using var _c = c;
        var user = "dave@smtp.test";
        await c.SendRawAsync($"l1 LOGIN {{{user.Length}}}\r\n");
        Assert.StartsWith("+", await c.ReadLineAsync());
        await c.SendRawAsync($"{user} {{{Pw.Length}+}}\r\n{Pw}\r\n");
        Assert.StartsWith("OK", (await c.ReadTaggedAsync("l1")).Tagged);
        // A zero-length literal, and a literal holding CRLF and quotes.
        var name = "odd \"name\"\r\nx";
        Assert.StartsWith("NO", (await c.CommandAsync("SELECT {0+}\r\n")).Tagged);
        var bytes = Encoding.UTF8.GetByteCount(name);
        await c.SendRawAsync($"l2 CREATE {{{bytes}+}}\r\n{name}\r\n");
        Assert.StartsWith("NO [CANNOT]", (await c.ReadTaggedAsync("l2")).Tagged);
    }

    [Fact]
    public async Task An_APPEND_literal_over_the_limit_is_refused_before_it_is_sent()
    {
        var (c, _) = await NewUser();
        await using var _c = c;
        await c.SendRawAsync("t1 APPEND INBOX {999999999999}\r\n");
        var reply = await c.ReadLineAsync();
        Assert.StartsWith("t1 NO [TOOBIG]", reply);
        Assert.True((await c.CommandAsync("NOOP")).Ok);
        // A non-synchronising one is already on its way: the server says why and closes.
        await c.SendRawAsync("t2 APPEND INBOX {999999999999+}\r\nxxxx");
        Assert.StartsWith("* BYE [TOOBIG]", await c.ReadLineAsync());
        Assert.True(await c.ClosedAsync());
    }

    [Fact]
    public async Task A_literal_in_a_non_APPEND_command_is_limited_to_64_KiB()
    {
        var (c, _) = await NewUser();
        await using var _c = c;
        await c.SendRawAsync("t1 SEARCH TEXT {70000}\r\n");
        Assert.StartsWith("t1 NO [TOOBIG]", await c.ReadLineAsync());
    }

    [Fact]
    public async Task Append_select_fetch_with_APPENDUID_flags_and_internal_date()
    {
        var (c, _) = await NewUser();
        await using var _c = c;
        var r = await c.AppendAsync(Mixed, extra: "(\\Flagged $Work) \"05-Nov-2026 08:15:00 +0100\" ");
        Assert.Matches(@"^OK \[APPENDUID \d+ 1\]", r.Tagged);
        var select = await c.CommandAsync("SELECT INBOX");
        Assert.Contains("* 1 EXISTS", select.Untagged);
        Assert.Contains("* 1 RECENT", select.Untagged);
        Assert.Contains(select.Untagged, l => l.StartsWith("* OK [UIDVALIDITY "));
        Assert.Contains("* OK [UIDNEXT 2] Predicted next UID", select.Untagged);
        Assert.Contains("* OK [UNSEEN 1] First unseen", select.Untagged);
        Assert.StartsWith("OK [READ-WRITE]", select.Tagged);
        var f = await c.CommandAsync("FETCH 1 (FLAGS INTERNALDATE RFC822.SIZE UID)");
        Assert.Equal($"* 1 FETCH (FLAGS (\\Flagged \\Recent $Work) INTERNALDATE \"05-Nov-2026 08:15:00 +0100\" RFC822.SIZE {Encoding.UTF8.GetByteCount(Mixed)} UID 1)", f.Untagged[0]);
    }

    [Fact]
    public async Task BODYSTRUCTURE_of_multipart_mixed_with_attachment_and_message_rfc822()
    {
        var (c, _) = await NewUser();
        await using var _c = c;
        await c.AppendAsync(Mixed);
        await c.CommandAsync("SELECT INBOX");
        var f = await c.CommandAsync("FETCH 1 BODYSTRUCTURE");
        Assert.Equal(
            "* 1 FETCH (BODYSTRUCTURE ((\"TEXT\" \"PLAIN\" NIL NIL NIL \"7BIT\" 17 1 NIL NIL NIL NIL)" +
            "(\"APPLICATION\" \"PDF\" (\"NAME\" \"r.pdf\") NIL NIL \"BASE64\" 12 NIL (\"ATTACHMENT\" (\"FILENAME\" \"r.pdf\")) NIL NIL)" +
            "(\"MESSAGE\" \"RFC822\" NIL NIL NIL \"7BIT\" 152 " +
            "(NIL \"forwarded\" ((NIL NIL \"inner\" \"example.net\")) ((NIL NIL \"inner\" \"example.net\")) ((NIL NIL \"inner\" \"example.net\")) NIL NIL NIL NIL NIL) " +
            "((\"TEXT\" \"PLAIN\" NIL NIL NIL \"7BIT\" 10 1 NIL NIL NIL NIL) \"MIXED\" (\"BOUNDARY\" \"inner\") NIL NIL NIL) 9 NIL NIL NIL NIL) " +
            "\"MIXED\" (\"BOUNDARY\" \"outer\") NIL NIL NIL))",
            f.Untagged[0]);
        var body = await c.CommandAsync("FETCH 1 BODY");
        Assert.StartsWith("* 1 FETCH (BODY ((\"TEXT\" \"PLAIN\" NIL NIL NIL \"7BIT\" 17 1)", body.Untagged[0]);
    }

    [Fact]
    public async Task BODYSTRUCTURE_and_ENVELOPE_of_multipart_alternative_with_non_ASCII_headers()
    {
        var (c, _) = await NewUser();
        await using var _c = c;
        await c.AppendAsync(Alternative);
        await c.CommandAsync("SELECT INBOX");
        var f = await c.CommandAsync("FETCH 1 (ENVELOPE BODYSTRUCTURE)");
        Assert.Equal(
            "* 1 FETCH (ENVELOPE (\"Mon, 16 Nov 2026 09:30:00 +0800\" \"=?UTF-8?B?5Lya6K6u57qq6KaB?=\" " +
            "((\"=?utf-8?b?SsO8cmdlbg==?=\" NIL \"juergen\" \"example.org\")) ((\"=?utf-8?b?SsO8cmdlbg==?=\" NIL \"juergen\" \"example.org\")) " +
            "((\"=?utf-8?b?SsO8cmdlbg==?=\" NIL \"juergen\" \"example.org\")) ((\"Team\" NIL \"team\" \"example.org\")(NIL NIL \"li\" \"example.cn\")) " +
            "NIL NIL NIL \"<alt-1@example.org>\") " +
            "BODYSTRUCTURE ((\"TEXT\" \"PLAIN\" (\"CHARSET\" \"utf-8\") NIL NIL \"8BIT\" 32 2 NIL NIL NIL NIL)" +
            "(\"TEXT\" \"HTML\" (\"CHARSET\" \"utf-8\") NIL NIL \"7BIT\" 14 1 NIL NIL NIL NIL) \"ALTERNATIVE\" (\"BOUNDARY\" \"b1\") NIL NIL NIL))",
            f.Untagged[0]);
    }

    [Fact]
    public async Task Body_sections_partials_and_peek()
    {
        var (c, _) = await NewUser();
        await using var _c = c;
        await c.AppendAsync(Mixed);
        await c.CommandAsync("SELECT INBOX");
        var r = await c.CommandAsync("FETCH 1 (BODY.PEEK[1] BODY.PEEK[2.MIME] BODY.PEEK[3.HEADER.FIELDS (subject)] BODY.PEEK[3.1] BODY.PEEK[3.1.1] BODY.PEEK[HEADER.FIELDS.NOT (From To Content-Type)] BODY.PEEK[]<6.10> BODY.PEEK[9])");
        var line = r.Untagged[0];
        Assert.Contains("BODY[1] {17}\r\nSee the attached.", line);
        Assert.Contains("BODY[2.MIME] {133}\r\nContent-Type: application/pdf; name=\"r.pdf\"\r\nContent-Disposition: attachment; filename=\"r.pdf\"\r\nContent-Transfer-Encoding: base64\r\n\r\n", line);
        Assert.Contains("BODY[3.HEADER.FIELDS (SUBJECT)] {22}\r\nSubject: forwarded\r\n\r\n", line);
        Assert.Contains("BODY[3.1] {10}\r\ninner text", line);
        Assert.Contains("BODY[3.1.1] {0}", line);
        Assert.Contains("BODY[HEADER.FIELDS.NOT (FROM TO CONTENT-TYPE)] {28}\r\nSubject: report attached\r\n\r\n", line);
        Assert.Contains("BODY[]<6> {10}\r\nsender@exa", line);
        Assert.Contains("BODY[9] {0}", line);
        Assert.DoesNotContain("\\Seen", (await c.CommandAsync("FETCH 1 FLAGS")).Untagged[0]);
        // Without PEEK the message becomes \Seen, and the FETCH says so.
        var seen = await c.CommandAsync("FETCH 1 BODY[TEXT]<0.5>");
        Assert.Contains("FLAGS (\\Seen \\Recent)", seen.Untagged[0]);
        Assert.Contains("BODY[TEXT]<0> {5}\r\n--out", seen.Untagged[0]);
        var legacy = await c.CommandAsync("FETCH 1 (RFC822.HEADER RFC822.TEXT)");
        Assert.Contains("RFC822.HEADER {", legacy.Untagged[0]);
        Assert.Contains("RFC822.TEXT {", legacy.Untagged[0]);
        Assert.StartsWith("BAD", (await c.CommandAsync("FETCH 1 BODY[1.FOO]")).Tagged);
        Assert.StartsWith("BAD", (await c.CommandAsync("FETCH 1 (FLAGS")).Tagged);
        Assert.StartsWith("BAD", (await c.CommandAsync("FETCH 2 FLAGS")).Tagged);
        Assert.StartsWith("BAD", (await c.CommandAsync("FETCH 0 FLAGS")).Tagged);
    }

    [Fact]
    public async Task UID_sets_with_star_and_macros()
    {
        var (c, _) = await NewUser();
        await using var _c = c;
        for (var i = 0; i < 5; i++) await c.AppendAsync($"Subject: m{i}\r\n\r\nbody {i}\r\n");
        await c.CommandAsync("SELECT INBOX");
        await c.CommandAsync("UID STORE 2 +FLAGS.SILENT (\\Deleted)");
        await c.CommandAsync("EXPUNGE");
        // UIDs now 1,3,4,5.
        var all = await c.CommandAsync("UID FETCH 1:* (UID)");
        Assert.Equal(["* 1 FETCH (UID 1)", "* 2 FETCH (UID 3)", "* 3 FETCH (UID 4)", "* 4 FETCH (UID 5)"], all.Untagged);
        // n:* with n beyond the largest UID still names the largest (RFC 3501 6.4.8).
        Assert.Equal(["* 4 FETCH (UID 5)"], (await c.CommandAsync("UID FETCH 100:* (UID)")).Untagged);
        Assert.Equal(["* 2 FETCH (UID 3)", "* 4 FETCH (UID 5)"], (await c.CommandAsync("UID FETCH 2:3,5 (UID)")).Untagged);
        Assert.Equal(["* 3 FETCH (UID 4)", "* 4 FETCH (UID 5)"], (await c.CommandAsync("FETCH 3:* UID")).Untagged);
        Assert.Equal(["* 4 FETCH (UID 5)"], (await c.CommandAsync("FETCH * (UID)")).Untagged);
        var fast = await c.CommandAsync("FETCH 1 FAST");
        Assert.Matches(@"^\* 1 FETCH \(FLAGS \(.*\) INTERNALDATE "".*"" RFC822.SIZE \d+\)$", fast.Untagged[0]);
        Assert.Contains("ENVELOPE", (await c.CommandAsync("FETCH 1 ALL")).Untagged[0]);
        Assert.Contains("BODY (", (await c.CommandAsync("FETCH 1 FULL")).Untagged[0]);
        Assert.Empty((await c.CommandAsync("UID FETCH 2 (UID)")).Untagged);
    }

    [Fact]
    public async Task Search_keys_over_flags_dates_sizes_headers_and_text()
    {
        var (c, _) = await NewUser();
        await using var _c = c;
        await c.AppendAsync(Alternative, extra: "(\\Seen) \"16-Nov-2026 10:00:00 +0000\" ");
        await c.AppendAsync(Mixed, extra: "(\\Flagged) \"20-Nov-2026 10:00:00 +0000\" ");
        await c.AppendAsync("From: x@example.com\r\nSubject: small\r\nX-Tracker: abc123\r\nDate: Sat, 21 Nov 2026 12:00:00 +0000\r\n\r\ntiny\r\n", extra: "(kw1) ");
        await c.CommandAsync("SELECT INBOX");
        async Task<string> S(string q) => (await c.CommandAsync("SEARCH " + q)).Untagged.Single();
        Assert.Equal("* SEARCH 1 2 3", await S("ALL"));
        Assert.Equal("* SEARCH 1", await S("SEEN"));
        Assert.Equal("* SEARCH 2 3", await S("UNSEEN"));
        Assert.Equal("* SEARCH 2", await S("FLAGGED"));
        Assert.Equal("* SEARCH 3", await S("KEYWORD kw1"));
        Assert.Equal("* SEARCH 1 2", await S("UNKEYWORD kw1"));
        Assert.Equal("* SEARCH 1", await S("BEFORE 17-Nov-2026"));
        Assert.Equal("* SEARCH 2", await S("ON 20-Nov-2026"));
        Assert.Equal("* SEARCH 2 3", await S("SINCE 20-Nov-2026"));
        Assert.Equal("* SEARCH 3", await S("SENTSINCE 21-Nov-2026"));
        Assert.Equal("* SEARCH 1", await S("SENTBEFORE 17-Nov-2026"));
        Assert.Equal("* SEARCH 1", await S("SENTON \"16-Nov-2026\""));
        Assert.Equal("* SEARCH 3", await S("SMALLER 200"));
        Assert.Equal("* SEARCH 1 2", await S("LARGER 200"));
        Assert.Equal("* SEARCH 2", await S("SUBJECT REPORT"));
        Assert.Equal("* SEARCH 1", await S("CHARSET UTF-8 SUBJECT \"会议\""));
        Assert.Equal("* SEARCH 1", await S("CHARSET UTF-8 FROM {7+}\r\nJürgen"));
        Assert.Equal("* SEARCH 1", await S("TO li@example.cn"));
        Assert.Equal("* SEARCH 3", await S("HEADER X-Tracker abc"));
        Assert.Equal("* SEARCH 3", await S("HEADER X-Tracker \"\""));
        Assert.Equal("* SEARCH 1", await S("BODY \"grüße\""));
        Assert.Equal("* SEARCH 2", await S("BODY \"inner text\""));
        Assert.Equal("* SEARCH 2", await S("TEXT forwarded"));
        Assert.Equal("* SEARCH 1 3", await S("OR SEEN KEYWORD kw1"));
        Assert.Equal("* SEARCH 2 3", await S("NOT SEEN"));
        Assert.Equal("* SEARCH 3", await S("(UNSEEN UNFLAGGED) 2:*"));
        Assert.Equal("* SEARCH 2", await S("UID 2"));
        Assert.Equal("* SEARCH 1 2 3", await S("RECENT"));
        Assert.Equal("* SEARCH", await S("OLD"));
        Assert.Equal("* SEARCH 2 3", await S("NEW"));
        Assert.Equal("* SEARCH", await S("ANSWERED"));
        Assert.Equal("* SEARCH 1 2 3", await S("UNDELETED UNDRAFT UNANSWERED"));
        Assert.Equal("* SEARCH", await S("DELETED"));
        Assert.Equal("* SEARCH", await S("DRAFT"));
        Assert.Equal("* SEARCH 1", await S("NOT CC x OR BCC nobody FROM example.org 1"));
        Assert.Equal("* SEARCH 3", (await c.CommandAsync("UID SEARCH SUBJECT small")).Untagged.Single());
        var modseq = (await c.CommandAsync("SEARCH MODSEQ 1")).Untagged.Single();
        Assert.Matches(@"^\* SEARCH 1 2 3 \(MODSEQ \d+\)$", modseq);
        Assert.StartsWith("NO [BADCHARSET", (await c.CommandAsync("SEARCH CHARSET X-UNKNOWN-CHARSET ALL")).Tagged);
        Assert.StartsWith("BAD", (await c.CommandAsync("SEARCH FROBNICATE")).Tagged);
        Assert.StartsWith("BAD", (await c.CommandAsync("SEARCH BEFORE yesterday")).Tagged);
        Assert.StartsWith("BAD", (await c.CommandAsync("SEARCH")).Tagged);
    }

    [Fact]
    public async Task Store_flags_keywords_silent_and_unchangedsince()
    {
        var (c, _) = await NewUser();
        await using var _c = c;
        await c.AppendAsync("Subject: a\r\n\r\na\r\n");
        await c.AppendAsync("Subject: b\r\n\r\nb\r\n");
        await c.CommandAsync("EXAMINE INBOX");
        Assert.StartsWith("NO [READ-ONLY]", (await c.CommandAsync("STORE 1 +FLAGS (\\Seen)")).Tagged);
        await c.CommandAsync("SELECT INBOX");
        Assert.Equal("* 1 FETCH (FLAGS (\\Seen \\Recent))", (await c.CommandAsync("STORE 1 +FLAGS (\\Seen)")).Untagged.Single());
        // A new keyword is announced in FLAGS and PERMANENTFLAGS before the FETCH that shows it (RFC 3501 7.2.6).
        Assert.Equal(
            ["* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft Todo)",
             "* OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft Todo \\*)] Flags permitted",
             "* 1 FETCH (FLAGS (\\Seen \\Answered \\Recent Todo))"],
            (await c.CommandAsync("STORE 1 +FLAGS \\Answered Todo")).Untagged);
        Assert.Equal("* 1 FETCH (FLAGS (\\Answered \\Recent Todo))", (await c.CommandAsync("STORE 1 -FLAGS (\\Seen)")).Untagged.Single());
        Assert.Equal("* 2 FETCH (FLAGS (\\Draft \\Recent) UID 2)", (await c.CommandAsync("UID STORE 2 FLAGS (\\Draft)")).Untagged.Single());
        Assert.Empty((await c.CommandAsync("STORE 1:2 +FLAGS.SILENT (\\Flagged)")).Untagged);
        Assert.StartsWith("BAD", (await c.CommandAsync("STORE 1 +FLAGS (\\Bogus)")).Tagged);
        Assert.StartsWith("BAD", (await c.CommandAsync("STORE 1 SETFLAGS (\\Seen)")).Tagged);

        // CONDSTORE: a store based on an old MODSEQ fails for the changed message only.
        var fetched = (await c.CommandAsync("FETCH 1:2 (MODSEQ)")).Untagged;
        var m1 = long.Parse(System.Text.RegularExpressions.Regex.Match(fetched[0], @"MODSEQ \((\d+)\)").Groups[1].Value);
        await c.CommandAsync("STORE 2 +FLAGS (\\Seen)");
        var cond = await c.CommandAsync($"STORE 1:2 (UNCHANGEDSINCE {m1}) +FLAGS (\\Deleted)");
        Assert.StartsWith("OK [MODIFIED 2]", cond.Tagged);
        Assert.Contains(cond.Untagged, l => l.StartsWith("* 1 FETCH (FLAGS (") && l.Contains("\\Deleted") && l.Contains("MODSEQ ("));
        var changed = await c.CommandAsync($"FETCH 1:* (FLAGS) (CHANGEDSINCE {m1})");
        Assert.Equal(2, changed.Untagged.Count);
    }

    [Fact]
    public async Task Copy_move_and_expunge_report_uids_and_sequence_numbers()
    {
        var (c, _) = await NewUser();
        await using var _c = c;
        for (var i = 0; i < 4; i++) await c.AppendAsync($"Subject: m{i}\r\n\r\nx\r\n");
        await c.CommandAsync("SELECT INBOX");
        var copy = await c.CommandAsync("COPY 1:2 Archive");
        Assert.Matches(@"^OK \[COPYUID \d+ 1:2 1:2\] COPY completed$", copy.Tagged);
        Assert.StartsWith("NO [TRYCREATE]", (await c.CommandAsync("COPY 1 Nowhere")).Tagged);
        var move = await c.CommandAsync("UID MOVE 2:3 Archive");
        Assert.Matches(@"^\* OK \[COPYUID \d+ 2:3 3:4\]", move.Untagged[0]);
        Assert.Equal(["* 2 EXPUNGE", "* 2 EXPUNGE"], move.Untagged.Skip(1).ToList());
        Assert.Equal(["* 1 FETCH (UID 1)", "* 2 FETCH (UID 4)"], (await c.CommandAsync("FETCH 1:* UID")).Untagged);
        await c.CommandAsync("STORE 1:2 +FLAGS.SILENT (\\Deleted)");
        Assert.Equal(["* 2 EXPUNGE"], (await c.CommandAsync("UID EXPUNGE 4")).Untagged);
        Assert.Equal(["* 1 EXPUNGE"], (await c.CommandAsync("EXPUNGE")).Untagged);
        var status = await c.CommandAsync("STATUS Archive (MESSAGES UIDNEXT UNSEEN)");
        Assert.Equal("* STATUS Archive (MESSAGES 4 UIDNEXT 5 UNSEEN 4)", status.Untagged.Single());
        Assert.True((await c.CommandAsync("CLOSE")).Ok);
        Assert.StartsWith("BAD", (await c.CommandAsync("FETCH 1 UID")).Tagged);
    }

    [Fact]
    public async Task Folders_create_list_rename_delete_subscribe_with_modified_UTF7_names()
    {
        var (c, _) = await NewUser();
        await using var _c = c;
        Assert.True((await c.CommandAsync("CREATE Projects/2026")).Ok);
        Assert.StartsWith("NO [ALREADYEXISTS]", (await c.CommandAsync("CREATE Projects")).Tagged);
        // "客户" (customers) in modified UTF-7.
        Assert.True((await c.CommandAsync("CREATE &W6JiNw-")).Ok);
        var list = await c.CommandAsync("LIST \"\" *");
        Assert.Contains("* LIST (\\HasChildren) \"/\" Projects", list.Untagged);
        Assert.Contains("* LIST (\\HasNoChildren) \"/\" Projects/2026", list.Untagged);
        Assert.Contains("* LIST (\\HasNoChildren) \"/\" &W6JiNw-", list.Untagged);
        Assert.Contains("* LIST (\\HasNoChildren \\Sent) \"/\" Sent", list.Untagged);
        Assert.Equal(["* LIST (\\HasChildren) \"/\" Projects"], (await c.CommandAsync("LIST \"\" %o%")).Untagged);
        Assert.Equal(["* LIST (\\Noselect) \"/\" \"\""], (await c.CommandAsync("LIST \"\" \"\"")).Untagged);
        Assert.Equal(["* LIST (\\HasNoChildren) \"/\" Projects/2026"], (await c.CommandAsync("LIST Projects/ %")).Untagged);
        var special = await c.CommandAsync("LIST (SPECIAL-USE) \"\" *");
        Assert.Equal(5, special.Untagged.Count);
        var withStatus = await c.CommandAsync("LIST \"\" INBOX RETURN (STATUS (MESSAGES UIDNEXT))");
        Assert.Equal(["* LIST (\\HasNoChildren) \"/\" INBOX", "* STATUS INBOX (MESSAGES 0 UIDNEXT 1)"], withStatus.Untagged);

        Assert.True((await c.CommandAsync("UNSUBSCRIBE Projects/2026")).Ok);
        var lsub = await c.CommandAsync("LSUB \"\" Projects*");
        Assert.Equal(["* LSUB (\\HasChildren) \"/\" Projects"], lsub.Untagged);
        var subscribed = await c.CommandAsync("LIST (SUBSCRIBED) \"\" Projects*");
        Assert.Equal(["* LIST (\\HasChildren \\Subscribed) \"/\" Projects"], subscribed.Untagged);

        Assert.True((await c.CommandAsync("RENAME Projects Archive/Projects")).Ok);
        Assert.Contains("* LIST (\\HasNoChildren) \"/\" Archive/Projects/2026", (await c.CommandAsync("LIST \"\" *")).Untagged);
        Assert.StartsWith("NO", (await c.CommandAsync("RENAME INBOX Old")).Tagged);
        Assert.StartsWith("NO", (await c.CommandAsync("DELETE INBOX")).Tagged);
        Assert.StartsWith("NO [NONEXISTENT]", (await c.CommandAsync("DELETE Nothing")).Tagged);
        Assert.True((await c.CommandAsync("DELETE Archive/Projects/2026")).Ok);
        Assert.StartsWith("NO [NONEXISTENT]", (await c.CommandAsync("SELECT Archive/Projects/2026")).Tagged);

        // With UTF8=ACCEPT names travel as UTF-8.
        Assert.Equal("* ENABLED UTF8=ACCEPT", (await c.CommandAsync("ENABLE UTF8=ACCEPT")).Untagged.Single());
        Assert.Contains("* LIST (\\HasNoChildren) \"/\" \"客户\"", (await c.CommandAsync("LIST \"\" *")).Untagged);
        Assert.True((await c.CommandAsync("SELECT \"客户\"")).Ok);
    }

    [Fact]
    public async Task Namespace_id_enable_status_quota()
    {
        var (c, _) = await NewUser();
        await using var _c = c;
        Assert.Equal("* NAMESPACE ((\"\" \"/\")) NIL NIL", (await c.CommandAsync("NAMESPACE")).Untagged.Single());
        Assert.Equal("* ID (\"name\" \"GrainMail\")", (await c.CommandAsync("ID (\"name\" \"test\" \"version\" NIL)")).Untagged.Single());
        // QRESYNC is offered now (RFC 7162), so ENABLE turns it on too.
        Assert.Equal("* ENABLED CONDSTORE QRESYNC", (await c.CommandAsync("ENABLE CONDSTORE QRESYNC")).Untagged.Single());
        await c.AppendAsync("Subject: q\r\n\r\n" + new string('z', 3000) + "\r\n");
        var status = await c.CommandAsync("STATUS INBOX (MESSAGES RECENT UIDNEXT UIDVALIDITY UNSEEN HIGHESTMODSEQ SIZE)");
        Assert.Matches(@"^\* STATUS INBOX \(MESSAGES 1 RECENT 1 UIDNEXT 2 UIDVALIDITY \d+ UNSEEN 1 HIGHESTMODSEQ \d+ SIZE 3016\)$", status.Untagged.Single());
        var quota = await c.CommandAsync("GETQUOTAROOT INBOX");
        Assert.Equal("* QUOTAROOT INBOX \"\"", quota.Untagged[0]);
        Assert.Matches(@"^\* QUOTA """" \(STORAGE 3 \d+\)$", quota.Untagged[1]);
        Assert.Equal(quota.Untagged[1], (await c.CommandAsync("GETQUOTA \"\"")).Untagged.Single());
        Assert.StartsWith("NO", (await c.CommandAsync("SETQUOTA \"\" (STORAGE 1)")).Tagged);
        Assert.StartsWith("BAD", (await c.CommandAsync("STATUS INBOX (BOGUS)")).Tagged);
    }

    [Fact]
    public async Task Another_session_changes_arrive_as_untagged_updates_with_sequence_rules()
    {
        var (a, user) = await NewUser();
        await using var _a = a;
        await using var b = await RawImap.LoginAsync(host.Imaps, user, Pw);
        for (var i = 0; i < 3; i++) await a.AppendAsync($"Subject: s{i}\r\n\r\nx\r\n");
        await a.CommandAsync("SELECT INBOX");
        await b.CommandAsync("SELECT INBOX");

        await a.CommandAsync("STORE 2 +FLAGS (\\Deleted)");
        await a.CommandAsync("EXPUNGE");
        await a.AppendAsync("Subject: new\r\n\r\nx\r\n");

        // A FETCH by sequence number may not shift numbers: no EXPUNGE yet, flags may come.
        var fetch = await b.CommandAsync("FETCH 1:3 (UID)");
        Assert.DoesNotContain(fetch.Untagged, l => l.EndsWith("EXPUNGE"));
        Assert.Contains("* 4 EXISTS", fetch.Untagged);
        // NOOP delivers the expunge.
        var noop = await b.CommandAsync("NOOP");
        Assert.Contains("* 2 EXPUNGE", noop.Untagged);
        Assert.Equal(["* 1 FETCH (UID 1)", "* 2 FETCH (UID 3)", "* 3 FETCH (UID 4)"], (await b.CommandAsync("FETCH 1:* (UID)")).Untagged);
        await a.CommandAsync("STORE 1 +FLAGS (\\Flagged)");
        var flags = await b.CommandAsync("NOOP");
        Assert.Contains(flags.Untagged, l => l.StartsWith("* 1 FETCH (FLAGS (\\Flagged") && l.Contains("UID 1"));
    }

    [Fact]
    public async Task Idle_reports_a_delivery_and_ends_with_DONE()
    {
        var (c, user) = await NewUser();
        await using var _c = c;
        await c.CommandAsync("SELECT INBOX");
        await c.SendRawAsync("i1 IDLE\r\n");
        Assert.StartsWith("+", await c.ReadLineAsync());
        await using (var other = await RawImap.LoginAsync(host.Imaps, user, Pw))
            await other.AppendAsync("Subject: pushed\r\n\r\nx\r\n");
        Assert.Equal("* 1 EXISTS", await c.ReadLineAsync());
        // The idling session is the first told of the delivery: it holds its \Recent (RFC 3501 7.3.2).
        Assert.Equal("* 1 RECENT", await c.ReadLineAsync());
        await c.SendRawAsync("DONE\r\n");
        Assert.Equal("i1 OK IDLE terminated", await c.ReadLineAsync());
        await c.SendRawAsync("i2 IDLE\r\n");
        Assert.StartsWith("+", await c.ReadLineAsync());
        await c.SendRawAsync("NOTDONE\r\n");
        Assert.StartsWith("i2 BAD", await c.ReadLineAsync());
    }

    [Fact]
    public async Task Pipelined_commands_are_answered_in_order()
    {
        var (c, _) = await NewUser();
        await using var _c = c;
        await c.SendRawAsync("p1 SELECT INBOX\r\np2 NOOP\r\np3 STATUS Sent (MESSAGES)\r\np4 CHECK\r\n");
        Assert.StartsWith("OK", (await c.ReadTaggedAsync("p1")).Tagged);
        Assert.StartsWith("OK", (await c.ReadTaggedAsync("p2")).Tagged);
        Assert.Equal("* STATUS Sent (MESSAGES 0)", (await c.ReadTaggedAsync("p3")).Untagged.Single());
        Assert.StartsWith("OK", (await c.ReadTaggedAsync("p4")).Tagged);
    }
}

using System.Text;
using GrainMail.Tests.Infrastructure;

namespace GrainMail.Tests;

/// <summary>
/// The IMAP extensions as a client speaks them, byte for byte over real TCP (TLS): ESEARCH,
/// SEARCHRES, SORT, SORT=DISPLAY, THREAD, CONDSTORE/QRESYNC with VANISHED, BINARY, COMPRESS=DEFLATE,
/// OBJECTID, LITERAL-, UNAUTHENTICATE and ENABLE IMAP4rev2.
/// </summary>
public sealed class ImapExtensionTests(SmtpHostFixture host) : IClassFixture<SmtpHostFixture>
{
    private const string Pw = SmtpHostFixture.Password;

    private async Task<(RawImap C, string User)> NewUser()
    {
        var local = "x" + Guid.NewGuid().ToString("N")[..10];
        await host.NewAccount(local);
        var user = $"{local}@{SmtpHostFixture.Domain}";
        return (await RawImap.LoginAsync(host.Imaps, user, Pw), user);
    }

    private static async Task<ImapResponse> Append(RawImap c, string message, string folder = "INBOX", string prefix = "")
    {
        var bytes = Encoding.UTF8.GetBytes(message);
        var tag = c.NextTag();
        await c.SendRawAsync($"{tag} APPEND {folder} {prefix}{{{bytes.Length}+}}\r\n");
        await c.SendRawAsync([.. bytes, .. "\r\n"u8]);
        var r = await c.ReadTaggedAsync(tag);
        Assert.True(r.Ok, r.Text);
        return r;
    }

    /// <summary>The ESEARCH line with its tag correlator checked against the command's tag and left out.</summary>
    private static async Task<(string Line, ImapResponse Response)> Esearch(RawImap c, string command)
    {
        var tag = c.NextTag();
        await c.SendRawAsync($"{tag} {command}\r\n");
        var r = await c.ReadTaggedAsync(tag);
        var line = r.Untagged.SingleOrDefault(l => l.StartsWith("* ESEARCH", StringComparison.Ordinal)) ?? "";
        var correlator = $"* ESEARCH (TAG \"{tag}\")";
        Assert.True(line.Length == 0 || line.StartsWith(correlator, StringComparison.Ordinal), line);
        return (line.Length == 0 ? "" : "* ESEARCH" + line[correlator.Length..], r);
    }

    private static string Mail(string subject, string from = "a@example.org", string date = "Mon, 16 Nov 2026 09:00:00 +0000",
        string? id = null, string? references = null, string to = "z@example.org", string body = "text") =>
        $"From: {from}\r\nTo: {to}\r\nSubject: {subject}\r\nDate: {date}\r\n" + (id is null ? "" : $"Message-ID: <{id}>\r\n") +
        (references is null ? "" : $"References: {references}\r\n") + $"\r\n{body}\r\n";

    [Fact]
    public async Task Capabilities_after_login_advertise_each_extension()
    {
        var (c, _) = await NewUser();
        await using var _ = c;
        var caps = (await c.CommandAsync("CAPABILITY")).Untagged[0].Split(' ');
        foreach (var cap in new[] { "IMAP4rev1", "IMAP4rev2", "ESEARCH", "SEARCHRES", "SORT", "SORT=DISPLAY", "THREAD=REFERENCES",
            "THREAD=ORDEREDSUBJECT", "CONDSTORE", "QRESYNC", "BINARY", "COMPRESS=DEFLATE", "OBJECTID", "UNAUTHENTICATE", "SAVEDATE", "LITERAL+" })
            Assert.Contains(cap, caps);
    }

    [Fact]
    public async Task Esearch_answers_min_max_count_all_and_save_keeps_a_result_for_dollar()
    {
        var (c, _) = await NewUser();
        await using var _ = c;
        for (var i = 1; i <= 6; i++) await Append(c, Mail("m" + i), prefix: i % 2 == 0 ? "(\\Flagged) " : "");
        await c.CommandAsync("SELECT INBOX");

        var all = await Esearch(c, "SEARCH RETURN (MIN MAX COUNT ALL) FLAGGED");
        var uid = await Esearch(c, "UID SEARCH RETURN () 1:3");
        var none = await Esearch(c, "SEARCH RETURN (MIN COUNT) KEYWORD nothing");
        var save = await c.CommandAsync("SEARCH RETURN (SAVE) FLAGGED");
        var usesSaved = await c.CommandAsync("FETCH $ (FLAGS)");
        var narrowed = await c.CommandAsync("UID SEARCH UID $ 4:*");
        var saveMin = await Esearch(c, "SEARCH RETURN (SAVE MIN) FLAGGED");
        var afterMin = await c.CommandAsync("SEARCH $");

        Assert.Equal("* ESEARCH MIN 2 MAX 6 COUNT 3 ALL 2,4,6", all.Line);
        Assert.Equal("* ESEARCH UID ALL 1:3", uid.Line);
        Assert.Equal("* ESEARCH COUNT 0", none.Line);
        // SAVE alone answers nothing but OK (RFC 5182 2.1); "$" then names the saved messages.
        Assert.True(save.Ok && save.Untagged.Count == 0, save.Text);
        Assert.Equal(["2", "4", "6"], usesSaved.Untagged.Select(l => l.Split(' ')[1]));
        Assert.Equal("* SEARCH 4 6", Assert.Single(narrowed.Untagged));
        Assert.Equal("* ESEARCH MIN 2", saveMin.Line);
        Assert.Equal("* SEARCH 2", Assert.Single(afterMin.Untagged));
    }

    [Fact]
    public async Task Sort_orders_by_base_subject_date_size_and_display_name()
    {
        var (c, _) = await NewUser();
        await using var _ = c;
        await Append(c, Mail("Re: beta", from: "\"Zoe\" <zoe@example.org>", date: "Mon, 16 Nov 2026 09:00:03 +0000", body: "aaaaaaaaaaaaaaaaaaaa"));
        await Append(c, Mail("alpha", from: "bob@example.org", date: "Mon, 16 Nov 2026 09:00:01 +0000"));
        await Append(c, Mail("[list] Beta", from: "\"Anna\" <zed@example.org>", date: "Mon, 16 Nov 2026 09:00:02 +0000", body: "aaaaaaaaaa"));
        await c.CommandAsync("SELECT INBOX");

        var subject = await c.CommandAsync("SORT (SUBJECT DATE) UTF-8 ALL");
        var reverseDate = await c.CommandAsync("UID SORT (REVERSE DATE) UTF-8 ALL");
        var from = await c.CommandAsync("SORT (FROM) UTF-8 ALL");
        var display = await c.CommandAsync("SORT (DISPLAYFROM) UTF-8 ALL");
        var size = await c.CommandAsync("SORT (REVERSE SIZE) US-ASCII NOT SUBJECT alpha");
        var charset = await c.CommandAsync("SORT (DATE) X-NO-SUCH-CHARSET ALL");
        var bad = await c.CommandAsync("SORT (COLOUR) UTF-8 ALL");

        Assert.Equal("* SORT 2 3 1", Assert.Single(subject.Untagged));
        Assert.Equal("* SORT 1 3 2", Assert.Single(reverseDate.Untagged));
        // FROM sorts by the mailbox's local part (bob, zed, zoe), DISPLAYFROM by the name (Anna, bob@…, Zoe).
        Assert.Equal("* SORT 2 3 1", Assert.Single(from.Untagged));
        Assert.Equal("* SORT 3 2 1", Assert.Single(display.Untagged));
        Assert.Equal("* SORT 1 3", Assert.Single(size.Untagged));
        Assert.StartsWith("NO [BADCHARSET", charset.Tagged);
        Assert.StartsWith("BAD", bad.Tagged);
    }

    [Fact]
    public async Task Thread_groups_replies_by_references_and_by_subject()
    {
        var (c, _) = await NewUser();
        await using var _ = c;
        await Append(c, Mail("Plan", id: "p1@x", date: "Mon, 16 Nov 2026 09:00:01 +0000"));
        await Append(c, Mail("Other", id: "o1@x", date: "Mon, 16 Nov 2026 09:00:02 +0000"));
        await Append(c, Mail("Re: Plan", id: "p2@x", references: "<p1@x>", date: "Mon, 16 Nov 2026 09:00:03 +0000"));
        await Append(c, Mail("Re: Plan", id: "p3@x", references: "<p1@x> <p2@x>", date: "Mon, 16 Nov 2026 09:00:04 +0000"));
        await Append(c, Mail("Re: Plan", id: "p4@x", references: "<p1@x>", date: "Mon, 16 Nov 2026 09:00:05 +0000"));
        await c.CommandAsync("SELECT INBOX");

        var references = await c.CommandAsync("THREAD REFERENCES UTF-8 ALL");
        var ordered = await c.CommandAsync("UID THREAD ORDEREDSUBJECT UTF-8 ALL");
        var empty = await c.CommandAsync("THREAD REFERENCES UTF-8 SUBJECT nowhere");

        Assert.Equal("* THREAD (1 (3 4)(5))(2)", Assert.Single(references.Untagged));
        Assert.Equal("* THREAD (1 (3)(4)(5))(2)", Assert.Single(ordered.Untagged));
        Assert.Equal("* THREAD", Assert.Single(empty.Untagged));
    }

    [Fact]
    public async Task Qresync_reports_vanished_messages_and_changed_flags()
    {
        var (c, user) = await NewUser();
        await using var _ = c;
        for (var i = 1; i <= 5; i++) await Append(c, Mail("q" + i));
        var refused = await c.CommandAsync("SELECT INBOX (QRESYNC (1 1))");
        Assert.StartsWith("BAD", refused.Tagged);
        Assert.Contains("QRESYNC", (await c.CommandAsync("ENABLE QRESYNC")).Untagged[0]);
        var first = await c.CommandAsync("SELECT INBOX");
        var uidValidity = Between(first.Text, "[UIDVALIDITY ", "]");
        var modseq = long.Parse(Between(first.Text, "[HIGHESTMODSEQ ", "]"));

        // Another session changes the mailbox meanwhile.
        await using (var other = await RawImap.LoginAsync(host.Imaps, user, Pw))
        {
            await other.CommandAsync("SELECT INBOX");
            await other.CommandAsync("STORE 2 +FLAGS (\\Seen)");
            await other.CommandAsync("STORE 4 +FLAGS (\\Deleted)");
            Assert.True((await other.CommandAsync("EXPUNGE")).Ok);
        }
        await c.CommandAsync("UNSELECT");
        var resync = await c.CommandAsync($"SELECT INBOX (QRESYNC ({uidValidity} {modseq} 1:5))");
        Assert.True(resync.Ok, resync.Text);
        Assert.Contains("* VANISHED (EARLIER) 4", resync.Untagged);
        Assert.Contains(resync.Untagged, l => l.StartsWith("* 2 FETCH (UID 2 FLAGS (\\Seen", StringComparison.Ordinal) && l.Contains("MODSEQ ("));
        Assert.DoesNotContain(resync.Untagged, l => l.StartsWith("* 1 FETCH", StringComparison.Ordinal));

        // After ENABLE QRESYNC, expunges are VANISHED, not EXPUNGE (RFC 7162 3.2.10).
        await c.CommandAsync("STORE 1 +FLAGS (\\Deleted)");
        var expunge = await c.CommandAsync("EXPUNGE");
        Assert.Contains("* VANISHED 1", expunge.Untagged);
        Assert.DoesNotContain(expunge.Untagged, l => l.EndsWith(" EXPUNGE", StringComparison.Ordinal));
        var changed = await c.CommandAsync($"UID FETCH 1:* (FLAGS) (CHANGEDSINCE {modseq} VANISHED)");
        Assert.Equal("* VANISHED (EARLIER) 1,4", changed.Untagged[0]);
        Assert.Contains(changed.Untagged, l => l.Contains("UID 2 ", StringComparison.Ordinal));
        // A mismatched UIDVALIDITY is a plain SELECT: no VANISHED (RFC 7162 3.2.5).
        var stale = await c.CommandAsync($"SELECT INBOX (QRESYNC (999 {modseq}))");
        Assert.Contains("* OK [CLOSED] Previous mailbox closed", stale.Untagged);
        Assert.DoesNotContain(stale.Untagged, l => l.StartsWith("* VANISHED", StringComparison.Ordinal));
    }

    private static string Between(string text, string start, string end)
    {
        var i = text.IndexOf(start, StringComparison.Ordinal) + start.Length;
        return text[i..text.IndexOf(end, i, StringComparison.Ordinal)];
    }

    private const string Attachment =
        "From: a@example.org\r\nTo: b@example.org\r\nSubject: file\r\nMIME-Version: 1.0\r\n" +
        "Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n" +
        "--b1\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nGr=C3=BC=C3=9Fe\r\n" +
        "--b1\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\nAAEC/w==\r\n" +
        "--b1\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: x-unknown\r\n\r\nzz\r\n--b1--\r\n";

    [Fact]
    public async Task Binary_fetches_parts_with_their_transfer_encoding_undone()
    {
        var (c, _) = await NewUser();
        await using var _ = c;
        await Append(c, Attachment);
        await c.CommandAsync("SELECT INBOX");

        var text = await c.CommandAsync("FETCH 1 (BINARY.PEEK[1] BINARY.SIZE[1])");
        var size = await c.CommandAsync("FETCH 1 (BINARY.SIZE[2])");
        var tag = c.NextTag();
        await c.SendRawAsync($"{tag} FETCH 1 (BINARY.PEEK[2])\r\n");
        var head = await c.ReadLineAsync();
        var octets = await c.ReadBytesAsync(4);
        var rest = await c.ReadTaggedAsync(tag);
        var partial = await c.CommandAsync("FETCH 1 (BINARY.PEEK[1]<2.2>)");
        var unknown = await c.CommandAsync("FETCH 1 (BINARY.PEEK[3])");
        var flags = await c.CommandAsync("FETCH 1 (FLAGS)");

        Assert.Equal("* 1 FETCH (BINARY[1] {7}\r\nGrüße BINARY.SIZE[1] 7)", Assert.Single(text.Untagged));
        Assert.Equal("* 1 FETCH (BINARY.SIZE[2] 4)", Assert.Single(size.Untagged));
        // A NUL among the octets: a literal8 (RFC 3516 4.2).
        Assert.Equal("* 1 FETCH (BINARY[2] ~{4}", head);
        Assert.Equal(new byte[] { 0, 1, 2, 0xff }, octets);
        Assert.True(rest.Ok, rest.Text);
        Assert.Equal("* 1 FETCH (BINARY[1]<2> {2}\r\nü)", Assert.Single(partial.Untagged));
        Assert.StartsWith("NO [UNKNOWN-CTE]", unknown.Tagged);
        Assert.DoesNotContain("\\Seen", flags.Untagged[0]);

        // APPEND of a literal8: accepted when it can be stored as a message; a NUL outside any part
        // body (here in a header) cannot be kept, and that is UNKNOWN-CTE (RFC 3516 4.4).
        var ok = await Append(c, Mail("eight"), prefix: "~");
        Assert.Contains("APPENDUID", ok.Tagged);
        var nulTag = c.NextTag();
        var nulHeader = "Subject: a\0b\r\n\r\nbody\r\n";
        await c.SendRawAsync($"{nulTag} APPEND INBOX ~{{{nulHeader.Length}+}}\r\n{nulHeader}\r\n");
        Assert.StartsWith("NO [UNKNOWN-CTE]", (await c.ReadTaggedAsync(nulTag)).Tagged);
    }

    /// <summary>A part in "binary" transfer encoding: NUL, a bare LF, a bare CR and 8-bit octets.</summary>
    private static readonly byte[] BinaryOctets = [0x00, 0x0a, (byte)'x', 0x0d, 0xff, 0x00, (byte)'y'];

    private static byte[] BinaryMessage() =>
    [
        .. "From: a@example.org\r\nTo: b@example.org\r\nSubject: raw\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"q\"\r\n\r\n"u8,
        .. "--q\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n--q\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: binary\r\n\r\n"u8,
        .. BinaryOctets,
        .. "\r\n--q--\r\n"u8,
    ];

    [Fact]
    public async Task Binary_append_in_a_literal8_keeps_every_octet_of_a_binary_part()
    {
        var (c, _) = await NewUser();
        await using var _ = c;
        var message = BinaryMessage();
        var tag = c.NextTag();
        await c.SendRawAsync($"{tag} APPEND INBOX ~{{{message.Length}}}\r\n");
        // A synchronising literal8: the server asks for it like for any literal.
        Assert.StartsWith("+", await c.ReadLineAsync());
        await c.SendRawAsync([.. message, .. "\r\n"u8]);
        var appended = await c.ReadTaggedAsync(tag);
        await c.CommandAsync("SELECT INBOX");
        var size = await c.CommandAsync("FETCH 1 (BINARY.SIZE[2])");
        var fetchTag = c.NextTag();
        await c.SendRawAsync($"{fetchTag} FETCH 1 (BINARY.PEEK[2])\r\n");
        var head = await c.ReadLineAsync();
        var octets = await c.ReadBytesAsync(BinaryOctets.Length);
        var fetched = await c.ReadTaggedAsync(fetchTag);
        var structure = await c.CommandAsync("FETCH 1 (BODYSTRUCTURE)");
        var first = await c.CommandAsync("FETCH 1 (BINARY.PEEK[1])");

        Assert.True(appended.Ok, appended.Text);
        Assert.Contains("APPENDUID", appended.Tagged);
        Assert.Equal($"* 1 FETCH (BINARY.SIZE[2] {BinaryOctets.Length})", Assert.Single(size.Untagged));
        Assert.Equal($"* 1 FETCH (BINARY[2] ~{{{BinaryOctets.Length}}}", head);
        Assert.Equal(BinaryOctets, octets);
        Assert.True(fetched.Ok, fetched.Text);
        // Stored as message text: the binary part is kept base64-encoded, the text part as it came.
        Assert.Contains("\"BASE64\"", structure.Untagged[0]);
        Assert.Equal("* 1 FETCH (BINARY[1] {12}\r\nsee attached)", Assert.Single(first.Untagged));
    }

    [Fact]
    public async Task Imap4rev2_select_lists_the_mailbox_and_a_rev2_session_never_claims_recent()
    {
        var (rev1, user) = await NewUser();
        await using var _ = rev1;
        await using var rev2 = await RawImap.LoginAsync(host.Imaps, user, Pw);
        await rev2.CommandAsync("ENABLE IMAP4rev2");
        Assert.True((await rev2.CommandAsync("CREATE Projects/2026")).Ok);
        var select = await rev2.CommandAsync("SELECT inbox");
        var examine = await rev2.CommandAsync("EXAMINE Projects");

        // A new message while the rev2 session has INBOX selected: EXISTS, and no RECENT (RFC 9051 E.1).
        await rev2.CommandAsync("SELECT INBOX");
        await Append(rev1, Mail("new"));
        var noop = await rev2.CommandAsync("NOOP");
        var flags = await rev2.CommandAsync("FETCH 1 (FLAGS)");
        // The rev2 session claimed nothing, so a rev1 session is the first to see it \Recent (RFC 3501 2.3.2).
        var rev1Select = await rev1.CommandAsync("SELECT INBOX");
        // A mailbox with children cannot be deleted here: NO [HASCHILDREN] (RFC 9051 6.3.4).
        var delete = await rev2.CommandAsync("DELETE Projects");
        // RFC 7889 3.2 (and STATUS SIZE of RFC 9051 6.3.11) for a mailbox that is not selected.
        var status = await rev2.CommandAsync("STATUS Projects (APPENDLIMIT SIZE MESSAGES)");

        Assert.Contains(select.Untagged, l => l.StartsWith("* LIST (\\HasNoChildren", StringComparison.Ordinal) && l.EndsWith(" \"/\" INBOX", StringComparison.Ordinal));
        Assert.DoesNotContain(select.Untagged, l => l.EndsWith(" RECENT", StringComparison.Ordinal));
        Assert.Contains(examine.Untagged, l => l.StartsWith("* LIST (\\HasChildren", StringComparison.Ordinal) && l.EndsWith(" \"/\" Projects", StringComparison.Ordinal));
        Assert.Equal(["* 1 EXISTS"], noop.Untagged);
        Assert.DoesNotContain("\\Recent", Assert.Single(flags.Untagged));
        Assert.Contains("* 1 RECENT", rev1Select.Untagged);
        Assert.DoesNotContain(rev1Select.Untagged, l => l.StartsWith("* LIST", StringComparison.Ordinal));
        Assert.StartsWith("NO [HASCHILDREN]", delete.Tagged);
        Assert.Matches(@"^\* STATUS Projects \(APPENDLIMIT [1-9][0-9]* SIZE 0 MESSAGES 0\)$", Assert.Single(status.Untagged));
    }

    [Fact]
    public async Task Append_utf8_carries_a_message_with_utf8_headers_after_utf8_accept()
    {
        var (c, _) = await NewUser();
        await using var _ = c;
        var message = Encoding.UTF8.GetBytes("From: Jörg <j@example.org>\r\nSubject: Grüße 测试\r\n\r\nhallo\r\n");
        // Before ENABLE UTF8=ACCEPT the UTF8 data item is not known (RFC 6855 4).
        var early = c.NextTag();
        await c.SendRawAsync([.. Encoding.ASCII.GetBytes($"{early} APPEND INBOX UTF8 (~{{{message.Length}+}}\r\n"), .. message, .. ")\r\n"u8]);
        var refused = await c.ReadTaggedAsync(early);
        await c.CommandAsync("ENABLE UTF8=ACCEPT");
        var tag = c.NextTag();
        await c.SendRawAsync([.. Encoding.ASCII.GetBytes($"{tag} APPEND INBOX (\\Seen) UTF8 (~{{{message.Length}+}}\r\n"), .. message, .. ")\r\n"u8]);
        var appended = await c.ReadTaggedAsync(tag);
        await c.CommandAsync("SELECT INBOX");
        var subject = await c.CommandAsync("FETCH 1 (FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)])");

        Assert.StartsWith("BAD", refused.Tagged);
        Assert.True(appended.Ok, appended.Text);
        Assert.Contains("Subject: Grüße 测试", subject.Untagged[0]);
        Assert.Contains("\\Seen", subject.Untagged[0]);
    }

    [Fact]
    public async Task Compress_deflate_carries_the_rest_of_the_session()
    {
        var (c, _) = await NewUser();
        await using var _ = c;
        await Append(c, Mail("compressed"));
        var bad = await c.CommandAsync("COMPRESS BROTLI");
        var ok = await c.CommandAsync("COMPRESS DEFLATE");
        c.StartDeflate();
        var select = await c.CommandAsync("SELECT INBOX");
        var fetch = await c.CommandAsync("FETCH 1 (BODY.PEEK[HEADER.FIELDS (SUBJECT)])");
        var again = await c.CommandAsync("COMPRESS DEFLATE");
        var caps = await c.CommandAsync("CAPABILITY");

        Assert.StartsWith("BAD", bad.Tagged);
        Assert.True(ok.Ok, ok.Text);
        Assert.Contains("* 1 EXISTS", select.Untagged);
        Assert.Contains("Subject: compressed", fetch.Untagged[0]);
        Assert.StartsWith("NO [COMPRESSIONACTIVE]", again.Tagged);
        Assert.DoesNotContain("COMPRESS=DEFLATE", caps.Untagged[0]);
    }

    [Fact]
    public async Task Object_ids_stay_with_messages_and_mailboxes()
    {
        var (c, _) = await NewUser();
        await using var _ = c;
        await Append(c, Mail("root", id: "r@x"));
        await Append(c, Mail("Re: root", id: "s@x", references: "<r@x>"));
        var create = await c.CommandAsync("CREATE Projects");
        var status = await c.CommandAsync("STATUS Projects (MAILBOXID MESSAGES)");
        var select = await c.CommandAsync("SELECT INBOX");
        var fetch = await c.CommandAsync("FETCH 1:2 (EMAILID THREADID)");
        await c.CommandAsync("COPY 1 Projects");
        await c.CommandAsync("RENAME Projects Work");
        var renamed = await c.CommandAsync("STATUS Work (MAILBOXID)");
        await c.CommandAsync("SELECT Work");
        var copied = await c.CommandAsync("FETCH 1 (EMAILID)");

        var mailboxId = Between(create.Tagged, "[MAILBOXID (", ")]");
        Assert.Contains($"MAILBOXID ({mailboxId})", status.Untagged[0]);
        Assert.Contains($"MAILBOXID ({mailboxId})", renamed.Untagged[0]);
        Assert.Contains(select.Untagged, l => l.StartsWith("* OK [MAILBOXID (", StringComparison.Ordinal) && !l.Contains(mailboxId));
        var emailId = Between(fetch.Untagged[0], "EMAILID (", ")");
        Assert.Equal(Between(fetch.Untagged[0], "THREADID (", ")"), Between(fetch.Untagged[1], "THREADID (", ")"));
        Assert.NotEqual(emailId, Between(fetch.Untagged[1], "EMAILID (", ")"));
        Assert.Equal(emailId, Between(copied.Untagged[0], "EMAILID (", ")"));
        await c.CommandAsync("SELECT INBOX");
        Assert.Equal("* SEARCH 1", Assert.Single((await c.CommandAsync($"SEARCH EMAILID {emailId}")).Untagged));
        var threadId = Between(fetch.Untagged[0], "THREADID (", ")");
        Assert.Equal("* SEARCH 1 2", Assert.Single((await c.CommandAsync($"SEARCH THREADID {threadId}")).Untagged));
    }

    [Fact]
    public async Task Savedate_is_when_the_message_entered_its_mailbox_not_its_internal_date()
    {
        var (c, _) = await NewUser();
        await using var _ = c;
        var before = DateTimeOffset.UtcNow.AddMinutes(-1);
        await Append(c, Mail("old"), prefix: "\"01-Jan-2001 10:00:00 +0200\" ");
        await c.CommandAsync("SELECT INBOX");
        var fetch = await c.CommandAsync("FETCH 1 (INTERNALDATE SAVEDATE)");
        var today = DateTime.UtcNow.ToString("d-MMM-yyyy", System.Globalization.CultureInfo.InvariantCulture);
        var since = await c.CommandAsync($"SEARCH SAVEDSINCE {today}");
        var beforeKey = await c.CommandAsync("SEARCH SAVEDBEFORE 1-Jan-2002");
        var supported = await c.CommandAsync("SEARCH SAVEDATESUPPORTED");

        Assert.Contains("INTERNALDATE \"01-Jan-2001 10:00:00 +0200\"", fetch.Untagged[0]);
        var saved = Between(fetch.Untagged[0], "SAVEDATE \"", "\"");
        Assert.True(GrainMail.Gateways.Imap.Commands.ImapCommandParser.TryParseDateTime(saved, out var savedAt), saved);
        Assert.InRange(savedAt, before, DateTimeOffset.UtcNow.AddMinutes(1));
        Assert.Equal("* SEARCH 1", Assert.Single(since.Untagged));
        Assert.Equal("* SEARCH", Assert.Single(beforeKey.Untagged));
        Assert.Equal("* SEARCH 1", Assert.Single(supported.Untagged));
    }

    [Fact]
    public async Task Unauthenticate_returns_to_the_login_state_on_the_same_connection()
    {
        var (c, user) = await NewUser();
        await using var _ = c;
        await c.CommandAsync("ENABLE QRESYNC");
        await c.CommandAsync("SELECT INBOX");
        var r = await c.CommandAsync("UNAUTHENTICATE");
        var select = await c.CommandAsync("SELECT INBOX");
        var caps = await c.CommandAsync("CAPABILITY");
        var login = await c.CommandAsync($"LOGIN \"{user}\" \"{Pw}\"");
        var examine = await c.CommandAsync("EXAMINE INBOX (QRESYNC (1 1))");

        Assert.True(r.Ok, r.Text);
        Assert.Equal("BAD Log in first", select.Tagged);
        Assert.Contains("AUTH=PLAIN", caps.Untagged[0]);
        Assert.True(login.Ok, login.Text);
        // What was ENABLEd went with the old login (RFC 8437 3).
        Assert.StartsWith("BAD", examine.Tagged);
    }

    [Fact]
    public async Task Non_synchronising_literals_of_4096_octets_are_taken_anywhere()
    {
        var (c, _) = await NewUser();
        await using var _ = c;
        await Append(c, Mail("literal", body: new string('q', 5000)));
        await c.CommandAsync("SELECT INBOX");
        var needle = new string('q', 4096);
        var tag = c.NextTag();
        await c.SendRawAsync($"{tag} SEARCH BODY {{4096+}}\r\n{needle}\r\n");
        var r = await c.ReadTaggedAsync(tag);
        Assert.True(r.Ok, r.Text);
        Assert.Equal("* SEARCH 1", Assert.Single(r.Untagged));
    }

    [Fact]
    public async Task Enable_imap4rev2_answers_search_with_esearch_and_drops_recent()
    {
        var (c, _) = await NewUser();
        await using var _ = c;
        await Append(c, Mail("rev2"));
        var enabled = await c.CommandAsync("ENABLE IMAP4rev2");
        var select = await c.CommandAsync("SELECT INBOX");
        var search = await Esearch(c, "SEARCH ALL");
        var flags = await c.CommandAsync("FETCH 1 (FLAGS)");

        Assert.Equal("* ENABLED IMAP4rev2", Assert.Single(enabled.Untagged));
        Assert.DoesNotContain(select.Untagged, l => l.EndsWith(" RECENT", StringComparison.Ordinal));
        Assert.Equal("* ESEARCH ALL 1", search.Line);
        Assert.DoesNotContain("\\Recent", flags.Untagged[0]);
    }

    [Fact]
    public async Task After_enable_imap4rev2_recent_keys_and_status_recent_are_bad_and_a_failed_save_says_notsaved()
    {
        var (c, _) = await NewUser();
        await using var _ = c;
        await Append(c, Mail("rev2 gaps"));
        Assert.True((await c.CommandAsync("SELECT INBOX")).Ok);
        // Still IMAP4rev1: the keys and the item work as RFC 3501 has them.
        Assert.True((await c.CommandAsync("SEARCH NEW")).Ok);
        Assert.True((await c.CommandAsync("STATUS INBOX (RECENT)")).Ok);
        // A SAVE that fails empties $ and says so (RFC 5182 2.1, RFC 9051 7.1 NOTSAVED); the charset problem is still named.
        Assert.True((await c.CommandAsync("SEARCH RETURN (SAVE) ALL")).Ok);
        var failed = await c.CommandAsync("SEARCH RETURN (SAVE) CHARSET X-NO-SUCH-CHARSET ALL");
        Assert.StartsWith("NO [NOTSAVED]", failed.Tagged);
        Assert.Contains(failed.Untagged, l => l.StartsWith("* NO [BADCHARSET", StringComparison.Ordinal));
        Assert.DoesNotContain((await c.CommandAsync("FETCH $ (UID)")).Untagged, l => l.Contains(" FETCH ", StringComparison.Ordinal));
        // Without SAVE a failed SEARCH is only the charset's NO.
        Assert.StartsWith("NO [BADCHARSET", (await c.CommandAsync("SEARCH CHARSET X-NO-SUCH-CHARSET ALL")).Tagged);

        Assert.True((await c.CommandAsync("ENABLE IMAP4rev2")).Ok);
        foreach (var key in new[] { "RECENT", "NEW", "OLD", "OR SEEN NOT RECENT" })
        {
            var r = await c.CommandAsync("SEARCH " + key);
            Assert.StartsWith("BAD", r.Tagged);
            Assert.Contains("\\Recent", r.Tagged);
        }
        // The words as arguments are still just words.
        Assert.True((await c.CommandAsync("SEARCH SUBJECT new")).Ok);
        Assert.StartsWith("BAD", (await c.CommandAsync("STATUS INBOX (MESSAGES RECENT)")).Tagged);
        Assert.StartsWith("BAD", (await c.CommandAsync("LIST \"\" % RETURN (STATUS (RECENT))")).Tagged);
        Assert.True((await c.CommandAsync("STATUS INBOX (MESSAGES UIDNEXT)")).Ok);
    }

    [Fact]
    public async Task A_rev2_session_is_told_the_kept_name_with_oldname_after_rename_and_a_normalised_create()
    {
        var (c, _) = await NewUser();
        await using var _ = c;
        Assert.True((await c.CommandAsync("CREATE Before")).Ok);
        // A rev1 session gets no extended LIST data it cannot read.
        var rev1 = await c.CommandAsync("RENAME Before Middle");
        Assert.True(rev1.Ok);
        Assert.Empty(rev1.Untagged);

        Assert.True((await c.CommandAsync("ENABLE IMAP4rev2")).Ok);
        var rename = await c.CommandAsync("RENAME Middle After");
        Assert.True(rename.Ok);
        Assert.Equal("* LIST () \"/\" After (\"OLDNAME\" (Middle))", Assert.Single(rename.Untagged));
        // INBOX's children are kept under INBOX in upper case: the name asked for comes as OLDNAME (RFC 9051 6.3.4).
        var create = await c.CommandAsync("CREATE inbox/Child");
        Assert.True(create.Ok);
        Assert.Equal("* LIST () \"/\" INBOX/Child (\"OLDNAME\" (inbox/Child))", Assert.Single(create.Untagged));
        var list = await c.CommandAsync("LIST \"\" *");
        Assert.Contains(list.Untagged, l => l.EndsWith(" After", StringComparison.Ordinal) || l.EndsWith(" \"After\"", StringComparison.Ordinal));
        Assert.DoesNotContain(list.Untagged, l => l.Contains("Middle", StringComparison.Ordinal));
    }

    [Fact]
    public async Task After_enable_imap4rev2_check_and_the_rfc822_fetch_items_are_bad_with_the_reason_and_lsub_still_answers()
    {
        var (c, _) = await NewUser();
        await using var _ = c;
        await Append(c, Mail("rev1 syntax"));
        Assert.True((await c.CommandAsync("SELECT INBOX")).Ok);
        // IMAP4rev1 has them all.
        Assert.True((await c.CommandAsync("CHECK")).Ok);
        Assert.True((await c.CommandAsync("LSUB \"\" *")).Ok);
        Assert.True((await c.CommandAsync("FETCH 1 (RFC822.HEADER)")).Ok);

        Assert.True((await c.CommandAsync("ENABLE IMAP4rev2")).Ok);
        // RFC 9051 Appendix E: CHECK removed, RFC822 fetch items removed.
        foreach (var (command, instead) in new[]
        {
            ("CHECK", "NOOP"), ("FETCH 1 RFC822", "BODY[]"),
            ("UID FETCH 1:* (FLAGS RFC822.HEADER)", "BODY.PEEK[HEADER]"), ("FETCH 1 RFC822.TEXT", "BODY[TEXT]"),
        })
        {
            var r = await c.CommandAsync(command);
            Assert.StartsWith("BAD", r.Tagged);
            Assert.Contains("IMAP4rev2", r.Tagged);
            Assert.Contains(instead, r.Tagged);
            Assert.DoesNotContain(r.Untagged, l => l.Contains(" FETCH ", StringComparison.Ordinal));
        }
        // What replaces them works, RFC822.SIZE stays, and the session goes on.
        var fetch = await c.CommandAsync("FETCH 1 (RFC822.SIZE BODY.PEEK[HEADER])");
        Assert.True(fetch.Ok, fetch.Text);
        Assert.Contains("RFC822.SIZE ", fetch.Untagged[0]);
        Assert.True((await c.CommandAsync("LIST (SUBSCRIBED) \"\" *")).Ok);
        Assert.True((await c.CommandAsync("NOOP")).Ok);
        // LSUB is deprecated, not removed (RFC 9051 E): a client that still sends it gets its answer.
        var lsub = await c.CommandAsync("LSUB \"\" *");
        Assert.True(lsub.Ok, lsub.Text);
        Assert.Contains(lsub.Untagged, l => l.StartsWith("* LSUB (", StringComparison.Ordinal) && l.EndsWith(" \"/\" INBOX", StringComparison.Ordinal));
    }
}

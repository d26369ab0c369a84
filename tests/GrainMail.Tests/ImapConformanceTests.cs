using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using GrainMail.Tests.Infrastructure;

namespace GrainMail.Tests;

/// <summary>
/// IMAP against the letter of RFC 3501 / RFC 9051 and the extensions GrainMail offers, on real
/// TCP against the real host: each test names the rule it checks. Update rules are checked with two
/// sessions on one mailbox, as a client that keeps its own view of the mailbox depends on them.
/// </summary>
public sealed partial class ImapConformanceTests(SmtpHostFixture host) : IClassFixture<SmtpHostFixture>
{
    private const string Pw = SmtpHostFixture.Password;

    static ImapConformanceTests() => Encoding.RegisterProvider(CodePagesEncodingProvider.Instance);

    private Task<(RawImap C, string User)> NewUser() => RawImap.NewUserAsync(host, "c");

    /// <summary>The line of <paramref name="r"/> that matches, its index in the untagged responses.</summary>
    private static int IndexOf(ImapResponse r, string line)
    {
        var i = r.Untagged.IndexOf(line);
        Assert.True(i >= 0, $"expected \"{line}\" in:\n{r.Text}");
        return i;
    }

    // ---- RFC 3501 6.3.11, 6.4.7, 7.3.1; RFC 6851 4.3: new messages in the selected mailbox ----------

    [Fact]
    public async Task Append_copy_and_move_into_the_selected_mailbox_report_EXISTS_and_RECENT_in_their_own_response()
    {
        var (a, user) = await NewUser();
        await using var _a = a;
        await using var b = await RawImap.LoginAsync(host.Imaps, user, Pw);
        Assert.True((await a.CommandAsync("SELECT INBOX")).Ok);
        Assert.True((await b.CommandAsync("SELECT INBOX")).Ok);

        // RFC 3501 6.3.11: "If the destination mailbox is the currently selected mailbox, the server
        // SHOULD notify the client ... EXISTS"; the appending session is the first told, so it is \Recent there.
        var appended = await a.AppendAsync("Subject: one\r\n\r\nx\r\n");
        Assert.True(appended.Ok, appended.Text);
        IndexOf(appended, "* 1 EXISTS");
        IndexOf(appended, "* 1 RECENT");
        Assert.Equal(["* 1 EXISTS", "* 0 RECENT"], (await b.CommandAsync("NOOP")).Untagged);

        // COPY to the selected mailbox (RFC 3501 6.4.7): the copy arrives in the same response.
        var copied = await a.CommandAsync("COPY 1 INBOX");
        Assert.Matches(@"^OK \[COPYUID \d+ 1 2\]", copied.Tagged);
        IndexOf(copied, "* 2 EXISTS");
        IndexOf(copied, "* 2 RECENT");

        // MOVE within the selected mailbox (RFC 6851 4.3): COPYUID, EXPUNGE of the source, EXISTS of the new UID.
        var moved = await a.CommandAsync("MOVE 1 INBOX");
        Assert.True(moved.Ok, moved.Text);
        var copyUid = IndexOf(moved, moved.Untagged.Single(l => l.StartsWith("* OK [COPYUID ", StringComparison.Ordinal)));
        Assert.Matches(@"^\* OK \[COPYUID \d+ 1 3\]", moved.Untagged[copyUid]);
        Assert.True(IndexOf(moved, "* 1 EXPUNGE") > copyUid);
        IndexOf(moved, "* 2 EXISTS");
        Assert.Equal("* 2 FETCH (UID 3)", (await a.CommandAsync("FETCH 2 UID")).Untagged.Single());

        // The other session learns the same (RFC 3501 7.3.1, 7.4.1) but holds no \Recent for them.
        var noop = await b.CommandAsync("NOOP");
        Assert.True(IndexOf(noop, "* 1 EXPUNGE") < IndexOf(noop, "* 2 EXISTS"), noop.Text);
        Assert.Contains("* 0 RECENT", noop.Untagged);
        var flags = await b.CommandAsync("FETCH 1:* (UID FLAGS)");
        Assert.Equal(["* 1 FETCH (UID 2 FLAGS ())", "* 2 FETCH (UID 3 FLAGS ())"], flags.Untagged);
    }

    // ---- RFC 3501 2.3.2: \Recent in exactly one session; 6.3.10 STATUS RECENT ---------------------

    [Fact]
    public async Task A_new_message_is_recent_in_exactly_one_session_and_STATUS_RECENT_follows()
    {
        var (a, user) = await NewUser();
        await using var _a = a;
        await using var b = await RawImap.LoginAsync(host.Imaps, user, Pw);
        await using var c = await RawImap.LoginAsync(host.Imaps, user, Pw);
        await a.CommandAsync("SELECT INBOX");
        await b.CommandAsync("SELECT INBOX");

        Assert.True((await c.AppendAsync("Subject: new\r\n\r\nx\r\n")).Ok);
        Assert.Equal("* STATUS INBOX (RECENT 1)", (await c.CommandAsync("STATUS INBOX (RECENT)")).Untagged.Single());

        // "the first session to be notified about a message": a, by its NOOP.
        var first = await a.CommandAsync("NOOP");
        Assert.Equal(["* 1 EXISTS", "* 1 RECENT"], first.Untagged);
        var second = await b.CommandAsync("NOOP");
        Assert.Equal(["* 1 EXISTS", "* 0 RECENT"], second.Untagged);
        Assert.Equal("* 1 FETCH (FLAGS (\\Recent))", (await a.CommandAsync("FETCH 1 FLAGS")).Untagged.Single());
        Assert.Equal("* 1 FETCH (FLAGS ())", (await b.CommandAsync("FETCH 1 FLAGS")).Untagged.Single());
        Assert.Equal("* SEARCH 1", (await a.CommandAsync("SEARCH RECENT")).Untagged.Single());
        Assert.Equal("* SEARCH", (await b.CommandAsync("SEARCH RECENT")).Untagged.Single());

        // Claimed by a session, so recent for no other: STATUS and a later SELECT say 0.
        Assert.Equal("* STATUS INBOX (RECENT 0)", (await c.CommandAsync("STATUS INBOX (RECENT)")).Untagged.Single());
        Assert.Contains("* 0 RECENT", (await c.CommandAsync("SELECT INBOX")).Untagged);
    }

    // ---- RFC 3501 7.2.6 FLAGS, 7.1 PERMANENTFLAGS: keywords are announced before they are shown -------

    [Fact]
    public async Task A_keyword_reaches_FETCH_FLAGS_only_after_an_untagged_FLAGS_that_lists_it()
    {
        var (a, user) = await NewUser();
        await using var _a = a;
        await using var b = await RawImap.LoginAsync(host.Imaps, user, Pw);
        Assert.True((await a.AppendAsync("Subject: k\r\n\r\nx\r\n", extra: "($Known) ")).Ok);

        var select = await a.CommandAsync("SELECT INBOX");
        Assert.Contains("* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft $Known)", select.Untagged);
        Assert.Contains("* OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft $Known \\*)] Flags permitted", select.Untagged);
        await b.CommandAsync("SELECT INBOX");

        // The storing session: FLAGS (and PERMANENTFLAGS) first, then the FETCH that shows the keyword.
        var store = await b.CommandAsync("STORE 1 +FLAGS ($Label1)");
        var flagsAt = IndexOf(store, "* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft $Known $Label1)");
        IndexOf(store, "* OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft $Known $Label1 \\*)] Flags permitted");
        var fetchAt = store.Untagged.FindIndex(l => l.StartsWith("* 1 FETCH (FLAGS (", StringComparison.Ordinal) && l.Contains("$Label1"));
        Assert.True(fetchAt > flagsAt, store.Text);

        // The other session hears of it the same way.
        var noop = await a.CommandAsync("NOOP");
        var announced = IndexOf(noop, "* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft $Known $Label1)");
        var shown = noop.Untagged.FindIndex(l => l.StartsWith("* 1 FETCH (", StringComparison.Ordinal) && l.Contains("$Label1"));
        Assert.True(shown > announced, noop.Text);
        // Known already: no second FLAGS.
        var again = await b.CommandAsync("STORE 1 -FLAGS ($Label1)");
        Assert.DoesNotContain(again.Untagged, l => l.StartsWith("* FLAGS", StringComparison.Ordinal));
    }

    // ---- RFC 3501 7.4.2 ENVELOPE ---------------------------------------------------------------

    [Fact]
    public async Task ENVELOPE_sender_and_reply_to_are_the_from_value_when_absent_or_empty()
    {
        var (c, _) = await NewUser();
        await using var _c = c;
        Assert.True((await c.AppendAsync("From: Ann <ann@example.org>\r\nReply-To:\r\nTo: bob@example.org\r\nSubject: e\r\n\r\nx\r\n")).Ok);
        await c.CommandAsync("SELECT INBOX");
        var envelope = (await c.CommandAsync("FETCH 1 ENVELOPE")).Untagged.Single();
        // "If the Sender or Reply-To lines are absent in the [RFC-2822] header, or are present but
        // empty, the server sets the corresponding member of the envelope to be the same value as the from member."
        const string from = "((\"Ann\" NIL \"ann\" \"example.org\"))";
        Assert.Contains($"{from} {from} {from} ((NIL NIL \"bob\" \"example.org\"))", envelope);
    }

    // ---- RFC 5258 LIST-EXTENDED, RFC 3501 6.3.9 LSUB, RFC 5819 LIST-STATUS ----------------------------

    [Fact]
    public async Task LIST_EXTENDED_selects_subscribed_names_recursively_and_marks_what_does_not_exist()
    {
        var (c, _) = await NewUser();
        await using var _c = c;
        var caps = (await c.CommandAsync("CAPABILITY")).Untagged.Single();
        Assert.Contains(" LIST-EXTENDED", caps);
        Assert.Contains(" LIST-STATUS", caps);
        Assert.True((await c.CommandAsync("CREATE Foo/Bar")).Ok);
        Assert.True((await c.CommandAsync("CREATE Baz")).Ok);
        Assert.True((await c.CommandAsync("UNSUBSCRIBE Foo")).Ok);
        // RFC 3501 6.3.6: a name may be subscribed that does not exist, and a subscription outlives its mailbox.
        Assert.True((await c.CommandAsync("SUBSCRIBE Ghost")).Ok);
        Assert.True((await c.CommandAsync("CREATE Gone")).Ok);
        Assert.True((await c.CommandAsync("DELETE Gone")).Ok);

        // RFC 5258 3.4: subscribed names that do not exist are \NonExistent.
        var subscribed = await c.CommandAsync("LIST (SUBSCRIBED) \"\" \"*\"");
        Assert.Contains("* LIST (\\NonExistent \\Subscribed) \"/\" Ghost", subscribed.Untagged);
        Assert.Contains("* LIST (\\NonExistent \\Subscribed) \"/\" Gone", subscribed.Untagged);
        Assert.Contains("* LIST (\\HasNoChildren \\Subscribed) \"/\" Foo/Bar", subscribed.Untagged);
        Assert.DoesNotContain(subscribed.Untagged, l => l.EndsWith(" Foo", StringComparison.Ordinal));

        // RFC 5258 3.5: RECURSIVEMATCH returns Foo (unsubscribed) for its subscribed child, with CHILDINFO.
        var recursive = await c.CommandAsync("LIST (SUBSCRIBED RECURSIVEMATCH) \"\" \"%\"");
        Assert.Contains("* LIST (\\HasChildren) \"/\" Foo (\"CHILDINFO\" (\"SUBSCRIBED\"))", recursive.Untagged);
        Assert.Contains("* LIST (\\HasNoChildren \\Subscribed) \"/\" Baz", recursive.Untagged);
        Assert.DoesNotContain(recursive.Untagged, l => l.Contains("Foo/Bar"));
        // RECURSIVEMATCH alone is a syntax error (RFC 5258 3).
        Assert.StartsWith("BAD", (await c.CommandAsync("LIST (RECURSIVEMATCH) \"\" \"%\"")).Tagged);

        // RETURN (CHILDREN SUBSCRIBED) on a plain selection.
        var returned = await c.CommandAsync("LIST \"\" \"%\" RETURN (CHILDREN SUBSCRIBED)");
        Assert.Contains("* LIST (\\HasChildren) \"/\" Foo", returned.Untagged);
        Assert.Contains("* LIST (\\HasNoChildren \\Subscribed) \"/\" Baz", returned.Untagged);
        Assert.DoesNotContain(returned.Untagged, l => l.Contains("Ghost"));

        // RFC 3501 6.3.9: LSUB % with foo/bar subscribed and foo not: foo is \Noselect.
        var lsub = await c.CommandAsync("LSUB \"\" \"%\"");
        Assert.Contains("* LSUB (\\Noselect \\HasChildren) \"/\" Foo", lsub.Untagged);
        Assert.Contains("* LSUB (\\Noselect) \"/\" Ghost", lsub.Untagged);

        // RFC 5819: STATUS for the selectable mailboxes listed, none for names that do not exist.
        var status = await c.CommandAsync("LIST (SUBSCRIBED) \"\" \"*\" RETURN (STATUS (MESSAGES))");
        Assert.Contains("* STATUS Baz (MESSAGES 0)", status.Untagged);
        Assert.DoesNotContain(status.Untagged, l => l.StartsWith("* STATUS Ghost", StringComparison.Ordinal));
    }

    // ---- RFC 6851 MOVE -------------------------------------------------------------------------

    [Fact]
    public async Task MOVE_answers_COPYUID_and_EXPUNGEs_and_the_other_session_sees_the_expunge()
    {
        var (a, user) = await NewUser();
        await using var _a = a;
        await using var b = await RawImap.LoginAsync(host.Imaps, user, Pw);
        for (var i = 0; i < 3; i++) await a.AppendAsync($"Subject: m{i}\r\n\r\nx\r\n");
        await a.CommandAsync("SELECT INBOX");
        await b.CommandAsync("SELECT INBOX");

        // RFC 6851 4.3: COPYUID in an untagged OK before the EXPUNGE responses.
        var moved = await a.CommandAsync("MOVE 2 Trash");
        Assert.True(moved.Ok, moved.Text);
        Assert.Matches(@"^\* OK \[COPYUID \d+ 2 1\]", moved.Untagged[0]);
        Assert.Equal("* 2 EXPUNGE", moved.Untagged[1]);
        var uidMoved = await a.CommandAsync("UID MOVE 3 Trash");
        Assert.Matches(@"^\* OK \[COPYUID \d+ 3 2\]", uidMoved.Untagged[0]);
        Assert.Equal("* 2 EXPUNGE", uidMoved.Untagged[1]);

        // UIDs 2 and 3 were sequence numbers 2 and 3; after the first EXPUNGE the second is number 2 (RFC 3501 7.4.1).
        Assert.Equal(["* 2 EXPUNGE", "* 2 EXPUNGE"], (await b.CommandAsync("NOOP")).Untagged);
        Assert.Equal("* STATUS Trash (MESSAGES 2)", (await b.CommandAsync("STATUS Trash (MESSAGES)")).Untagged.Single());
        // STATUS DELETED counts the \Deleted messages (RFC 9051 6.3.11), not a constant.
        await b.CommandAsync("STORE 1 +FLAGS (\\Deleted)");
        Assert.Equal("* STATUS INBOX (MESSAGES 1 DELETED 1)", (await b.CommandAsync("STATUS INBOX (MESSAGES DELETED)")).Untagged.Single());
        await b.CommandAsync("STORE 1 -FLAGS (\\Deleted)");
        // MOVE by sequence number with an expunge the client has not heard of yet: the number it
        // sent still names the message it saw (RFC 3501 7.4.1), the expunge waits.
        Assert.True((await a.AppendAsync("Subject: m3\r\n\r\nx\r\n")).Ok);
        await b.CommandAsync("NOOP");
        await a.CommandAsync("STORE 1 +FLAGS (\\Deleted)");
        await a.CommandAsync("EXPUNGE");
        var held = await b.CommandAsync("MOVE 2 Junk");
        Assert.Matches(@"^\* OK \[COPYUID \d+ 4 1\]", held.Untagged.Single(l => l.StartsWith("* OK [COPYUID", StringComparison.Ordinal)));
        Assert.Equal("* 2 EXPUNGE", held.Untagged.Single(l => l.EndsWith(" EXPUNGE", StringComparison.Ordinal)));
    }

    // ---- RFC 3501 6.4.4: FROM/TO/CC/BCC match the field as written, decoded ------------------------

    [Fact]
    public async Task SEARCH_address_keys_match_display_names_and_encoded_words_as_substrings()
    {
        var (c, _) = await NewUser();
        await using var _c = c;
        Assert.True((await c.AppendAsync("From: =?UTF-8?B?SsO8cmdlbiBHcm/Dnw==?= <jg@example.org>\r\n" +
            "To: \"Smith, Anna\" <anna@example.net>\r\n" +
            "Cc: \"=?ISO-8859-1?Q?Ren=E9?= Dupont\" <rene@example.fr>\r\n" +
            "Bcc: Hidden Person <hidden@example.com>\r\n" +
            "Subject: addresses\r\n\r\nx\r\n")).Ok);
        Assert.True((await c.AppendAsync("From: other@example.org\r\nTo: other@example.org\r\nSubject: other\r\n\r\nx\r\n")).Ok);
        await c.CommandAsync("SELECT INBOX");

        foreach (var query in new[]
        {
            "FROM \"Jürgen\"", "FROM \"groß\"", "FROM \"jg@example\"", "TO \"Smith, Anna\"", "TO \"anna\"",
            "CC \"René\"", "CC \"rené dupont\"", "BCC \"hidden person\"", "BCC \"example.com\"",
        })
        {
            Assert.Equal("* SEARCH 1", (await c.CommandAsync("SEARCH CHARSET UTF-8 " + query)).Untagged.Single());
        }
        Assert.Equal("* SEARCH", (await c.CommandAsync("SEARCH FROM \"Smith\"")).Untagged.Single());
        Assert.Equal("* SEARCH 1 2", (await c.CommandAsync("SEARCH FROM \"example.org\"")).Untagged.Single());
    }

    // ---- RFC 3501 5.1.3 mailbox names: NO with a reason, never BAD or a disconnect -------------------

    [Theory]
    [InlineData("CREATE \"&AGE-\"")]        // "a" base64-encoded: not the canonical form
    [InlineData("CREATE \"&Jjo\"")]         // unterminated
    [InlineData("CREATE \"&2D0-\"")]        // a lone surrogate
    [InlineData("CREATE \"a*b\"")]          // list wildcards in a name
    [InlineData("CREATE \"x%\"")]
    [InlineData("SELECT \"&AGE-\"")]
    [InlineData("RENAME INBOX/x \"&AGE-\"")]
    [InlineData("APPEND \"&AGE-\" {1+}\r\nx")]
    public async Task A_mailbox_name_that_cannot_be_is_refused_with_NO_and_the_session_goes_on(string command)
    {
        var (c, _) = await NewUser();
        await using var _c = c;
        var r = await c.CommandAsync(command);
        Assert.Matches(@"^NO \[(CANNOT|NONEXISTENT|TRYCREATE)\] \S", r.Tagged);
        Assert.True((await c.CommandAsync("NOOP")).Ok);
        Assert.DoesNotContain(r.Untagged, l => l.StartsWith("* BYE", StringComparison.Ordinal));
    }

    // ---- RFC 3501 2.3.3 INTERNALDATE -------------------------------------------------------------

    [Fact]
    public async Task INTERNALDATE_keeps_the_zone_APPEND_gave_and_a_delivery_has_the_servers_zone()
    {
        var (c, user) = await NewUser();
        await using var _c = c;
        Assert.True((await c.AppendAsync("Subject: dated\r\n\r\nx\r\n", extra: "\"17-Jul-1996 02:44:25 -0700\" ")).Ok);
        Assert.True((await c.AppendAsync("Subject: east\r\n\r\nx\r\n", extra: "\"01-Feb-2026 23:30:00 +0800\" ")).Ok);
        await host.StoreDirectAsync(user, "From: a@example.org\r\nSubject: delivered\r\n\r\nx\r\n"u8.ToArray());
        await Eventually.Until(async () => await host.InboxCount(user) == 3, TimeSpan.FromSeconds(30), "the delivery");
        await c.CommandAsync("SELECT INBOX");

        var dates = await c.CommandAsync("FETCH 1:3 INTERNALDATE");
        Assert.Equal("* 1 FETCH (INTERNALDATE \"17-Jul-1996 02:44:25 -0700\")", dates.Untagged[0]);
        Assert.Equal("* 2 FETCH (INTERNALDATE \"01-Feb-2026 23:30:00 +0800\")", dates.Untagged[1]);
        var offset = TimeZoneInfo.Local.GetUtcOffset(DateTime.UtcNow);
        var zone = (offset < TimeSpan.Zero ? "-" : "+") + offset.ToString("hhmm", CultureInfo.InvariantCulture);
        Assert.Matches($"^\\* 3 FETCH \\(INTERNALDATE \"\\d\\d-\\w\\w\\w-\\d{{4}} \\d\\d:\\d\\d:\\d\\d {Regex.Escape(zone)}\"\\)$", dates.Untagged[2]);
        // SEARCH ON compares the date in the message's own zone (RFC 3501 6.4.4, "disregarding time and timezone").
        Assert.Equal("* SEARCH 2", (await c.CommandAsync("SEARCH ON 1-Feb-2026")).Untagged.Single());
    }

    // ---- RFC 3501 6.4.4: every key compares after charset decoding ----------------------------------

    /// <summary>An RFC 2047 B encoded word of <paramref name="text"/> in <paramref name="charset"/> (code page <paramref name="codePage"/>).</summary>
    private static string EncodedWord(string charset, int codePage, string text) =>
        $"=?{charset}?B?{Convert.ToBase64String(Encoding.GetEncoding(codePage).GetBytes(text))}?=";

    [Fact]
    public async Task SEARCH_finds_UTF8_criteria_in_headers_and_bodies_of_any_charset()
    {
        var (c, _) = await NewUser();
        await using var _c = c;
        // 1-3: the Subject "测试" as GB2312, GBK and GB18030 encoded words; 4: Big5; 5: ISO-2022-JP;
        // 6: a text/plain; charset=gb2312 body, base64; 7: the same body 8bit; 8: nothing of the kind.
        (string Name, int CodePage)[] charsets = [("GB2312", 936), ("GBK", 936), ("GB18030", 54936)];
        foreach (var (name, codePage) in charsets)
            Assert.True((await c.AppendAsync($"Subject: {EncodedWord(name, codePage, "测试 " + name)}\r\n\r\nx\r\n")).Ok);
        Assert.True((await c.AppendAsync($"Subject: {EncodedWord("big5", 950, "測試繁體")}\r\n\r\nx\r\n")).Ok);
        Assert.True((await c.AppendAsync($"Subject: {EncodedWord("iso-2022-jp", 50220, "テストです")}\r\n\r\nx\r\n")).Ok);
        var gbBody = Encoding.GetEncoding(936).GetBytes("会议测试内容\r\n");
        Assert.True((await c.AppendAsync("Subject: body\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=gb2312\r\n" +
            "Content-Transfer-Encoding: base64\r\n\r\n" + Convert.ToBase64String(gbBody) + "\r\n")).Ok);
        var eightBit = Encoding.ASCII.GetBytes("Subject: 8bit\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=gb2312\r\n" +
            "Content-Transfer-Encoding: 8bit\r\n\r\n").Concat(gbBody).ToArray();
        var tag = c.NextTag();
        await c.SendRawAsync($"{tag} APPEND INBOX {{{eightBit.Length}+}}\r\n");
        await c.SendRawAsync([.. eightBit, .. "\r\n"u8]);
        Assert.True((await c.ReadTaggedAsync(tag)).Ok);
        Assert.True((await c.AppendAsync("Subject: plain\r\n\r\nnothing here\r\n")).Ok);
        await c.CommandAsync("SELECT INBOX");

        Assert.Equal("* SEARCH 1 2 3", (await c.CommandAsync("SEARCH CHARSET UTF-8 SUBJECT \"测试\"")).Untagged.Single());
        Assert.Equal("* SEARCH 3", (await c.CommandAsync("SEARCH CHARSET UTF-8 SUBJECT \"测试 GB18030\"")).Untagged.Single());
        Assert.Equal("* SEARCH 4", (await c.CommandAsync("SEARCH CHARSET UTF-8 SUBJECT \"測試\"")).Untagged.Single());
        Assert.Equal("* SEARCH 5", (await c.CommandAsync("SEARCH CHARSET UTF-8 SUBJECT \"テスト\"")).Untagged.Single());
        Assert.Equal("* SEARCH 6 7", (await c.CommandAsync("SEARCH CHARSET UTF-8 BODY \"测试内容\"")).Untagged.Single());
        Assert.Equal("* SEARCH 1 2 3 6 7", (await c.CommandAsync("SEARCH CHARSET UTF-8 TEXT \"测试\"")).Untagged.Single());
        Assert.Equal("* SEARCH 1", (await c.CommandAsync("SEARCH CHARSET UTF-8 HEADER Subject \"测试 GB2312\"")).Untagged.Single());

        // The criteria may come in another charset too (RFC 3501 6.4.4 CHARSET): GB2312 octets in a literal.
        var criteria = Encoding.GetEncoding(936).GetBytes("测试");
        tag = c.NextTag();
        await c.SendRawAsync($"{tag} SEARCH CHARSET GB2312 BODY {{{criteria.Length}+}}\r\n");
        await c.SendRawAsync([.. criteria, .. "\r\n"u8]);
        var gb = await c.ReadTaggedAsync(tag);
        Assert.True(gb.Ok, gb.Text);
        Assert.Equal("* SEARCH 6 7", gb.Untagged.Single());
        Assert.StartsWith("NO [BADCHARSET", (await c.CommandAsync("SEARCH CHARSET X-NOT-A-CHARSET TEXT x")).Tagged);
    }

    // ---- RFC 3501 6.3.5, RFC 9051 6.3.6: RENAME creates the superiors the new name needs ------------

    [Fact]
    public async Task RENAME_creates_the_missing_superiors_of_the_new_name_and_another_session_lists_them()
    {
        var (a, user) = await NewUser();
        await using var _a = a;
        await using var b = await RawImap.LoginAsync(host.Imaps, user, Pw);
        Assert.True((await a.CommandAsync("CREATE Old")).Ok);
        Assert.True((await a.AppendAsync("From: x@example.org\r\nSubject: kept\r\n\r\nbody\r\n", "Old")).Ok);
        Assert.True((await a.CommandAsync("CREATE Top")).Ok);

        var rename = await a.CommandAsync("RENAME Old Top/Middle/Bottom/New");
        Assert.True(rename.Ok, rename.Text);
        var list = await b.CommandAsync("LIST \"\" Top*");
        var names = list.Untagged.Select(l => l[(l.LastIndexOf(' ') + 1)..].Trim('"')).ToList();
        Assert.Equal(["Top", "Top/Middle", "Top/Middle/Bottom", "Top/Middle/Bottom/New"], names.Order(StringComparer.Ordinal));
        // Real mailboxes, not \NonExistent placeholders: they can be selected and hold mail.
        Assert.DoesNotContain(list.Untagged, l => l.Contains("\\NonExistent", StringComparison.Ordinal) || l.Contains("\\Noselect", StringComparison.Ordinal));
        Assert.True((await b.CommandAsync("SELECT Top/Middle")).Ok);
        var moved = await b.CommandAsync("STATUS Top/Middle/Bottom/New (MESSAGES)");
        Assert.Contains("* STATUS Top/Middle/Bottom/New (MESSAGES 1)", moved.Untagged);
        Assert.DoesNotContain((await b.CommandAsync("LIST \"\" Old")).Untagged, l => l.EndsWith(" Old", StringComparison.Ordinal));
    }
}

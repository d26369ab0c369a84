using System.Text;
using GrainMail.Tests.Infrastructure;

namespace GrainMail.Tests;

/// <summary>
/// NOTIFY (RFC 5465) byte for byte over real TCP, with two sessions on one account: the notifying
/// session sends no command while the other one changes things, and reads what it is told at once —
/// EXISTS, EXPUNGE and MessageNew's FETCH for the selected mailbox, STATUS for the others, LIST for
/// names and subscriptions; with selected-delayed, expunges wait for a command (RFC 3501 7.4.1).
/// MailKit has no NOTIFY, so these are raw transcripts.
/// </summary>
public sealed class ImapNotifyTests(SmtpHostFixture host) : IClassFixture<SmtpHostFixture>
{
    private const string Pw = SmtpHostFixture.Password;

    private async Task<(RawImap Watcher, RawImap Actor)> TwoSessions()
    {
        var local = "y" + Guid.NewGuid().ToString("N")[..10];
        await host.NewAccount(local);
        var user = $"{local}@{SmtpHostFixture.Domain}";
        return (await RawImap.LoginAsync(host.Imaps, user, Pw), await RawImap.LoginAsync(host.Imaps, user, Pw));
    }

    private static async Task<long> Append(RawImap c, string subject, string folder = "INBOX")
    {
        var bytes = Encoding.UTF8.GetBytes($"From: a@example.org\r\nSubject: {subject}\r\n\r\nbody\r\n");
        var tag = c.NextTag();
        await c.SendRawAsync($"{tag} APPEND {folder} {{{bytes.Length}+}}\r\n");
        await c.SendRawAsync([.. bytes, .. "\r\n"u8]);
        var r = await c.ReadTaggedAsync(tag);
        Assert.True(r.Ok, r.Text);
        return long.Parse(r.Tagged.Split(' ')[3].TrimEnd(']'), System.Globalization.CultureInfo.InvariantCulture);
    }

    /// <summary>Unsolicited lines read (without sending anything) up to and including the first that <paramref name="last"/> accepts.</summary>
    private static async Task<List<string>> ToldUntil(RawImap c, Func<string, bool> last)
    {
        var lines = new List<string>();
        while (true)
        {
            var line = await c.ReadResponseLineAsync() ?? throw new IOException("closed; so far: " + string.Join("\n", lines));
            lines.Add(line);
            if (last(line)) return lines;
        }
    }

    [Fact]
    public async Task Notify_tells_the_selected_mailbox_others_names_and_subscriptions_between_commands()
    {
        var (w, a) = await TwoSessions();
        await using var _ = w;
        await using var __ = a;
        Assert.True((await w.CommandAsync("CREATE Other")).Ok);
        var caps = (await w.CommandAsync("CAPABILITY")).Untagged[0];
        Assert.Contains(" NOTIFY", caps);
        Assert.True((await w.CommandAsync("SELECT INBOX")).Ok);
        Assert.True((await a.CommandAsync("SELECT INBOX")).Ok);
        var set = await w.CommandAsync("NOTIFY SET STATUS (selected (MessageNew (UID BODY.PEEK[HEADER.FIELDS (SUBJECT)]) MessageExpunge FlagChange)) " +
            "(personal (MessageNew MessageExpunge FlagChange MailboxName SubscriptionChange))");
        Assert.True(set.Ok, set.Text);
        // STATUS: every mailbox but the selected one, as it is now (RFC 5465 3.1).
        Assert.Contains(set.Untagged, l => l.StartsWith("* STATUS Other (MESSAGES 0 UIDNEXT 1 UIDVALIDITY ", StringComparison.Ordinal));
        Assert.DoesNotContain(set.Untagged, l => l.StartsWith("* STATUS INBOX", StringComparison.Ordinal));

        // A new message in the selected mailbox: EXISTS and the FETCH the client asked for, with no command sent.
        var uid = await Append(a, "first news");
        var told = await ToldUntil(w, l => l.Contains(" FETCH ", StringComparison.Ordinal));
        Assert.Contains("* 1 EXISTS", told);
        Assert.Contains($"UID {uid}", told[^1]);
        Assert.Contains("Subject: first news", told[^1]);
        // MessageNew's fetch does not set \Seen.
        var flags = await w.CommandAsync($"UID FETCH {uid} (FLAGS)");
        Assert.DoesNotContain("\\Seen", Assert.Single(flags.Untagged, l => l.Contains(" FETCH ", StringComparison.Ordinal)));

        // A flag change there: FETCH FLAGS.
        Assert.True((await a.CommandAsync($"UID STORE {uid} +FLAGS.SILENT (\\Flagged)")).Ok);
        told = await ToldUntil(w, l => l.Contains(" FETCH ", StringComparison.Ordinal));
        Assert.Contains("\\Flagged", told[^1]);

        // Another mailbox: STATUS with the new counts.
        await Append(a, "elsewhere", "Other");
        told = await ToldUntil(w, l => l.StartsWith("* STATUS Other", StringComparison.Ordinal));
        Assert.Equal("* STATUS Other (MESSAGES 1 UIDNEXT 2 UNSEEN 1)", told[^1]);

        // Names: created (new folders start subscribed), renamed with OLDNAME, deleted as \NonExistent.
        Assert.True((await a.CommandAsync("CREATE Fresh")).Ok);
        told = await ToldUntil(w, l => l.Contains("\\Subscribed", StringComparison.Ordinal));
        Assert.Equal(["* LIST () \"/\" Fresh", "* LIST (\\Subscribed) \"/\" Fresh"], told);
        Assert.True((await a.CommandAsync("RENAME Fresh Renamed")).Ok);
        told = await ToldUntil(w, l => l.Contains("OLDNAME", StringComparison.Ordinal));
        Assert.Equal("* LIST () \"/\" Renamed (\"OLDNAME\" (Fresh))", told[0]);
        Assert.True((await a.CommandAsync("UNSUBSCRIBE Renamed")).Ok);
        told = await ToldUntil(w, l => l == "* LIST () \"/\" Renamed");
        Assert.True((await a.CommandAsync("DELETE Renamed")).Ok);
        told = await ToldUntil(w, l => l.Contains("NonExistent", StringComparison.Ordinal));
        Assert.Equal("* LIST (\\NonExistent) \"/\" Renamed", told[^1]);

        // With "selected" the client agreed to hear of expunges between commands too (RFC 5465 6).
        Assert.True((await a.CommandAsync($"UID STORE {uid} +FLAGS.SILENT (\\Deleted)")).Ok);
        Assert.True((await a.CommandAsync($"UID EXPUNGE {uid}")).Ok);
        told = await ToldUntil(w, l => l.EndsWith(" EXPUNGE", StringComparison.Ordinal));
        Assert.Equal("* 1 EXPUNGE", told[^1]);
        Assert.DoesNotContain("EXPUNGE", string.Concat((await w.CommandAsync("NOOP")).Untagged));

        // NOTIFY NONE: nothing more between commands; NOOP still tells the selected mailbox's news.
        Assert.True((await w.CommandAsync("NOTIFY NONE")).Ok);
        await Append(a, "after none");
        await Append(a, "after none", "Other");
        var noop = await w.CommandAsync("NOOP");
        Assert.Equal("* 1 EXISTS", noop.Untagged[0]);
        Assert.DoesNotContain(noop.Untagged, l => l.StartsWith("* STATUS", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_successful_notify_set_reports_what_changed_in_the_selected_mailbox_like_noop()
    {
        var (w, a) = await TwoSessions();
        await using var _ = w;
        await using var __ = a;
        var first = await Append(a, "one");
        var second = await Append(a, "two");
        Assert.True((await w.CommandAsync("SELECT INBOX")).Ok);
        Assert.True((await a.CommandAsync("SELECT INBOX")).Ok);
        // Another session expunges the first, flags the second and adds a third; the watcher sends nothing meanwhile.
        Assert.True((await a.CommandAsync($"UID STORE {first} +FLAGS.SILENT (\\Deleted)")).Ok);
        Assert.True((await a.CommandAsync($"UID EXPUNGE {first}")).Ok);
        Assert.True((await a.CommandAsync($"UID STORE {second} +FLAGS.SILENT (\\Flagged)")).Ok);
        await Append(a, "three");

        // NOTIFY SET is an implicit NOOP (RFC 5465 3.1): all three changes come with its answer.
        var set = await w.CommandAsync("NOTIFY SET (selected (MessageNew MessageExpunge FlagChange))");
        Assert.True(set.Ok, set.Text);
        Assert.Contains("* 1 EXPUNGE", set.Untagged);
        Assert.Contains("* 2 EXISTS", set.Untagged);
        Assert.Contains(set.Untagged, l => l.Contains(" FETCH ", StringComparison.Ordinal) && l.Contains("\\Flagged", StringComparison.Ordinal));
        // The view is current now: NOOP has nothing more to tell about them.
        var noop = await w.CommandAsync("NOOP");
        Assert.DoesNotContain(noop.Untagged, l => l.Contains("EXISTS", StringComparison.Ordinal) || l.Contains("EXPUNGE", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Selected_delayed_waits_for_a_command_and_idle_carries_other_mailboxes()
    {
        var (w, a) = await TwoSessions();
        await using var _ = w;
        await using var __ = a;
        Assert.True((await w.CommandAsync("CREATE Lists")).Ok);
        Assert.True((await w.CommandAsync("CREATE Lists/imap")).Ok);
        Assert.True((await w.CommandAsync("CREATE Elsewhere")).Ok);
        Assert.True((await w.CommandAsync("SELECT INBOX")).Ok);
        Assert.True((await w.CommandAsync("NOTIFY SET (selected-delayed (MessageNew MessageExpunge)) (subtree Lists (MessageNew MessageExpunge))")).Ok);

        // selected-delayed: a new message is told at once, an expunge only with a command that allows it
        // (RFC 5465 6); a mailbox outside the filters is not told of; the subtree is.
        Assert.True((await a.CommandAsync("SELECT INBOX")).Ok);
        var uid = await Append(a, "told");
        var told = await ToldUntil(w, l => l == "* 1 EXISTS");
        Assert.True((await a.CommandAsync($"UID STORE {uid} +FLAGS.SILENT (\\Deleted)")).Ok);
        Assert.True((await a.CommandAsync($"UID EXPUNGE {uid}")).Ok);
        await Append(a, "outside the filters", "Elsewhere");
        await Append(a, "on the list", "Lists/imap");
        told = await ToldUntil(w, l => l.StartsWith("* STATUS", StringComparison.Ordinal));
        Assert.Equal("* STATUS Lists/imap (MESSAGES 1 UIDNEXT 2 UNSEEN 1)", told[^1]);
        Assert.DoesNotContain(told, l => l.Contains("EXPUNGE", StringComparison.Ordinal) || l.Contains("Elsewhere", StringComparison.Ordinal));
        Assert.Contains("* 1 EXPUNGE", (await w.CommandAsync("NOOP")).Untagged);

        // In IDLE too.
        await w.SendRawAsync("i1 IDLE\r\n");
        Assert.StartsWith("+", await w.ReadLineAsync());
        await Append(a, "while idling", "Lists");
        told = await ToldUntil(w, l => l.StartsWith("* STATUS", StringComparison.Ordinal));
        Assert.Equal("* STATUS Lists (MESSAGES 1 UIDNEXT 2 UNSEEN 1)", told[^1]);
        await w.SendRawAsync("DONE\r\n");
        Assert.True((await w.ReadTaggedAsync("i1")).Ok);
    }

    [Fact]
    public async Task Events_not_offered_get_badevent_too_many_mailboxes_get_limit_and_bad_syntax_gets_bad()
    {
        var (w, a) = await TwoSessions();
        await using var _ = w;
        await using var __ = a;
        var bad = await w.CommandAsync("NOTIFY SET (personal (MessageNew MessageExpunge AnnotationChange))");
        Assert.StartsWith("NO [BADEVENT (MessageNew MessageExpunge FlagChange MailboxName SubscriptionChange)]", bad.Tagged);
        Assert.StartsWith("BAD", (await w.CommandAsync("NOTIFY SET (personal (MessageNew))")).Tagged);
        // The limit on watched mailboxes (GrainMail:Imap:NotifyMaxMailboxes, 1000): the names a
        // session lists count too, whether they exist or not. The session is still usable.
        var names = string.Join(' ', Enumerable.Range(0, 1001).Select(i => "m" + i));
        var limit = await w.CommandAsync($"NOTIFY SET (mailboxes ({names}) (MessageNew MessageExpunge))");
        Assert.StartsWith("NO [LIMIT]", limit.Tagged);
        Assert.True((await w.CommandAsync("NOTIFY SET (inboxes (MessageNew MessageExpunge))")).Ok);
        await Append(a, "to the inbox");
        var told = await ToldUntil(w, l => l.StartsWith("* STATUS", StringComparison.Ordinal));
        Assert.Equal("* STATUS INBOX (MESSAGES 1 UIDNEXT 2 UNSEEN 1)", told[^1]);
    }

    [Fact]
    public async Task Without_FlagChange_a_flag_change_in_the_selected_mailbox_is_not_sent_until_a_command_asks()
    {
        var (w, a) = await TwoSessions();
        await using var _ = w;
        await using var __ = a;
        var first = await Append(a, "to be flagged");
        Assert.True((await w.CommandAsync("SELECT INBOX")).Ok);
        Assert.True((await a.CommandAsync("SELECT INBOX")).Ok);
        // MessageNew and MessageExpunge only: no FlagChange (RFC 5465 5.1).
        Assert.True((await w.CommandAsync("NOTIFY SET (selected (MessageNew (UID) MessageExpunge))")).Ok);

        // A flag change, then a new message: the watcher hears of the message and not of the flags.
        Assert.True((await a.CommandAsync($"UID STORE {first} +FLAGS.SILENT (\\Flagged $Later)")).Ok);
        var second = await Append(a, "news");
        var told = await ToldUntil(w, l => l.Contains($"UID {second}", StringComparison.Ordinal));
        Assert.Contains("* 2 EXISTS", told);
        Assert.DoesNotContain(told, l => l.Contains("FLAGS", StringComparison.Ordinal));

        // A command that syncs the view (NOOP) still tells the change (RFC 3501 6.1.2).
        var noop = await w.CommandAsync("NOOP");
        var fetch = Assert.Single(noop.Untagged, l => l.StartsWith("* 1 FETCH", StringComparison.Ordinal));
        Assert.Contains("\\Flagged", fetch);
        Assert.Contains("$Later", fetch);
        // The keyword is announced before it is shown (RFC 3501 7.2.6).
        Assert.True(noop.Untagged.FindIndex(l => l.StartsWith("* FLAGS", StringComparison.Ordinal)) is var f and >= 0 && f < noop.Untagged.IndexOf(fetch));
        // Told once: the next NOOP has nothing more.
        Assert.Empty((await w.CommandAsync("NOOP")).Untagged);
    }

    [Fact]
    public async Task In_idle_notify_without_flagchange_holds_back_flag_changes_and_without_a_selected_filter_the_selected_mailbox()
    {
        var (w, a) = await TwoSessions();
        await using var _ = w;
        await using var __ = a;
        Assert.True((await w.CommandAsync("CREATE Other")).Ok);
        var first = await Append(a, "to be flagged");
        Assert.True((await w.CommandAsync("SELECT INBOX")).Ok);
        Assert.True((await a.CommandAsync("SELECT INBOX")).Ok);
        Assert.True((await w.CommandAsync("NOTIFY SET (selected (MessageNew (UID) MessageExpunge))")).Ok);

        // During IDLE the server sends exactly the events NOTIFY set (RFC 5465 4): the new message with the
        // FETCH MessageNew asked for, and not the flag change made before it.
        await w.SendRawAsync("i1 IDLE\r\n");
        Assert.StartsWith("+", await w.ReadLineAsync());
        Assert.True((await a.CommandAsync($"UID STORE {first} +FLAGS.SILENT (\\Seen $Idled)")).Ok);
        var second = await Append(a, "news in idle");
        var told = await ToldUntil(w, l => l.Contains($"UID {second}", StringComparison.Ordinal));
        Assert.Contains("* 2 EXISTS", told);
        Assert.DoesNotContain(told, l => l.Contains("FLAGS", StringComparison.Ordinal) || l.Contains("$Idled", StringComparison.Ordinal));
        // An expunge is an event asked for: told in IDLE.
        Assert.True((await a.CommandAsync($"UID STORE {second} +FLAGS.SILENT (\\Deleted)")).Ok);
        Assert.True((await a.CommandAsync($"UID EXPUNGE {second}")).Ok);
        told = await ToldUntil(w, l => l.EndsWith(" EXPUNGE", StringComparison.Ordinal));
        Assert.Equal("* 2 EXPUNGE", told[^1]);
        Assert.DoesNotContain(told, l => l.Contains("FLAGS", StringComparison.Ordinal));
        await w.SendRawAsync("DONE\r\n");
        var done = await w.ReadTaggedAsync("i1");
        Assert.True(done.Ok, done.Text);
        Assert.DoesNotContain(done.Untagged, l => l.Contains("FLAGS", StringComparison.Ordinal));

        // The next command that reports changes tells the flag change, once, its keyword announced first.
        var noop = await w.CommandAsync("NOOP");
        var fetch = Assert.Single(noop.Untagged, l => l.StartsWith("* 1 FETCH", StringComparison.Ordinal));
        Assert.Contains("\\Seen", fetch);
        Assert.Contains("$Idled", fetch);
        Assert.True(noop.Untagged.FindIndex(l => l.StartsWith("* FLAGS", StringComparison.Ordinal)) is var f and >= 0 && f < noop.Untagged.IndexOf(fetch));
        Assert.Empty((await w.CommandAsync("NOOP")).Untagged);

        // No selected filter at all is SELECTED NONE (RFC 5465 3.1): in IDLE, nothing about the selected
        // mailbox; the other mailboxes are told as asked.
        Assert.True((await w.CommandAsync("NOTIFY SET (personal (MessageNew MessageExpunge))")).Ok);
        await w.SendRawAsync("i2 IDLE\r\n");
        Assert.StartsWith("+", await w.ReadLineAsync());
        await Append(a, "unheard in idle");
        Assert.True((await a.CommandAsync($"UID STORE {first} -FLAGS.SILENT (\\Seen)")).Ok);
        await Append(a, "heard", "Other");
        told = await ToldUntil(w, l => l.StartsWith("* STATUS Other", StringComparison.Ordinal));
        Assert.Equal(["* STATUS Other (MESSAGES 1 UIDNEXT 2 UNSEEN 1)"], told);
        await w.SendRawAsync("DONE\r\n");
        done = await w.ReadTaggedAsync("i2");
        Assert.True(done.Ok, done.Text);
        Assert.Empty(done.Untagged);
        // NOOP tells both.
        noop = await w.CommandAsync("NOOP");
        Assert.Contains("* 2 EXISTS", noop.Untagged);
        Assert.Contains(noop.Untagged, l => l.StartsWith("* 1 FETCH", StringComparison.Ordinal) && !l.Contains("\\Seen", StringComparison.Ordinal));
    }
}

/// <summary>A host whose NOTIFY sessions give up after one unwritten event, so that an overflow can be made on purpose.</summary>
public sealed class NotifyOverflowHostFixture : SmtpHostFixture
{
    protected override IReadOnlyDictionary<string, string>? Environment => new Dictionary<string, string>
    {
        ["GrainMail__Imap__NotifyMaxPending"] = "1",
    };
}

/// <summary>
/// NOTIFICATIONOVERFLOW (RFC 5465 5.8): more events than the session keeps ready are announced with
/// the response code, and NOTIFY is then NONE until the client sets it again.
/// </summary>
public sealed class ImapNotifyOverflowTests(NotifyOverflowHostFixture host) : IClassFixture<NotifyOverflowHostFixture>
{
    [Fact]
    public async Task Beyond_the_pending_limit_the_session_says_notificationoverflow_and_notify_is_none()
    {
        var local = "o" + Guid.NewGuid().ToString("N")[..10];
        await host.NewAccount(local);
        var user = $"{local}@{SmtpHostFixture.Domain}";
        await using var w = await RawImap.LoginAsync(host.Imaps, user, SmtpHostFixture.Password);
        await using var a = await RawImap.LoginAsync(host.Imaps, user, SmtpHostFixture.Password);
        Assert.True((await w.CommandAsync("NOTIFY SET (personal (MailboxName SubscriptionChange))")).Ok);
        // A CREATE is two events (the name, and the subscription new folders get): one more than this host keeps.
        Assert.True((await a.CommandAsync("CREATE First")).Ok);
        var line = await w.ReadResponseLineAsync();
        Assert.StartsWith("* OK [NOTIFICATIONOVERFLOW]", line);
        // NOTIFY is now NONE: a later change is not told, between commands or with the next one.
        Assert.True((await a.CommandAsync("CREATE Second")).Ok);
        var noop = await w.CommandAsync("NOOP");
        Assert.Empty(noop.Untagged);
        // Set again, it works again (a single event fits).
        Assert.True((await w.CommandAsync("NOTIFY SET (personal (SubscriptionChange))")).Ok);
        Assert.True((await a.CommandAsync("UNSUBSCRIBE Second")).Ok);
        Assert.Equal("* LIST () \"/\" Second", await w.ReadResponseLineAsync());
    }
}

using GrainMail.Gateways.Imap.Commands;
using GrainMail.Gateways.Imap.Protocol;

namespace GrainMail.Protocol.Tests;

/// <summary>
/// NOTIFY (RFC 5465 8) as the parser reads it: filters, events, MessageNew's fetch attributes, the
/// rules between events (5.2, 5.3) and filters (6), BADEVENT for events not offered; which mailboxes a
/// group covers. Also the IMAP4rev2 search keys that are gone (RECENT, NEW, OLD), and a seeded fuzz run.
/// </summary>
public sealed class ImapNotifyParserTests
{
    private static Task<ImapCommand> Parse(string line, bool utf8 = false) => ImapCommandParserTests.ParseWire(line + "\r\n", utf8);

    [Fact]
    public async Task Notify_none_and_set_with_every_filter()
    {
        var none = Assert.IsType<NotifyCommand>(await Parse("a NOTIFY NONE"));
        Assert.True(none.None);
        Assert.Empty(none.Groups);

        var set = Assert.IsType<NotifyCommand>(await Parse(
            "b notify set status (selected (MessageNew (uid body.peek[header.fields (from to subject)]) MessageExpunge FlagChange)) " +
            "(subtree Lists (MessageNew MessageExpunge)) (mailboxes (misc \"Other Box\" inbox/sub) (MessageNew MessageExpunge MailboxName)) " +
            "(personal (MailboxName SubscriptionChange)) (inboxes NONE) (subscribed (MessageNew MessageExpunge FlagChange))"));
        Assert.False(set.None);
        Assert.True(set.Status);
        Assert.Empty(set.UnsupportedEvents);
        Assert.Equal([NotifyFilter.Selected, NotifyFilter.Subtree, NotifyFilter.Mailboxes, NotifyFilter.Personal, NotifyFilter.Inboxes, NotifyFilter.Subscribed],
            set.Groups.Select(g => g.Filter));
        var selected = set.Groups[0];
        Assert.Equal(NotifyEvents.MessageNew | NotifyEvents.MessageExpunge | NotifyEvents.FlagChange, selected.Events);
        Assert.Equal([FetchKind.Uid, FetchKind.Section], selected.NewMessageFetch!.Select(f => f.Kind));
        Assert.True(selected.NewMessageFetch![1].Peek);
        Assert.Equal(["Lists"], set.Groups[1].Mailboxes);
        // INBOX in any case is the server's INBOX, its children too (RFC 3501 5.1).
        Assert.Equal(["misc", "Other Box", "INBOX/sub"], set.Groups[2].Mailboxes);
        Assert.Equal(NotifyEvents.MailboxName | NotifyEvents.SubscriptionChange, set.Groups[3].Events);
        Assert.Equal(NotifyEvents.None, set.Groups[4].Events);

        var delayed = Assert.IsType<NotifyCommand>(await Parse("c NOTIFY SET (selected-delayed (MessageNew MessageExpunge))"));
        Assert.False(delayed.Status);
        Assert.Equal(NotifyFilter.SelectedDelayed, delayed.Groups[0].Filter);
        Assert.Null(delayed.Groups[0].NewMessageFetch);
    }

    [Fact]
    public async Task Events_not_offered_are_named_for_BADEVENT_and_extension_events_too()
    {
        var c = Assert.IsType<NotifyCommand>(await Parse("a NOTIFY SET (personal (MessageNew MessageExpunge annotationchange XFutureEvent))"));
        Assert.Equal(["AnnotationChange", "XFutureEvent"], c.UnsupportedEvents);
        var metadata = Assert.IsType<NotifyCommand>(await Parse("a NOTIFY SET (personal (MailboxMetadataChange ServerMetadataChange))"));
        Assert.Equal(["MailboxMetadataChange", "ServerMetadataChange"], metadata.UnsupportedEvents);
    }

    public static TheoryData<string, string> Malformed => new()
    {
        { "a NOTIFY", "Expected a space" },
        { "a NOTIFY NONE x", "Unexpected extra arguments" },
        { "a NOTIFY GET (personal (MailboxName))", "NOTIFY takes SET or NONE" },
        { "a NOTIFY SET", "Expected a space" },
        { "a NOTIFY SET STATUS", "Expected '('" },
        { "a NOTIFY SET (everywhere (MailboxName))", "Unknown NOTIFY filter EVERYWHERE" },
        { "a NOTIFY SET (personal ())", "Empty event list" },
        { "a NOTIFY SET (personal MailboxName)", "Events are a list or NONE" },
        { "a NOTIFY SET (personal (MessageNew))", "MessageNew and MessageExpunge must be given together" },
        { "a NOTIFY SET (personal (MessageExpunge))", "MessageNew and MessageExpunge must be given together" },
        { "a NOTIFY SET (personal (FlagChange))", "FlagChange needs MessageNew and MessageExpunge" },
        { "a NOTIFY SET (personal (MessageNew (uid) MessageExpunge))", "MessageNew fetch attributes are only for the selected mailbox" },
        { "a NOTIFY SET (personal (MailboxName)) (personal (SubscriptionChange))", "A NOTIFY filter may be given once" },
        { "a NOTIFY SET (selected (MessageNew MessageExpunge)) (selected-delayed (MessageNew MessageExpunge))", "selected and selected-delayed exclude each other" },
        { "a NOTIFY SET (mailboxes () (MailboxName))", "Empty mailbox list" },
        { "a NOTIFY SET (subtree (MailboxName))", "Expected a space" },
        { "a NOTIFY SET (selected (MessageNew (nosuchitem) MessageExpunge))", "" },
        { "a NOTIFY SET (personal (MailboxName)", "Expected ')'" },
    };

    [Theory]
    [MemberData(nameof(Malformed))]
    public async Task Malformed_notify_commands_are_BAD_with_their_reason(string line, string reason)
    {
        var error = Assert.IsType<ImapParseError>(await Parse(line));
        Assert.Equal("NOTIFY", error.Name);
        if (reason.Length > 0) Assert.Equal(reason, error.Reason);
        else Assert.False(string.IsNullOrWhiteSpace(error.Reason));
    }

    [Fact]
    public void A_mailbox_gets_the_events_of_the_first_group_that_covers_it_and_the_selected_one_only_from_selected()
    {
        var subscribed = new HashSet<string>(["Sub", "Deep/Sub"], StringComparer.Ordinal);
        NotifyGroup G(NotifyFilter f, params string[] boxes) => new(f, boxes, NotifyEvents.MailboxName, null);
        var groups = new[]
        {
            G(NotifyFilter.Selected), G(NotifyFilter.Mailboxes, "A", "B/c"), G(NotifyFilter.Subtree, "Lists"), G(NotifyFilter.Inboxes),
            G(NotifyFilter.Subscribed), G(NotifyFilter.Personal),
        };
        Assert.Equal(NotifyFilter.Selected, NotifyGroup.For(groups, "Work", "Work", subscribed)!.Filter);
        Assert.Equal(NotifyFilter.Mailboxes, NotifyGroup.For(groups, "A", "Work", subscribed)!.Filter);
        Assert.Equal(NotifyFilter.Mailboxes, NotifyGroup.For(groups, "B/c", null, subscribed)!.Filter);
        Assert.Equal(NotifyFilter.Subtree, NotifyGroup.For(groups, "Lists", null, subscribed)!.Filter);
        Assert.Equal(NotifyFilter.Subtree, NotifyGroup.For(groups, "Lists/ietf/imap", null, subscribed)!.Filter);
        // A name that only starts like the subtree is not inside it.
        Assert.Equal(NotifyFilter.Personal, NotifyGroup.For(groups, "Listsx", null, subscribed)!.Filter);
        Assert.Equal(NotifyFilter.Inboxes, NotifyGroup.For(groups, "INBOX", null, subscribed)!.Filter);
        Assert.Equal(NotifyFilter.Subscribed, NotifyGroup.For(groups, "Deep/Sub", null, subscribed)!.Filter);
        // Without a selected filter the selected mailbox answers to none: it is never reported with STATUS.
        Assert.Null(NotifyGroup.For(groups[1..], "A", "A", subscribed));
        Assert.Null(NotifyGroup.For([G(NotifyFilter.Inboxes)], "Work", null, subscribed));
    }

    public static TheoryData<string, bool> RecentKeys => new()
    {
        { "a SEARCH RECENT", true },
        { "a SEARCH new", true },
        { "a SEARCH UNSEEN OLD", true },
        { "a SEARCH OR SEEN (FLAGGED NOT RECENT)", true },
        { "a UID SEARCH RETURN (SAVE) CHARSET UTF-8 1:* NEW", true },
        { "a SEARCH SUBJECT new", false },
        { "a SEARCH SUBJECT \"recent\" BODY old", false },
        { "a SEARCH HEADER X-Old new KEYWORD recent", false },
        { "a SEARCH MODSEQ \"/flags/\\\\draft\" all 620162338 UNSEEN", false },
        { "a SEARCH SUBJECT {3+}\r\nnew NOT OLD", true },
        { "a SEARCH UID $ SEEN SINCE 1-Feb-2024", false },
    };

    [Theory]
    [MemberData(nameof(RecentKeys))]
    public async Task Recent_new_and_old_are_found_as_keys_and_not_as_arguments(string line, bool usesRecent)
    {
        var c = Assert.IsType<SearchCommand>(await Parse(line));
        Assert.Equal(usesRecent, c.UsesRecent);
    }

    [Fact]
    public async Task Fuzzed_notify_commands_always_give_a_command_or_a_typed_error()
    {
        await ImapWireFuzz.RunAsync(5465, "a NOTIFY SET ",
        [
            "a NOTIFY SET STATUS (selected (MessageNew (uid body.peek[header.fields (from)]) MessageExpunge FlagChange)) (subtree (Lists \"x y\") (MessageNew MessageExpunge))",
            "a NOTIFY SET (personal (MailboxName SubscriptionChange)) (inboxes NONE) (mailboxes misc (MessageNew MessageExpunge))",
            "a NOTIFY NONE",
            "a SEARCH OR RECENT SUBJECT new NOT OLD",
        ], maxLine: 300);
    }
}

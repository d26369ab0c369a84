using GrainMail.Gateways.Imap.Protocol;

namespace GrainMail.Gateways.Imap.Commands;

// NOTIFY (RFC 5465 8, the formal syntax):
//   notify       = "NOTIFY" SP (notify-set / "NONE")
//   notify-set   = "SET" [SP "STATUS"] SP event-group *(SP event-group)
//   event-group  = "(" filter-mailboxes SP events ")"
//   events       = ("(" event *(SP event) ")") / "NONE"
//   message-event = "MessageNew" [SP "(" fetch-att *(SP fetch-att) ")"] / "MessageExpunge" / "FlagChange" / …
internal static partial class ImapCommandParser
{
    /// <summary>Event names of RFC 5465 (and RFC 5464 METADATA) the server knows but does not report.</summary>
    private static readonly string[] UnofferedEvents = ["AnnotationChange", "MailboxMetadataChange", "ServerMetadataChange"];

    private static NotifyCommand ReadNotify(ImapParser p, string tag, bool utf8)
    {
        p.ExpectSpace();
        var verb = p.ReadAtom().ToUpperInvariant();
        if (verb == "NONE")
        {
            p.ExpectEnd();
            return new NotifyCommand(tag, None: true, Status: false, [], []);
        }
        if (verb != "SET") throw new ImapSyntaxException("NOTIFY takes SET or NONE");
        p.ExpectSpace();
        var status = p.TryConsumeKeyword("STATUS");
        var groups = new List<NotifyGroup>();
        var unsupported = new List<string>();
        while (true)
        {
            groups.Add(ReadEventGroup(p, utf8, unsupported));
            if (p.AtEnd) break;
            p.ExpectSpace();
        }
        // RFC 5465 6: each of selected, selected-delayed, inboxes, personal and subscribed at most once,
        // and selected excludes selected-delayed.
        foreach (var once in groups.Where(g => g.Filter is not (NotifyFilter.Subtree or NotifyFilter.Mailboxes)).GroupBy(g => g.Filter))
            if (once.Count() > 1) throw new ImapSyntaxException("A NOTIFY filter may be given once");
        if (groups.Any(g => g.Filter == NotifyFilter.Selected) && groups.Any(g => g.Filter == NotifyFilter.SelectedDelayed))
            throw new ImapSyntaxException("selected and selected-delayed exclude each other");
        return new NotifyCommand(tag, None: false, status, groups, unsupported);
    }

    private static NotifyGroup ReadEventGroup(ImapParser p, bool utf8, List<string> unsupported)
    {
        p.Expect('(');
        var filterName = p.ReadAtom().ToUpperInvariant();
        var filter = filterName switch
        {
            "SELECTED" => NotifyFilter.Selected,
            "SELECTED-DELAYED" => NotifyFilter.SelectedDelayed,
            "INBOXES" => NotifyFilter.Inboxes,
            "PERSONAL" => NotifyFilter.Personal,
            "SUBSCRIBED" => NotifyFilter.Subscribed,
            "SUBTREE" => NotifyFilter.Subtree,
            "MAILBOXES" => NotifyFilter.Mailboxes,
            _ => throw new ImapSyntaxException("Unknown NOTIFY filter " + filterName),
        };
        var mailboxes = new List<string>();
        if (filter is NotifyFilter.Subtree or NotifyFilter.Mailboxes)
        {
            p.ExpectSpace();
            if (p.Peek() == '(') p.ReadList(() => mailboxes.Add(ReadMailboxName(p, utf8)));
            else mailboxes.Add(ReadMailboxName(p, utf8));
            if (mailboxes.Count == 0) throw new ImapSyntaxException("Empty mailbox list");
            // INBOX is case-insensitive (RFC 3501 5.1), and the server keeps it, and its children, in upper case.
            for (var i = 0; i < mailboxes.Count; i++)
            {
                var m = mailboxes[i];
                if (m.Equals("INBOX", StringComparison.OrdinalIgnoreCase)) mailboxes[i] = "INBOX";
                else if (m.StartsWith("INBOX/", StringComparison.OrdinalIgnoreCase)) mailboxes[i] = "INBOX" + m[5..];
            }
        }
        p.ExpectSpace();
        var events = NotifyEvents.None;
        IReadOnlyList<FetchItem>? fetch = null;
        if (p.Peek() == '(')
        {
            p.ReadList(() =>
            {
                var name = p.ReadAtom();
                switch (name.ToUpperInvariant())
                {
                    case "MESSAGENEW":
                        events |= NotifyEvents.MessageNew;
                        var ahead = p.Fork();
                        if (ahead.TryConsume(' ') && ahead.Peek() == '(')
                        {
                            p.ExpectSpace();
                            fetch = FetchItem.ParseList(p);
                        }
                        break;
                    case "MESSAGEEXPUNGE": events |= NotifyEvents.MessageExpunge; break;
                    case "FLAGCHANGE": events |= NotifyEvents.FlagChange; break;
                    case "MAILBOXNAME": events |= NotifyEvents.MailboxName; break;
                    case "SUBSCRIPTIONCHANGE": events |= NotifyEvents.SubscriptionChange; break;
                    default:
                        // Known but not offered, or an extension event: NO [BADEVENT] (RFC 5465 5.9).
                        unsupported.Add(UnofferedEvents.FirstOrDefault(u => u.Equals(name, StringComparison.OrdinalIgnoreCase)) ?? name);
                        break;
                }
            });
            if (events == NotifyEvents.None && unsupported.Count == 0) throw new ImapSyntaxException("Empty event list");
        }
        else if (!p.ReadAtom().Equals("NONE", StringComparison.OrdinalIgnoreCase))
        {
            throw new ImapSyntaxException("Events are a list or NONE");
        }
        p.Expect(')');
        // RFC 5465 5.2, 5.3: MessageNew and MessageExpunge go together, and FlagChange needs both.
        var message = events & (NotifyEvents.MessageNew | NotifyEvents.MessageExpunge);
        if (message is NotifyEvents.MessageNew or NotifyEvents.MessageExpunge)
            throw new ImapSyntaxException("MessageNew and MessageExpunge must be given together");
        if ((events & NotifyEvents.FlagChange) != 0 && message == NotifyEvents.None)
            throw new ImapSyntaxException("FlagChange needs MessageNew and MessageExpunge");
        // Fetch attributes only make sense where FETCH responses are sent: the selected mailbox (RFC 5465 5.2).
        if (fetch is not null && filter is not (NotifyFilter.Selected or NotifyFilter.SelectedDelayed))
            throw new ImapSyntaxException("MessageNew fetch attributes are only for the selected mailbox");
        return new NotifyGroup(filter, mailboxes, events, fetch);
    }
}

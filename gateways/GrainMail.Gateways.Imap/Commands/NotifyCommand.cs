using GrainMail.Gateways.Imap.Protocol;

namespace GrainMail.Gateways.Imap.Commands;

/// <summary>
/// NOTIFY (RFC 5465): <c>NOTIFY NONE</c> (<see cref="Groups"/> empty, <see cref="None"/>) or
/// <c>NOTIFY SET [STATUS] (filter events) …</c>. <see cref="UnsupportedEvents"/> names events the
/// server does not offer (answered NO [BADEVENT], RFC 5465 5.9).
/// </summary>
internal sealed record NotifyCommand(string Tag, bool None, bool Status, IReadOnlyList<NotifyGroup> Groups, IReadOnlyList<string> UnsupportedEvents)
    : ImapCommand(Tag, "NOTIFY");

/// <summary>The mailboxes a group of events is about (RFC 5465 6).</summary>
internal enum NotifyFilter
{
    Selected,
    SelectedDelayed,
    Inboxes,
    Personal,
    Subscribed,
    Subtree,
    Mailboxes,
}

/// <summary>The events GrainMail reports (RFC 5465 5); AnnotationChange and the METADATA events are not offered.</summary>
[Flags]
internal enum NotifyEvents
{
    None = 0,
    MessageNew = 1,
    MessageExpunge = 2,
    FlagChange = 4,
    MailboxName = 8,
    SubscriptionChange = 16,
}

/// <summary>
/// One <c>(filter events)</c> group: <see cref="Mailboxes"/> for subtree and mailboxes (names as the
/// session decoded them), the events, and the FETCH attributes that come with MessageNew for the
/// selected mailbox (RFC 5465 5.2); null when none were given.
/// </summary>
internal sealed record NotifyGroup(NotifyFilter Filter, IReadOnlyList<string> Mailboxes, NotifyEvents Events, IReadOnlyList<FetchItem>? NewMessageFetch)
{
    /// <summary>Whether this group covers <paramref name="name"/>; the selected mailbox is matched only by the selected filters.</summary>
    public bool Covers(string name, string? selected, IReadOnlySet<string> subscribed) => Filter switch
    {
        NotifyFilter.Selected or NotifyFilter.SelectedDelayed => selected is not null && name == selected,
        NotifyFilter.Inboxes => name == "INBOX",
        NotifyFilter.Personal => true,
        NotifyFilter.Subscribed => subscribed.Contains(name),
        NotifyFilter.Subtree => Mailboxes.Any(m => name == m || name.StartsWith(m + "/", StringComparison.Ordinal)),
        _ => Mailboxes.Contains(name),
    };

    /// <summary>
    /// The group whose events apply to <paramref name="name"/>: the first in the client's order that
    /// covers it. The selected mailbox answers only to a selected filter (it is reported through its
    /// own untagged responses, never with STATUS, RFC 5465 5.1).
    /// </summary>
    public static NotifyGroup? For(IReadOnlyList<NotifyGroup> groups, string name, string? selected, IReadOnlySet<string> subscribed)
    {
        var isSelected = selected is not null && name == selected;
        foreach (var g in groups)
        {
            var selectedFilter = g.Filter is NotifyFilter.Selected or NotifyFilter.SelectedDelayed;
            if (isSelected != selectedFilter) continue;
            if (g.Covers(name, selected, subscribed)) return g;
        }
        return null;
    }
}

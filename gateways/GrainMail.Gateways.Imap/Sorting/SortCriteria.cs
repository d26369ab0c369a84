using GrainMail.Gateways.Common.Sorting;
namespace GrainMail.Gateways.Imap.Sorting;

/// <summary>A SORT key (RFC 5256 3, RFC 5957 DISPLAYFROM/DISPLAYTO).</summary>
public enum SortKey
{
    Arrival,
    Cc,
    Date,
    From,
    Size,
    Subject,
    To,
    DisplayFrom,
    DisplayTo,
}

/// <summary>One sort criterion: a key, reversed or not.</summary>
public sealed record SortCriterion(SortKey Key, bool Reverse);

/// <summary>
/// Orders messages by SORT criteria (RFC 5256 3): each criterion breaks the ties of the ones
/// before it; messages equal under all of them keep mailbox order (sequence number), which
/// REVERSE does not turn around. Pure.
/// </summary>
public static class MessageSorter
{
    public static List<MessageSummary> Sort(IEnumerable<MessageSummary> messages, IReadOnlyList<SortCriterion> criteria)
    {
        var list = messages.ToList();
        var subjects = criteria.Any(c => c.Key == SortKey.Subject) ? list.ToDictionary(m => m.Sequence, m => BaseSubject.Key(m.Subject)) : null;
        list.Sort((a, b) =>
        {
            foreach (var c in criteria)
            {
                var r = Compare(a, b, c.Key, subjects);
                if (r != 0) return c.Reverse ? -r : r;
            }
            return a.Sequence.CompareTo(b.Sequence);
        });
        return list;
    }

    private static int Compare(MessageSummary a, MessageSummary b, SortKey key, Dictionary<int, string>? subjects) => key switch
    {
        SortKey.Arrival => a.InternalDate.CompareTo(b.InternalDate),
        SortKey.Date => a.SortDate.CompareTo(b.SortDate),
        SortKey.Size => a.Size.CompareTo(b.Size),
        // i;ascii-casemap for the address keys (RFC 5256), case-insensitive Unicode for the display keys (RFC 5957).
        SortKey.From => CaseMap(a.FromMailbox, b.FromMailbox),
        SortKey.To => CaseMap(a.ToMailbox, b.ToMailbox),
        SortKey.Cc => CaseMap(a.CcMailbox, b.CcMailbox),
        SortKey.DisplayFrom => string.Compare(a.DisplayFrom.ToUpperInvariant(), b.DisplayFrom.ToUpperInvariant(), StringComparison.Ordinal),
        SortKey.DisplayTo => string.Compare(a.DisplayTo.ToUpperInvariant(), b.DisplayTo.ToUpperInvariant(), StringComparison.Ordinal),
        SortKey.Subject => string.Compare(subjects![a.Sequence], subjects[b.Sequence], StringComparison.Ordinal),
        _ => 0,
    };

    private static int CaseMap(string a, string b) => string.Compare(AsciiUpper(a), AsciiUpper(b), StringComparison.Ordinal);

    private static string AsciiUpper(string s) => string.Create(s.Length, s, static (span, src) =>
    {
        for (var i = 0; i < src.Length; i++) span[i] = src[i] is >= 'a' and <= 'z' ? (char)(src[i] - 32) : src[i];
    });
}

using GrainMail.Contracts.Mailboxes;

namespace GrainMail.Gateways.Imap;

/// <summary>
/// A session's view of its selected folder: the messages it has been told about, in UID order,
/// so that message sequence number n is entry n-1. Changes by other sessions and deliveries
/// reach the view only when the session reports them (RFC 3501 5.2, 7.4.1): new messages with
/// EXISTS, flag changes with FETCH, removals with EXPUNGE — and EXPUNGE is held back while a
/// FETCH, STORE or SEARCH by sequence number is answered.
/// </summary>
internal sealed class SelectedFolder(string name, bool readOnly, FolderSnapshot snapshot)
{
    public string Name { get; set; } = name;

    public bool ReadOnly { get; } = readOnly;

    public long UidValidity { get; } = snapshot.Info.UidValidity;

    public long UidNext { get; set; } = snapshot.Info.UidNext;

    /// <summary>The MODSEQ up to which this view has taken in changes.</summary>
    public long HighestModSeq { get; set; } = snapshot.Info.HighestModSeq;

    public List<MessageMeta> Messages { get; } = [.. snapshot.Messages];

    /// <summary>
    /// The UID ranges this session holds \Recent for (RFC 3501 2.3.2: a new message is recent in
    /// the one session that is first told of it). A read-write view claims them from the mailbox
    /// grain, at SELECT and when it learns of new messages; a read-only view (EXAMINE) claims
    /// nothing and sees as recent what no session has claimed when it opened (RFC 3501 6.3.2).
    /// </summary>
    private readonly List<(long From, long To)> _recent =
        readOnly ? [(snapshot.RecentFrom, long.MaxValue)] : [(snapshot.RecentFrom, snapshot.Info.UidNext - 1)];

    /// <summary>The keywords this session was told of in an untagged FLAGS response (RFC 3501 7.2.6).</summary>
    public HashSet<string> AnnouncedKeywords { get; } = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>Records that this session now holds \Recent for UIDs <paramref name="from"/> to <paramref name="to"/>.</summary>
    public void AddRecent(long from, long to)
    {
        if (from <= to) _recent.Add((from, to));
    }

    /// <summary>Expunged elsewhere, not yet reported to the client.</summary>
    public HashSet<long> PendingExpunge { get; } = [];

    public UidList Uids => new(Messages);

    public int IndexOf(long uid)
    {
        int lo = 0, hi = Messages.Count;
        while (lo < hi)
        {
            var mid = (lo + hi) >>> 1;
            if (Messages[mid].Uid < uid) lo = mid + 1;
            else hi = mid;
        }
        return lo < Messages.Count && Messages[lo].Uid == uid ? lo : -1;
    }

    public bool IsRecent(MessageMeta m)
    {
        foreach (var (from, to) in _recent)
            if (m.Uid >= from && m.Uid <= to) return true;
        return false;
    }

    /// <summary>True when <paramref name="name"/> (as a client wrote it) is this folder; INBOX in any case (RFC 3501 5.1).</summary>
    public bool IsNamed(string name) => string.Equals(Key(name), Key(Name), StringComparison.Ordinal);

    private static string Key(string name) =>
        name.Equals("INBOX", StringComparison.OrdinalIgnoreCase) || name.StartsWith("INBOX/", StringComparison.OrdinalIgnoreCase)
            ? "INBOX" + name[5..] : name;

    public int RecentCount => Messages.Count(IsRecent);

    /// <summary>The UIDs of a folder's messages as a list, without copying.</summary>
    public readonly struct UidList(List<MessageMeta> messages) : IReadOnlyList<long>
    {
        public long this[int index] => messages[index].Uid;

        public int Count => messages.Count;

        public IEnumerator<long> GetEnumerator() => messages.Select(m => m.Uid).GetEnumerator();

        System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();
    }
}

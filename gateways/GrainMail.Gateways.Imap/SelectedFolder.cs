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

    /// <summary>Messages that are \Recent for this session (RFC 3501 2.3.2).</summary>
    public long RecentFrom { get; } = snapshot.RecentFrom;

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

    public bool IsRecent(MessageMeta m) => m.Uid >= RecentFrom;

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

using GrainMail.Contracts.Mailboxes;
using GrainMail.Gateways.Jmap.Protocol;

namespace GrainMail.Gateways.Jmap.Mail;

/// <summary>
/// What Email/changes answers: ids by kind, the state they lead to, and whether more follow; and the thread ids of removed
/// Emails as the removal record kept them (<see cref="RemovedThreads"/>), for Thread/changes and queryChanges.
/// </summary>
public sealed record EmailDiff(List<string> Created, List<string> Updated, List<string> Destroyed, string NewState, bool HasMore)
{
    public IEnumerable<string> All => Created.Concat(Updated).Concat(Destroyed);

    /// <summary>Email id → thread id of the Emails the changes saw removed (from a folder or for good), where recorded.</summary>
    public Dictionary<string, string> RemovedThreads { get; init; } = new(StringComparer.Ordinal);

    /// <summary>The thread of an Email gone since the old state: the removal record's, else what this gateway remembers.</summary>
    public string? ThreadOfRemoved(string emailId, ThreadIndex known) => RemovedThreads.GetValueOrDefault(emailId) ?? known.Known(emailId);
}

/// <summary>
/// Email/changes (RFC 8620 5.2) computed from the state token alone (see <see cref="MailState"/>):
/// per folder, Emails with a UID at or above the old UIDNEXT appeared, those below it with a modseq
/// above the old HIGHESTMODSEQ changed, and removals come from the expunge record — this gateway's
/// own when it has watched the folder since, else the mailbox's tombstones (the QRESYNC record, with
/// each removed message's Email id since migration 0035) through <see cref="IMailboxHistoryGrain"/>.
/// So any gateway answers any state, after restarts too. cannotCalculateChanges remains only for a
/// token that is not ours, a folder deleted before this gateway saw it (its tombstones have no
/// folder row to say how far back they reach), tombstones purged past the old modseq or written
/// before 0035, and a maxChanges smaller than one modseq's worth of changes when no new message can
/// be split off instead.
/// </summary>
public static class EmailChanges
{
    /// <summary>One folder's part of the changes: appeared copies by UID, and changes and removals by modseq.</summary>
    private sealed class Unit(FolderMark? old, FolderView? now)
    {
        public FolderMark? Old => old;
        public FolderView? Now => now;
        public List<EmailCopy> Appeared { get; } = [];
        public List<(long ModSeq, string EmailId, bool Removed)> Events { get; } = [];

        /// <summary>Thread ids of the removed Emails, where the removal record has them.</summary>
        public Dictionary<string, string> RemovedThreads { get; } = new(StringComparer.Ordinal);
        public List<string> DroppedIds { get; } = [];

        /// <summary>What of the unit is reported: appeared copies with UID below this, events up to this modseq.</summary>
        public long UidCut { get; set; } = long.MaxValue;
        public long ModSeqCut { get; set; } = long.MaxValue;
    }

    public static async Task<EmailDiff> ComputeAsync(MailSession mail, IMailboxHistoryGrain history, string since, long? max)
    {
        var view = mail.View;
        var old = MailState.Parse(since) ?? throw new JmapMethodException(JmapErrors.CannotCalculateChanges, "Unknown state");
        var units = await UnitsAsync(mail, history, old);
        var oldByKey = old.ToDictionary(m => (m.FolderId, m.UidValidity));
        var full = Classify(view, units, oldByKey);
        var removedThreads = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var u in units)
            foreach (var (id, thread) in u.RemovedThreads) removedThreads[id] = thread;
        if (max is not long limit || full.Count <= limit)
            return new EmailDiff(full.Created, full.Updated, full.Destroyed, view.State, false) { RemovedThreads = removedThreads };

        // More than maxChanges: report whole folders in folder order while they fit, then as much of the
        // next one as fits, and hand out the intermediate state that says so (RFC 8620 5.2 hasMoreChanges).
        var marks = old.ToDictionary(m => (m.FolderId, m.UidValidity));
        var taken = new List<Unit>();
        foreach (var u in units)
        {
            u.UidCut = long.MaxValue;
            u.ModSeqCut = long.MaxValue;
            taken.Add(u);
            if (Classify(view, taken, oldByKey).Count <= limit)
            {
                Advance(marks, u, whole: true);
                continue;
            }
            var used = Classify(view, taken.Take(taken.Count - 1), oldByKey).Count;
            if (!Cut(u, limit - used))
            {
                taken.RemoveAt(taken.Count - 1);
                if (taken.Count == 0) throw new JmapMethodException(JmapErrors.CannotCalculateChanges, "maxChanges is smaller than one change of a mailbox; resynchronise or ask for more");
                break;
            }
            Advance(marks, u, whole: false);
            break;
        }
        var part = Classify(view, taken, oldByKey);
        return new EmailDiff(part.Created, part.Updated, part.Destroyed, MailState.Of(marks.Values), true) { RemovedThreads = removedThreads };
    }

    private static async Task<List<Unit>> UnitsAsync(MailSession mail, IMailboxHistoryGrain history, IReadOnlyList<FolderMark> old)
    {
        var view = mail.View;
        var units = new List<Unit>();
        var oldKeys = old.Select(m => (m.FolderId, m.UidValidity)).ToHashSet();
        foreach (var m in old)
        {
            var f = view.Folders.FirstOrDefault(x => x.Info.FolderId == m.FolderId && x.Info.UidValidity == m.UidValidity);
            if (f is null)
            {
                var dropped = view.DroppedFolders.FirstOrDefault(d => d.Mark.FolderId == m.FolderId && d.Mark.UidValidity == m.UidValidity);
                if (dropped.EmailIds is null) throw new JmapMethodException(JmapErrors.CannotCalculateChanges, "A mailbox went away before this server saw it");
                var gone = new Unit(m, null);
                gone.DroppedIds.AddRange(dropped.EmailIds);
                foreach (var (id, thread) in dropped.Threads) gone.RemovedThreads[id] = thread;
                units.Add(gone);
                continue;
            }
            if (m.HighestModSeq == f.Info.HighestModSeq && m.UidNext == f.Info.UidNext) continue;
            var u = new Unit(m, f);
            foreach (var c in f.ByUid.Values)
            {
                if (c.Meta.Uid >= m.UidNext) u.Appeared.Add(c);
                else if (c.Meta.ModSeq > m.HighestModSeq) u.Events.Add((c.Meta.ModSeq, c.EmailId, false));
            }
            if (m.HighestModSeq >= f.Baseline)
            {
                foreach (var (at, id, thread) in f.Removed)
                {
                    if (at <= m.HighestModSeq) continue;
                    u.Events.Add((at, id, true));
                    if (thread is not null) u.RemovedThreads[id] = thread;
                }
            }
            else
            {
                // Older than what this gateway watched: the mailbox's own record of removals.
                var removed = await history.ExpungedSince(view.Address, m.FolderId, m.UidValidity, m.HighestModSeq)
                    ?? throw new JmapMethodException(JmapErrors.CannotCalculateChanges, "The mailbox's record of removals does not reach back to this state");
                foreach (var e in removed)
                {
                    if (e.Uid >= m.UidNext) continue; // came and went after the old state: the client never saw it
                    if (e.EmailId is null) throw new JmapMethodException(JmapErrors.CannotCalculateChanges, "A removal older than this server's record of Email ids");
                    u.Events.Add((e.ModSeq, e.EmailId, true));
                    if (e.ThreadId is not null) u.RemovedThreads[e.EmailId] = e.ThreadId;
                }
            }
            u.Events.Sort((a, b) => a.ModSeq.CompareTo(b.ModSeq));
            units.Add(u);
        }
        foreach (var f in view.Folders)
        {
            if (oldKeys.Contains((f.Info.FolderId, f.Info.UidValidity))) continue;
            var u = new Unit(null, f);
            u.Appeared.AddRange(f.ByUid.Values);
            units.Add(u);
        }
        units.Sort((a, b) => (a.Old?.FolderId ?? a.Now!.Info.FolderId).CompareTo(b.Old?.FolderId ?? b.Now!.Info.FolderId));
        return units;
    }

    private sealed record Classified(List<string> Created, List<string> Updated, List<string> Destroyed)
    {
        public int Count => Created.Count + Updated.Count + Destroyed.Count;
    }

    /// <summary>Sorts the ids the units report into created, updated and destroyed, by whether the Email exists now and existed in the old state.</summary>
    private static Classified Classify(MailView view, IEnumerable<Unit> units, Dictionary<(int, long), FolderMark> oldByKey)
    {
        var appeared = new HashSet<string>(StringComparer.Ordinal);
        var touched = new HashSet<string>(StringComparer.Ordinal);
        var removed = new HashSet<string>(StringComparer.Ordinal);
        foreach (var u in units)
        {
            foreach (var c in u.Appeared)
                if (c.Meta.Uid < u.UidCut) appeared.Add(c.EmailId);
            foreach (var (at, id, gone) in u.Events)
                if (at <= u.ModSeqCut) (gone ? removed : touched).Add(id);
            foreach (var id in u.DroppedIds) removed.Add(id);
        }
        bool ExistedBefore(string id) => removed.Contains(id) || view.Copies(id).Any(c =>
            view.Folder(c.FolderId) is { } f && oldByKey.TryGetValue((f.Info.FolderId, f.Info.UidValidity), out var mk) && c.Meta.Uid < mk.UidNext);
        var created = new List<string>();
        var updated = new List<string>();
        var destroyed = new List<string>();
        foreach (var id in appeared.Concat(touched).Concat(removed).Distinct())
        {
            var exists = view.Copies(id).Count > 0;
            var before = ExistedBefore(id);
            if (exists && before) updated.Add(id);
            else if (exists) created.Add(id);
            else if (before) destroyed.Add(id);
        }
        return new Classified(created, updated, destroyed);
    }

    /// <summary>
    /// Reports only part of one folder within <paramref name="budget"/> ids: the new messages with the
    /// lowest UIDs, then whole modseqs of changes (a modseq is never split: the state says "up to
    /// this modseq"). False when not even one of them fits. A new message reported here (with its
    /// present data) whose modseq is above the cut comes again as updated in a later page: redundant,
    /// never wrong, and the price of a state that is a plain token.
    /// </summary>
    private static bool Cut(Unit u, long budget)
    {
        if (budget <= 0 || u.DroppedIds.Count > 0) return false;
        u.Appeared.Sort((a, b) => a.Meta.Uid.CompareTo(b.Meta.Uid));
        var take = (int)Math.Min(u.Appeared.Count, budget);
        u.UidCut = take < u.Appeared.Count ? u.Appeared[take].Meta.Uid : long.MaxValue;
        var left = budget - take;
        var cut = u.Old?.HighestModSeq ?? long.MaxValue;
        if (u.Old is not null)
        {
            var i = 0;
            while (i < u.Events.Count)
            {
                var ms = u.Events[i].ModSeq;
                var j = i;
                while (j < u.Events.Count && u.Events[j].ModSeq == ms) j++;
                if (j - i > left) break;
                left -= j - i;
                cut = ms;
                i = j;
            }
        }
        u.ModSeqCut = cut;
        return take > 0 || (u.Old is not null && cut > u.Old.HighestModSeq);
    }

    /// <summary>Moves a folder's mark in the intermediate state to what has been reported of it.</summary>
    private static void Advance(Dictionary<(int, long), FolderMark> marks, Unit u, bool whole)
    {
        if (u.Now is not { } f)
        {
            marks.Remove((u.Old!.FolderId, u.Old.UidValidity));
            return;
        }
        var current = MailState.Mark(f.Info);
        var key = (current.FolderId, current.UidValidity);
        if (whole)
        {
            marks[key] = current;
            return;
        }
        var uidNext = u.UidCut == long.MaxValue ? current.UidNext : u.UidCut;
        // A new folder enters at its current modseq: every message below the UID cut was reported created with its present data.
        var modSeq = u.Old is null ? current.HighestModSeq : Math.Min(u.ModSeqCut, current.HighestModSeq);
        marks[key] = current with { UidNext = uidNext, HighestModSeq = modSeq };
    }
}

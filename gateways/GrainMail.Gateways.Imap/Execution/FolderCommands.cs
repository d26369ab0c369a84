using GrainMail.Contracts.Mailboxes;
using GrainMail.Gateways.Imap.Commands;

using GrainMail.Gateways.Common.Objects;

namespace GrainMail.Gateways.Imap.Execution;

/// <summary>
/// Commands on mailboxes as a whole (RFC 3501 6.3, 6.4.2; RFC 9051 6.3): SELECT, EXAMINE,
/// CREATE, DELETE, RENAME, SUBSCRIBE, UNSUBSCRIBE, LIST, LSUB (with RFC 5258 LIST-EXTENDED,
/// RFC 6154 SPECIAL-USE, RFC 5819 LIST-STATUS), STATUS, NAMESPACE, CLOSE and UNSELECT.
/// </summary>
internal sealed class FolderCommands(ImapSessionContext session)
{
    public async Task<bool> ListAsync(ListCommand c)
    {
        var tag = c.Tag;
        var verb = c.Name;
        var output = session.Out;
        // LIST-STATUS takes STATUS items (RFC 5819), and IMAP4rev2 has no RECENT among them (RFC 9051 E.1).
        if (session.Rev2 && c.ReturnStatus is { } statusItems && statusItems.Contains("RECENT"))
            return await session.BadAsync(tag, "IMAP4rev2 has no \\Recent: RECENT is not a STATUS item after ENABLE IMAP4rev2");
        if (c.Patterns.Count == 1 && c.Patterns[0].Length == 0)
        {
            // An empty pattern asks for the hierarchy delimiter (RFC 3501 6.3.8).
            output.Line($"* {verb} (\\Noselect) \"/\" \"\"");
            return session.Ok(tag, $"{verb} completed");
        }
        var folders = await session.Mailbox.ListFolders();
        var needSubscriptions = c.SubscribedOnly || c.ReturnSubscribed;
        var subscribed = needSubscriptions
            ? new HashSet<string>(await session.Mailbox.ListSubscriptions(), StringComparer.Ordinal)
            : new HashSet<string>(StringComparer.Ordinal);
        var patterns = c.Patterns.Select(pat => c.Reference + (session.DecodeName(pat) ?? pat)).ToList();
        var entries = c.SubscribedOnly ? SubscribedEntries(c, folders, subscribed, patterns) : FolderEntries(folders, subscribed, patterns);
        foreach (var entry in entries)
        {
            var f = entry.Folder;
            if (c.SpecialUseOnly && (f is null || f.SpecialUse is SpecialUse.None or SpecialUse.Inbox)) continue;
            var attrs = new List<string>();
            if (f is null)
            {
                // A subscribed name, or a parent listed for RECURSIVEMATCH, that no folder has:
                // \NonExistent, which implies \Noselect (RFC 5258 3.4). LSUB and a plain LIST's missing
                // parent say \Noselect (RFC 3501 6.3.8, 6.3.9).
                attrs.Add(!c.Lsub && (entry.Subscribed || entry.ChildInfo) ? "\\NonExistent" : "\\Noselect");
            }
            else if (!entry.Shown)
            {
                attrs.Add("\\Noselect");
            }
            if (f is not null || entry.HasChildren)
            {
                if (c.ReturnChildren || !c.Lsub) attrs.Add(entry.HasChildren ? "\\HasChildren" : "\\HasNoChildren");
            }
            if (c.ReturnSubscribed && !c.Lsub && entry.Subscribed) attrs.Add("\\Subscribed");
            if (f is not null && c.ReturnSpecialUse && SpecialUseAttribute(f.SpecialUse) is { } su) attrs.Add(su);
            output.Raw($"* {verb} ({string.Join(' ', attrs)}) \"/\" ").AString(session.EncodeName(entry.Name));
            // RFC 5258 4: a name returned because a descendant matched the selection, not the pattern.
            if (entry.ChildInfo && c.RecursiveMatch) output.Raw(" (\"CHILDINFO\" (\"SUBSCRIBED\"))");
            output.Crlf();
            // LIST-STATUS (RFC 5819): STATUS for every selectable mailbox listed.
            if (c.ReturnStatus is not null && f is not null && entry.Shown) await WriteStatusAsync(f, c.ReturnStatus);
        }
        return session.Ok(tag, $"{verb} completed");
    }

    /// <summary>
    /// One LIST answer line to be: a name, its folder when one exists, and why it is listed.
    /// <see cref="Shown"/> false: listed only as the parent of what matched (RFC 3501 6.3.9 LSUB, \Noselect).
    /// </summary>
    private sealed record ListEntry(string Name, FolderInfo? Folder, bool Subscribed, bool HasChildren, bool Shown, bool ChildInfo);

    /// <summary>Every folder that matches a pattern, and missing parents of folders as \Noselect (RFC 3501 6.3.8).</summary>
    private static List<ListEntry> FolderEntries(IReadOnlyList<FolderInfo> folders, HashSet<string> subscribed, List<string> patterns)
    {
        var names = folders.Select(f => f.Name).ToHashSet(StringComparer.Ordinal);
        var entries = new List<ListEntry>();
        foreach (var f in folders)
            if (patterns.Any(p => Matches(f.Name, p))) entries.Add(new(f.Name, f, subscribed.Contains(f.Name), HasChildren(names, f.Name), true, false));
        var missingParents = folders.SelectMany(f => Parents(f.Name)).Where(p => !names.Contains(p)).Distinct(StringComparer.Ordinal)
            .Where(p => patterns.Any(pat => Matches(p, pat))).Order(StringComparer.Ordinal);
        foreach (var parent in missingParents) entries.Add(new(parent, null, subscribed.Contains(parent), true, false, false));
        return entries;
    }

    /// <summary>
    /// LSUB and LIST (SUBSCRIBED): subscribed names that match, whether a folder has them or not;
    /// for LSUB the unsubscribed parents of subscribed names that match where those do not (\Noselect,
    /// RFC 3501 6.3.9); with RECURSIVEMATCH such parents with CHILDINFO (RFC 5258 3.5).
    /// </summary>
    private static List<ListEntry> SubscribedEntries(ListCommand c, IReadOnlyList<FolderInfo> folders, HashSet<string> subscribed, List<string> patterns)
    {
        var byName = folders.ToDictionary(f => f.Name, StringComparer.Ordinal);
        var names = byName.Keys.ToHashSet(StringComparer.Ordinal);
        bool Match(string name) => patterns.Any(p => Matches(name, p));
        var childInfo = new HashSet<string>(StringComparer.Ordinal);
        foreach (var name in subscribed.Where(n => !Match(n)))
            foreach (var parent in Parents(name))
                if (Match(parent)) childInfo.Add(parent);
        var listed = subscribed.Where(Match).ToHashSet(StringComparer.Ordinal);
        if (c.Lsub || c.RecursiveMatch) listed.UnionWith(childInfo);
        // Folders in their order (INBOX first), then names that have no folder.
        var order = folders.Select(f => f.Name).Where(listed.Contains)
            .Concat(listed.Where(n => !byName.ContainsKey(n)).Order(StringComparer.Ordinal));
        return order.Select(n =>
        {
            var isSubscribed = subscribed.Contains(n);
            var folder = byName.GetValueOrDefault(n);
            // An unsubscribed parent in LSUB is \Noselect whether a folder has the name or not.
            var shown = isSubscribed || !c.Lsub;
            return new ListEntry(n, folder, isSubscribed, HasChildren(names, n), shown && (folder is not null || isSubscribed), childInfo.Contains(n));
        }).ToList();
    }

    private static bool HasChildren(HashSet<string> names, string name) =>
        names.Any(n => n.Length > name.Length + 1 && n.StartsWith(name, StringComparison.Ordinal) && n[name.Length] == '/');

    /// <summary>The superiors of a name, outermost first ("a", "a/b" for "a/b/c").</summary>
    private static IEnumerable<string> Parents(string name)
    {
        for (var i = name.IndexOf('/'); i > 0; i = name.IndexOf('/', i + 1)) yield return name[..i];
    }

    private static string? SpecialUseAttribute(SpecialUse use) => use switch
    {
        SpecialUse.Sent => "\\Sent",
        SpecialUse.Drafts => "\\Drafts",
        SpecialUse.Trash => "\\Trash",
        SpecialUse.Junk => "\\Junk",
        SpecialUse.Archive => "\\Archive",
        _ => null,
    };

    /// <summary>LIST wildcards: '*' matches anything, '%' anything but the hierarchy delimiter.</summary>
    internal static bool Matches(string name, string pattern)
    {
        if (pattern.Equals("INBOX", StringComparison.OrdinalIgnoreCase)) return name == "INBOX";
        if (pattern.StartsWith("INBOX", StringComparison.OrdinalIgnoreCase)) pattern = "INBOX" + pattern[5..];
        return Match(name.AsSpan(), pattern.AsSpan());

        static bool Match(ReadOnlySpan<char> s, ReadOnlySpan<char> pat)
        {
            while (pat.Length > 0)
            {
                var c = pat[0];
                if (c is '*' or '%')
                {
                    var rest = pat[1..];
                    for (var i = 0; i <= s.Length; i++)
                    {
                        if (Match(s[i..], rest)) return true;
                        if (i < s.Length && c == '%' && s[i] == '/') return false;
                    }
                    return false;
                }
                if (s.Length == 0 || s[0] != c) return false;
                s = s[1..];
                pat = pat[1..];
            }
            return s.Length == 0;
        }
    }

    public bool Namespace(NamespaceCommand c)
    {
        // One personal namespace, no other users' or shared ones (RFC 2342).
        session.Out.Line("* NAMESPACE ((\"\" \"/\")) NIL NIL");
        return session.Ok(c.Tag, "NAMESPACE completed");
    }

    public async Task<bool> SubscribeAsync(SubscribeCommand c)
    {
        var result = await session.Mailbox.Subscribe(c.Mailbox, c.Subscribe);
        return result.Status == MailboxOpStatus.Ok ? session.Ok(c.Tag, "Done") : session.No(c.Tag, Refusal(result.Status, c.Mailbox));
    }

    public async Task<bool> CreateAsync(CreateCommand c)
    {
        var result = await session.Mailbox.CreateFolder(c.Mailbox);
        if (result.Status != MailboxOpStatus.Ok) return session.No(c.Tag, Refusal(result.Status, c.Mailbox));
        // RFC 8474 4.1: CREATE tells the new mailbox's id.
        var created = await session.Mailbox.GetFolder(c.Mailbox);
        // The name as kept differs from the one asked for (INBOX's children take INBOX in upper case):
        // RFC 9051 6.3.4 / 7.3.1, the LIST with OLDNAME tells a rev2 client the name to use.
        if (created is not null && !string.Equals(created.Name, c.Mailbox, StringComparison.Ordinal)) WriteOldName(created.Name, c.Mailbox);
        return session.Ok(c.Tag, created is null ? "CREATE completed" : $"[MAILBOXID ({ObjectIds.MailboxId(session.User!, created)})] CREATE completed");
    }

    /// <summary>
    /// NO's text for a refused name operation: for a name that cannot be, the reason (a well-formed
    /// command about an impossible name is NO with a reason, never BAD; RFC 3501 5.1, RFC 5530 CANNOT).
    /// </summary>
    private static string Refusal(MailboxOpStatus status, string name) =>
        status == MailboxOpStatus.InvalidName && MailboxNameRules.Problem(name) is { } why
            ? "[CANNOT] " + why
            : ImapSessionContext.StatusText(status);

    public async Task<bool> DeleteAsync(DeleteCommand c)
    {
        var (tag, name) = (c.Tag, c.Mailbox);
        if (session.Selected is { } selected && selected.IsNamed(name))
            return session.No(tag, "[INUSE] Unselect the mailbox first");
        var result = await session.Mailbox.DeleteFolder(name);
        // The grain refuses INBOX and a folder with subfolders (it keeps no \Noselect shells). For the
        // latter RFC 9051 6.3.4 asks for NO with HASCHILDREN, so the client knows to delete those first.
        if (result.Status == MailboxOpStatus.NotAllowed && !name.Equals("INBOX", StringComparison.OrdinalIgnoreCase))
            return session.No(tag, "[HASCHILDREN] Delete the mailbox's children first");
        return result.Status == MailboxOpStatus.Ok ? session.Ok(tag, "DELETE completed") : session.No(tag, ImapSessionContext.StatusText(result.Status));
    }

    public async Task<bool> RenameAsync(RenameCommand c)
    {
        var (tag, from, to) = (c.Tag, c.From, c.To);
        var result = await session.Mailbox.RenameFolder(from, to);
        if (result.Status != MailboxOpStatus.Ok) return session.No(tag, Refusal(result.Status, to));
        var renamed = await session.Mailbox.GetFolder(to);
        var newName = renamed?.Name ?? to;
        if (session.Selected is { } selected && selected.IsNamed(from)) selected.Name = newName;
        WriteOldName(newName, from);
        return session.Ok(tag, "RENAME completed");
    }

    /// <summary>
    /// An untagged LIST naming a mailbox with its former (or requested) name in the OLDNAME extended
    /// data item (RFC 9051 7.3.1). Only to IMAP4rev2 clients, whose LIST grammar has the extended items;
    /// a session with NOTIFY hears of the rename from the folder-tree notice instead (RFC 5465 5.4).
    /// </summary>
    public void WriteOldName(string name, string oldName)
    {
        if (!session.Rev2 || session.Notify.Active) return;
        session.Out.Raw("* LIST () \"/\" ").AString(session.EncodeName(name)).Raw(" (\"OLDNAME\" (").AString(session.EncodeName(oldName)).Raw("))").Crlf();
    }

    public async Task<bool> SelectAsync(SelectCommand c)
    {
        var (tag, name, readOnly) = (c.Tag, c.Mailbox, c.ReadOnly);
        var output = session.Out;
        // RFC 7162 3.2.5: the QRESYNC parameter needs ENABLE QRESYNC first.
        if (c.Qresync is not null && !session.Qresync) return await session.BadAsync(tag, "QRESYNC is not enabled");
        if (c.Condstore) session.Condstore = true;
        // RFC 5182 2.1: a new selection starts with an empty saved result.
        session.SavedResult = [];
        if (session.Selected is not null)
        {
            await session.Updates.StopWatchingAsync();
            session.Selected = null;
            session.State = ImapSessionState.Authenticated;
            output.Line("* OK [CLOSED] Previous mailbox closed");
        }
        // A rev2 session has no \Recent (RFC 9051 E.1): it leaves them for rev1 sessions to claim.
        var snapshot = await session.Mailbox.Open(name, claimRecent: !readOnly && !session.Rev2);
        if (snapshot is null) return session.No(tag, "[NONEXISTENT] No such mailbox");
        var view = new SelectedFolder(snapshot.Info.Name, readOnly, snapshot);
        session.Selected = view;
        session.State = ImapSessionState.Selected;
        await session.Updates.StartWatchingAsync();
        foreach (var m in view.Messages)
            foreach (var k in m.Keywords)
                view.AnnouncedKeywords.Add(k);
        session.Updates.WriteFlagLists(view);
        output.Raw("* ").Number(view.Messages.Count).Line(" EXISTS");
        // IMAP4rev2 has no \Recent and no RECENT response (RFC 9051 7.3).
        if (!session.Rev2) output.Raw("* ").Number(view.RecentCount).Line(" RECENT");
        var firstUnseen = view.Messages.FindIndex(m => (m.Flags & MessageFlags.Seen) == 0);
        if (firstUnseen >= 0) output.Raw("* OK [UNSEEN ").Number(firstUnseen + 1).Line("] First unseen");
        output.Raw("* OK [UIDVALIDITY ").Number(view.UidValidity).Line("] UIDs valid");
        output.Raw("* OK [UIDNEXT ").Number(view.UidNext).Line("] Predicted next UID");
        output.Raw("* OK [HIGHESTMODSEQ ").Number(view.HighestModSeq).Line("] Highest");
        if (session.Rev2)
        {
            // RFC 9051 6.3.2: SELECT and EXAMINE answer an untagged LIST with the mailbox's name as
            // the server knows it (INBOX in upper case) and its attributes.
            var listed = await session.Mailbox.ListFolders();
            var hasChildren = listed.Any(f => f.Name.Length > view.Name.Length + 1 && f.Name.StartsWith(view.Name + "/", StringComparison.Ordinal));
            var attrs = new List<string> { hasChildren ? "\\HasChildren" : "\\HasNoChildren" };
            if (snapshot.Info.Subscribed) attrs.Add("\\Subscribed");
            if (SpecialUseAttribute(snapshot.Info.SpecialUse) is { } use) attrs.Add(use);
            output.Raw($"* LIST ({string.Join(' ', attrs)}) \"/\" ").AString(session.EncodeName(view.Name)).Crlf();
        }
        output.Line($"* OK [MAILBOXID ({ObjectIds.MailboxId(session.User!, snapshot.Info)})] Mailbox id");
        if (c.Qresync is { } q && q.UidValidity == view.UidValidity) await session.Updates.ResynchroniseAsync(q);
        return session.Ok(tag, readOnly ? "[READ-ONLY] EXAMINE completed" : "[READ-WRITE] SELECT completed");
    }

    public async Task<bool> CloseAsync(CloseCommand c)
    {
        var view = session.Selected!;
        // CLOSE removes \Deleted messages without EXPUNGE responses (RFC 3501 6.4.2).
        if (c.Expunge && !view.ReadOnly) await session.Mailbox.Expunge(view.Name, null);
        await session.Updates.StopWatchingAsync();
        session.Selected = null;
        session.SavedResult = [];
        session.State = ImapSessionState.Authenticated;
        return session.Ok(c.Tag, c.Expunge ? "CLOSE completed" : "UNSELECT completed");
    }

    public async Task<bool> StatusAsync(StatusCommand c)
    {
        // IMAP4rev2 has no \Recent and its STATUS has no RECENT item (RFC 9051 E.1, 6.3.11).
        if (session.Rev2 && c.Items.Contains("RECENT"))
            return await session.BadAsync(c.Tag, "IMAP4rev2 has no \\Recent: RECENT is not a STATUS item after ENABLE IMAP4rev2");
        var folder = await session.Mailbox.GetFolder(c.Mailbox);
        if (folder is null) return session.No(c.Tag, "[NONEXISTENT] No such mailbox");
        await WriteStatusAsync(folder, c.Items);
        return session.Ok(c.Tag, "STATUS completed");
    }

    private async Task WriteStatusAsync(FolderInfo f, IReadOnlyList<string> items)
    {
        var output = session.Out;
        // DELETED (RFC 9051 6.3.11): the folder counters do not keep it, so it is counted when asked for.
        long deleted = 0;
        if (items.Contains("DELETED"))
            deleted = (await session.Mailbox.GetMessages(f.Name, 1, long.MaxValue)).Count(m => (m.Flags & MessageFlags.Deleted) != 0);
        output.Raw("* STATUS ").AString(session.EncodeName(f.Name)).Raw(" (");
        for (var i = 0; i < items.Count; i++)
        {
            if (i > 0) output.Raw(" ");
            if (items[i] == "MAILBOXID")
            {
                // RFC 8474 4: the mailbox's immutable id, in parentheses.
                output.Raw("MAILBOXID (").Raw(ObjectIds.MailboxId(session.User!, f)).Raw(")");
                continue;
            }
            output.Raw(items[i]).Raw(" ").Number(items[i] switch
            {
                "MESSAGES" => f.Messages,
                "RECENT" => f.Recent,
                "UIDNEXT" => f.UidNext,
                "UIDVALIDITY" => f.UidValidity,
                "UNSEEN" => f.Unseen,
                "HIGHESTMODSEQ" => f.HighestModSeq,
                "SIZE" => f.Bytes,
                "DELETED" => deleted,
                // RFC 7889 3.2: the largest APPEND this mailbox takes (one limit for every mailbox here).
                "APPENDLIMIT" => session.Options.AppendLimit,
                _ => 0,
            });
        }
        output.Raw(")").Crlf();
    }
}

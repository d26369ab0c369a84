using System.Globalization;
using GrainMail.Contracts.Mailboxes;
using GrainMail.Gateways.Common.Messages;
using GrainMail.Gateways.Imap.Commands;
using GrainMail.Gateways.Imap.Protocol;

namespace GrainMail.Gateways.Imap;

// Mailbox commands: LIST, LSUB, (UN)SUBSCRIBE, CREATE, DELETE, RENAME, SELECT, EXAMINE, STATUS,
// APPEND, GETQUOTA(ROOT), CLOSE, UNSELECT.
internal sealed partial class ImapSession
{
    private SelectedFolder? _selected;

    private string? DecodeName(string name) => ImapCommandParser.DecodeName(name, _utf8);

    private string EncodeName(string name) => _utf8 ? name : ModifiedUtf7.Encode(name);

    private static string StatusText(MailboxOpStatus status) => status switch
    {
        MailboxOpStatus.NoSuchFolder => "[NONEXISTENT] No such mailbox",
        MailboxOpStatus.FolderExists => "[ALREADYEXISTS] Mailbox already exists",
        MailboxOpStatus.InvalidName => "[CANNOT] Invalid mailbox name",
        MailboxOpStatus.NotAllowed => "[CANNOT] Not allowed for this mailbox",
        MailboxOpStatus.OverQuota => "[OVERQUOTA] Quota exceeded",
        _ => "[UNAVAILABLE] The mailbox is not available",
    };

    private async Task<bool> ListAsync(ListCommand c)
    {
        var (tag, lsub, reference, patterns) = (c.Tag, c.Lsub, c.Reference, c.Patterns);
        var (subscribedOnly, specialUseOnly) = (c.SubscribedOnly, c.SpecialUseOnly);
        var (returnSubscribed, returnChildren, returnSpecialUse, statusItems) = (c.ReturnSubscribed, c.ReturnChildren, c.ReturnSpecialUse, c.ReturnStatus);
        var verb = c.Name;

        if (patterns.Count == 1 && patterns[0].Length == 0)
        {
            // An empty pattern asks for the hierarchy delimiter (RFC 3501 6.3.8).
            _out.Line($"* {verb} (\\Noselect) \"/\" \"\"");
            return Ok(tag, $"{verb} completed");
        }
        var folders = await _mailbox!.ListFolders();
        var names = folders.Select(f => f.Name).ToHashSet();
        foreach (var f in folders)
        {
            var decodedPatterns = patterns.Select(pat => reference + (DecodeName(pat) ?? pat));
            if (!decodedPatterns.Any(pat => Matches(f.Name, pat))) continue;
            if (subscribedOnly && !f.Subscribed) continue;
            if (specialUseOnly && f.SpecialUse is SpecialUse.None or SpecialUse.Inbox) continue;
            var attrs = new List<string>();
            if (returnChildren || !lsub)
                attrs.Add(names.Any(n => n.StartsWith(f.Name + "/", StringComparison.Ordinal)) ? "\\HasChildren" : "\\HasNoChildren");
            if (returnSubscribed && f.Subscribed && !lsub) attrs.Add("\\Subscribed");
            if (returnSpecialUse && SpecialUseAttribute(f.SpecialUse) is { } su) attrs.Add(su);
            _out.Raw($"* {verb} ({string.Join(' ', attrs)}) \"/\" ").AString(EncodeName(f.Name)).Crlf();
            if (statusItems is not null) WriteStatus(f, statusItems);
        }
        return Ok(tag, $"{verb} completed");
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

    private async Task<bool> SubscribeAsync(SubscribeCommand c)
    {
        var tag = c.Tag;
        var result = await _mailbox!.Subscribe(c.Mailbox, c.Subscribe);
        return result.Status == MailboxOpStatus.Ok ? Ok(tag, "Done") : No(tag, StatusText(result.Status));
    }

    private async Task<bool> CreateAsync(CreateCommand c)
    {
        var (tag, name) = (c.Tag, c.Mailbox);
        var result = await _mailbox!.CreateFolder(name);
        return result.Status == MailboxOpStatus.Ok ? Ok(tag, "CREATE completed") : No(tag, StatusText(result.Status));
    }

    private async Task<bool> DeleteAsync(DeleteCommand c)
    {
        var (tag, name) = (c.Tag, c.Mailbox);
        if (_selected is not null && string.Equals(FolderKey(name), FolderKey(_selected.Name), StringComparison.Ordinal))
            return No(tag, "[INUSE] Unselect the mailbox first");
        var result = await _mailbox!.DeleteFolder(name);
        return result.Status == MailboxOpStatus.Ok ? Ok(tag, "DELETE completed") : No(tag, StatusText(result.Status));
    }

    private static string FolderKey(string name) =>
        name.Equals("INBOX", StringComparison.OrdinalIgnoreCase) || name.StartsWith("INBOX/", StringComparison.OrdinalIgnoreCase)
            ? "INBOX" + name[5..] : name;

    private async Task<bool> RenameAsync(RenameCommand c)
    {
        var (tag, from, to) = (c.Tag, c.From, c.To);
        var result = await _mailbox!.RenameFolder(from, to);
        if (result.Status != MailboxOpStatus.Ok) return No(tag, StatusText(result.Status));
        if (_selected is not null && FolderKey(_selected.Name) == FolderKey(from)) _selected.Name = to;
        return Ok(tag, "RENAME completed");
    }

    private async Task<bool> SelectAsync(SelectCommand c)
    {
        var (tag, name, readOnly) = (c.Tag, c.Mailbox, c.ReadOnly);
        if (c.Condstore) _condstore = true;
        if (_selected is not null)
        {
            await StopWatchingAsync();
            _selected = null;
            _state = State.Authenticated;
            _out.Line("* OK [CLOSED] Previous mailbox closed");
        }
        var snapshot = await _mailbox!.Open(name, claimRecent: !readOnly);
        if (snapshot is null) return No(tag, "[NONEXISTENT] No such mailbox");
        var view = new SelectedFolder(snapshot.Info.Name, readOnly, snapshot);
        _selected = view;
        _state = State.Selected;
        await StartWatchingAsync();
        _out.Line("* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)");
        _out.Line(readOnly ? "* OK [PERMANENTFLAGS ()] Read-only mailbox" : "* OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft \\*)] Flags permitted");
        _out.Raw("* ").Number(view.Messages.Count).Line(" EXISTS");
        _out.Raw("* ").Number(view.RecentCount).Line(" RECENT");
        var firstUnseen = view.Messages.FindIndex(m => (m.Flags & MessageFlags.Seen) == 0);
        if (firstUnseen >= 0) _out.Raw("* OK [UNSEEN ").Number(firstUnseen + 1).Line("] First unseen");
        _out.Raw("* OK [UIDVALIDITY ").Number(view.UidValidity).Line("] UIDs valid");
        _out.Raw("* OK [UIDNEXT ").Number(view.UidNext).Line("] Predicted next UID");
        _out.Raw("* OK [HIGHESTMODSEQ ").Number(view.HighestModSeq).Line("] Highest");
        return Ok(tag, readOnly ? "[READ-ONLY] EXAMINE completed" : "[READ-WRITE] SELECT completed");
    }

    private async Task<bool> CloseAsync(CloseCommand c)
    {
        var (tag, expunge) = (c.Tag, c.Expunge);
        var view = _selected!;
        // CLOSE removes \Deleted messages without EXPUNGE responses (RFC 3501 6.4.2).
        if (expunge && !view.ReadOnly) await _mailbox!.Expunge(view.Name, null);
        await StopWatchingAsync();
        _selected = null;
        _state = State.Authenticated;
        return Ok(tag, expunge ? "CLOSE completed" : "UNSELECT completed");
    }

    private async Task<bool> StatusAsync(StatusCommand c)
    {
        var (tag, name, items) = (c.Tag, c.Mailbox, c.Items);
        var folder = await _mailbox!.GetFolder(name);
        if (folder is null) return No(tag, "[NONEXISTENT] No such mailbox");
        WriteStatus(folder, items);
        return Ok(tag, "STATUS completed");
    }

    private void WriteStatus(FolderInfo f, IReadOnlyList<string> items)
    {
        _out.Raw("* STATUS ").AString(EncodeName(f.Name)).Raw(" (");
        for (var i = 0; i < items.Count; i++)
        {
            if (i > 0) _out.Raw(" ");
            _out.Raw(items[i]).Raw(" ").Number(items[i] switch
            {
                "MESSAGES" => f.Messages,
                "RECENT" => f.Recent,
                "UIDNEXT" => f.UidNext,
                "UIDVALIDITY" => f.UidValidity,
                "UNSEEN" => f.Unseen,
                "HIGHESTMODSEQ" => f.HighestModSeq,
                "SIZE" => f.Bytes,
                _ => 0,
            });
        }
        _out.Raw(")").Crlf();
    }

    private async Task<bool> AppendAsync(AppendCommand c)
    {
        var (tag, name, message, flags, keywords, date) = (c.Tag, c.Mailbox, c.Message, c.Flags, c.Keywords, c.Date);
        if (message.Length == 0) return No(tag, "Empty message");
        // One rule for message text at every way in: CRLF line ends, no NUL, bounded header section (RFC 5530 codes).
        var (normalized, problem) = MessageText.Normalize(message, _options.MessageText);
        if (normalized is null) return No(tag, (MessageText.IsHeaderLimit(problem) ? "[LIMIT] " : "[PARSE] ") + MessageText.Describe(problem, _options.MessageText));
        message = normalized;
        var result = await _mailbox!.Append(name, message, flags, keywords, date);
        return result.Status switch
        {
            MailboxOpStatus.Ok => Ok(tag, $"[APPENDUID {result.UidValidity} {result.Uid}] APPEND completed"),
            MailboxOpStatus.NoSuchFolder => No(tag, "[TRYCREATE] No such mailbox"),
            _ => No(tag, StatusText(result.Status)),
        };
    }

    internal static string FormatDateTime(DateTimeOffset d) =>
        d.ToString("dd-MMM-yyyy HH:mm:ss ", CultureInfo.InvariantCulture) + (d.Offset < TimeSpan.Zero ? "-" : "+") + d.Offset.ToString("hhmm", CultureInfo.InvariantCulture);

    private async Task<bool> GetQuotaRootAsync(GetQuotaRootCommand c)
    {
        var (tag, name) = (c.Tag, c.Mailbox);
        if (await _mailbox!.GetFolder(name) is null) return No(tag, "[NONEXISTENT] No such mailbox");
        _out.Raw("* QUOTAROOT ").AString(EncodeName(name)).Line(" \"\"");
        await WriteQuotaAsync();
        return Ok(tag, "GETQUOTAROOT completed");
    }

    private async Task<bool> GetQuotaAsync(GetQuotaCommand c)
    {
        var (tag, root) = (c.Tag, c.Root);
        if (root.Length != 0) return No(tag, "[NONEXISTENT] No such quota root");
        await WriteQuotaAsync();
        return Ok(tag, "GETQUOTA completed");
    }

    private async Task WriteQuotaAsync()
    {
        // One root per account: storage in KiB (RFC 9208 STORAGE).
        var q = await _mailbox!.GetQuota();
        _out.Raw("* QUOTA \"\" (STORAGE ").Number((q.UsedBytes + 1023) / 1024).Raw(" ").Number(q.LimitBytes / 1024).Line(")");
    }
}

using System.Globalization;
using GrainMail.Contracts.Mailboxes;
using GrainMail.Gateways.Common.Messages;
using GrainMail.Gateways.Imap.Protocol;

namespace GrainMail.Gateways.Imap;

// Mailbox commands: LIST, LSUB, (UN)SUBSCRIBE, CREATE, DELETE, RENAME, SELECT, EXAMINE, STATUS,
// APPEND, GETQUOTA(ROOT), CLOSE, UNSELECT.
internal sealed partial class ImapSession
{
    private SelectedFolder? _selected;

    /// <summary>A mailbox name from the client: modified UTF-7 unless UTF8=ACCEPT is on (RFC 6855).</summary>
    private string ReadMailboxName(ImapParser p)
    {
        var name = p.ReadAString();
        return DecodeName(name) ?? throw new ImapSyntaxException("Invalid mailbox name encoding");
    }

    private string? DecodeName(string name) => _utf8 ? name : ModifiedUtf7.Decode(name);

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

    private async Task<bool> ListAsync(string tag, ImapParser p, bool lsub)
    {
        p.ExpectSpace();
        bool subscribedOnly = lsub, specialUseOnly = false, recursive = false;
        bool returnSubscribed = lsub, returnChildren = true, returnSpecialUse = true;
        List<string>? statusItems = null;
        if (!lsub && p.Peek() == '(')
        {
            // LIST-EXTENDED selection options (RFC 5258, 6154).
            p.ReadList(() =>
            {
                switch (p.ReadAtom().ToUpperInvariant())
                {
                    case "SUBSCRIBED": subscribedOnly = returnSubscribed = true; break;
                    case "SPECIAL-USE": specialUseOnly = true; break;
                    case "RECURSIVEMATCH": recursive = true; break;
                    case "REMOTE": break;
                    default: throw new ImapSyntaxException("Unknown LIST selection option");
                }
            });
            p.ExpectSpace();
        }
        var reference = DecodeName(p.ReadListMailbox()) ?? "";
        p.ExpectSpace();
        var patterns = new List<string>();
        if (p.Peek() == '(') p.ReadList(() => patterns.Add(p.ReadListMailbox()));
        else patterns.Add(p.ReadListMailbox());
        if (!lsub && !p.AtEnd)
        {
            p.ExpectSpace();
            if (!p.ReadAtom().Equals("RETURN", StringComparison.OrdinalIgnoreCase)) throw new ImapSyntaxException("Expected RETURN");
            p.ExpectSpace();
            p.ReadList(() =>
            {
                switch (p.ReadAtom().ToUpperInvariant())
                {
                    case "SUBSCRIBED": returnSubscribed = true; break;
                    case "CHILDREN": returnChildren = true; break;
                    case "SPECIAL-USE": returnSpecialUse = true; break;
                    case "STATUS":
                        p.ExpectSpace();
                        statusItems = ReadStatusItems(p);
                        break;
                    default: throw new ImapSyntaxException("Unknown LIST return option");
                }
            });
        }
        p.ExpectEnd();
        if (recursive && !subscribedOnly) throw new ImapSyntaxException("RECURSIVEMATCH needs another selection option");
        var verb = lsub ? "LSUB" : "LIST";

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

    private async Task<bool> SubscribeAsync(string tag, ImapParser p, bool subscribe)
    {
        p.ExpectSpace();
        var name = ReadMailboxName(p);
        p.ExpectEnd();
        var result = await _mailbox!.Subscribe(name, subscribe);
        return result.Status == MailboxOpStatus.Ok ? Ok(tag, "Done") : No(tag, StatusText(result.Status));
    }

    private async Task<bool> CreateAsync(string tag, ImapParser p)
    {
        p.ExpectSpace();
        var name = ReadMailboxName(p).TrimEnd('/');
        p.ExpectEnd();
        var result = await _mailbox!.CreateFolder(name);
        return result.Status == MailboxOpStatus.Ok ? Ok(tag, "CREATE completed") : No(tag, StatusText(result.Status));
    }

    private async Task<bool> DeleteAsync(string tag, ImapParser p)
    {
        p.ExpectSpace();
        var name = ReadMailboxName(p);
        p.ExpectEnd();
        if (_selected is not null && string.Equals(FolderKey(name), FolderKey(_selected.Name), StringComparison.Ordinal))
            return No(tag, "[INUSE] Unselect the mailbox first");
        var result = await _mailbox!.DeleteFolder(name);
        return result.Status == MailboxOpStatus.Ok ? Ok(tag, "DELETE completed") : No(tag, StatusText(result.Status));
    }

    private static string FolderKey(string name) =>
        name.Equals("INBOX", StringComparison.OrdinalIgnoreCase) || name.StartsWith("INBOX/", StringComparison.OrdinalIgnoreCase)
            ? "INBOX" + name[5..] : name;

    private async Task<bool> RenameAsync(string tag, ImapParser p)
    {
        p.ExpectSpace();
        var from = ReadMailboxName(p);
        p.ExpectSpace();
        var to = ReadMailboxName(p).TrimEnd('/');
        p.ExpectEnd();
        var result = await _mailbox!.RenameFolder(from, to);
        if (result.Status != MailboxOpStatus.Ok) return No(tag, StatusText(result.Status));
        if (_selected is not null && FolderKey(_selected.Name) == FolderKey(from)) _selected.Name = to;
        return Ok(tag, "RENAME completed");
    }

    private async Task<bool> SelectAsync(string tag, ImapParser p, bool readOnly)
    {
        p.ExpectSpace();
        var name = ReadMailboxName(p);
        if (!p.AtEnd)
        {
            // SELECT parameters (RFC 4466): only CONDSTORE is known.
            p.ExpectSpace();
            p.ReadList(() =>
            {
                if (!p.ReadAtom().Equals("CONDSTORE", StringComparison.OrdinalIgnoreCase)) throw new ImapSyntaxException("Unknown SELECT parameter");
                _condstore = true;
            });
        }
        p.ExpectEnd();
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

    private async Task<bool> CloseAsync(string tag, ImapParser p, bool expunge)
    {
        p.ExpectEnd();
        var view = _selected!;
        // CLOSE removes \Deleted messages without EXPUNGE responses (RFC 3501 6.4.2).
        if (expunge && !view.ReadOnly) await _mailbox!.Expunge(view.Name, null);
        await StopWatchingAsync();
        _selected = null;
        _state = State.Authenticated;
        return Ok(tag, expunge ? "CLOSE completed" : "UNSELECT completed");
    }

    private static List<string> ReadStatusItems(ImapParser p)
    {
        var items = new List<string>();
        p.ReadList(() =>
        {
            var item = p.ReadAtom().ToUpperInvariant();
            if (item is not ("MESSAGES" or "RECENT" or "UIDNEXT" or "UIDVALIDITY" or "UNSEEN" or "HIGHESTMODSEQ" or "SIZE" or "DELETED"))
                throw new ImapSyntaxException("Unknown STATUS item " + item);
            items.Add(item);
        });
        return items;
    }

    private async Task<bool> StatusAsync(string tag, ImapParser p)
    {
        p.ExpectSpace();
        var name = ReadMailboxName(p);
        p.ExpectSpace();
        var items = ReadStatusItems(p);
        p.ExpectEnd();
        var folder = await _mailbox!.GetFolder(name);
        if (folder is null) return No(tag, "[NONEXISTENT] No such mailbox");
        WriteStatus(folder, items);
        return Ok(tag, "STATUS completed");
    }

    private void WriteStatus(FolderInfo f, List<string> items)
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

    private async Task<bool> AppendAsync(string tag, ImapParser p)
    {
        p.ExpectSpace();
        var name = ReadMailboxName(p);
        p.ExpectSpace();
        var flags = MessageFlags.None;
        var keywords = new List<string>();
        if (p.Peek() == '(')
        {
            ReadFlagList(p, ref flags, keywords);
            p.ExpectSpace();
        }
        DateTimeOffset? date = null;
        if (p.Peek() == '"')
        {
            var text = p.ReadString();
            if (!TryParseDateTime(text, out var d)) throw new ImapSyntaxException("Invalid date-time");
            date = d;
            p.ExpectSpace();
        }
        if (p.Peek() != '{') throw new ImapSyntaxException("APPEND needs the message as a literal");
        var message = p.ReadStringBytes();
        p.ExpectEnd();
        if (message.Length == 0) return No(tag, "Empty message");
        // One rule for message text at every way in: CRLF line ends, no NUL, bounded header section (RFC 5530 codes).
        var (normalized, problem) = MessageText.Normalize(message);
        if (normalized is null) return No(tag, (MessageText.IsHeaderLimit(problem) ? "[LIMIT] " : "[PARSE] ") + MessageText.Describe(problem));
        message = normalized;
        var result = await _mailbox!.Append(name, message, flags, keywords, date);
        return result.Status switch
        {
            MailboxOpStatus.Ok => Ok(tag, $"[APPENDUID {result.UidValidity} {result.Uid}] APPEND completed"),
            MailboxOpStatus.NoSuchFolder => No(tag, "[TRYCREATE] No such mailbox"),
            _ => No(tag, StatusText(result.Status)),
        };
    }

    private static void ReadFlagList(ImapParser p, ref MessageFlags flags, List<string> keywords)
    {
        var f = MessageFlags.None;
        p.ReadList(() => ReadFlag(p, ref f, keywords));
        flags = f;
    }

    private static void ReadFlag(ImapParser p, ref MessageFlags flags, List<string> keywords)
    {
        if (p.TryConsume('\\'))
        {
            var name = p.ReadAtom().ToUpperInvariant();
            flags |= name switch
            {
                "SEEN" => MessageFlags.Seen,
                "ANSWERED" => MessageFlags.Answered,
                "FLAGGED" => MessageFlags.Flagged,
                "DELETED" => MessageFlags.Deleted,
                "DRAFT" => MessageFlags.Draft,
                "RECENT" => MessageFlags.None, // not settable by clients; ignored
                _ => throw new ImapSyntaxException("Unknown system flag \\" + name),
            };
            return;
        }
        var keyword = p.ReadAtom();
        if (keyword.Length > 100) throw new ImapSyntaxException("Keyword too long");
        keywords.Add(keyword);
    }

    private static readonly string[] DateFormats = ["d-MMM-yyyy HH:mm:ss zzz", "dd-MMM-yyyy HH:mm:ss zzz"];

    internal static bool TryParseDateTime(string text, out DateTimeOffset value)
    {
        // "17-Jul-1996 02:44:25 -0700": .NET wants the zone as -07:00.
        value = default;
        var t = text.Trim();
        if (t.Length < 6) return false;
        var zone = t[^5..];
        if (zone[0] is not ('+' or '-')) return false;
        t = t[..^5] + zone[..3] + ":" + zone[3..];
        return DateTimeOffset.TryParseExact(t, DateFormats, CultureInfo.InvariantCulture, DateTimeStyles.None, out value);
    }

    internal static string FormatDateTime(DateTimeOffset d) =>
        d.ToString("dd-MMM-yyyy HH:mm:ss ", CultureInfo.InvariantCulture) + (d.Offset < TimeSpan.Zero ? "-" : "+") + d.Offset.ToString("hhmm", CultureInfo.InvariantCulture);

    private async Task<bool> GetQuotaRootAsync(string tag, ImapParser p)
    {
        p.ExpectSpace();
        var name = ReadMailboxName(p);
        p.ExpectEnd();
        if (await _mailbox!.GetFolder(name) is null) return No(tag, "[NONEXISTENT] No such mailbox");
        _out.Raw("* QUOTAROOT ").AString(EncodeName(name)).Line(" \"\"");
        await WriteQuotaAsync();
        return Ok(tag, "GETQUOTAROOT completed");
    }

    private async Task<bool> GetQuotaAsync(string tag, ImapParser p)
    {
        p.ExpectSpace();
        var root = p.ReadAString();
        p.ExpectEnd();
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

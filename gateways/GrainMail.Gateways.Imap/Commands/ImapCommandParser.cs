using System.Globalization;
using GrainMail.Contracts.Mailboxes;
using GrainMail.Gateways.Imap.Mime;
using GrainMail.Gateways.Imap.Protocol;
using GrainMail.Gateways.Imap.Search;

namespace GrainMail.Gateways.Imap.Commands;

/// <summary>
/// Turns a command as read (<see cref="RawCommand"/>: tag, name, arguments with their literals)
/// into a typed <see cref="ImapCommand"/>, or an <see cref="ImapParseError"/> with the reason for
/// BAD. Pure: no I/O, no grain call, no session state but the one fact that changes how names are
/// read (<paramref name="utf8"/>: UTF8=ACCEPT enabled). Never throws.
/// </summary>
internal static partial class ImapCommandParser
{
    /// <summary>Every command name the gateway knows; others are "Unknown command".</summary>
    public static bool IsKnown(string name) => name is "CAPABILITY" or "NOOP" or "LOGOUT" or "ID" or "STARTTLS" or "LOGIN" or "AUTHENTICATE"
        || IsAuthenticatedCommand(name) || IsSelectedCommand(name);

    /// <summary>Commands of the authenticated state (RFC 3501 6.3 and extensions), also valid when selected.</summary>
    public static bool IsAuthenticatedCommand(string name) => name is "ENABLE" or "NAMESPACE" or "LIST" or "LSUB" or "SUBSCRIBE"
        or "UNSUBSCRIBE" or "CREATE" or "DELETE" or "RENAME" or "SELECT" or "EXAMINE" or "STATUS" or "APPEND" or "GETQUOTAROOT"
        or "GETQUOTA" or "SETQUOTA" or "IDLE" or "COMPRESS" or "UNAUTHENTICATE" or "NOTIFY";

    /// <summary>Commands of the selected state only (RFC 3501 6.4 and extensions).</summary>
    public static bool IsSelectedCommand(string name) => name is "CHECK" or "CLOSE" or "UNSELECT" or "EXPUNGE" or "FETCH" or "STORE"
        or "SEARCH" or "COPY" or "MOVE" or "UID" or "SORT" or "THREAD";

    public static ImapCommand Parse(RawCommand raw, bool utf8)
    {
        var p = new ImapParser(raw);
        string tag, name;
        try
        {
            var atom = p.ReadAtom();
            // The tag as the session answers with it: up to a '+', which RFC 3501 9 excludes from tags.
            tag = ImapParser.TagOf(raw.FirstLine) ?? atom;
            p.ExpectSpace();
            name = p.ReadAtom().ToUpperInvariant();
        }
        catch (ImapSyntaxException)
        {
            return new ImapParseError(ImapParser.TagOf(raw.FirstLine) ?? "*", "", "Missing command");
        }
        try
        {
            return Parse(p, tag, name, utf8);
        }
        catch (InvalidMailboxNameException e)
        {
            return new InvalidMailboxName(tag, name, e.Message);
        }
        catch (ImapSyntaxException e)
        {
            return new ImapParseError(tag, name, e.Message);
        }
    }

    private static readonly System.Text.UTF8Encoding StrictUtf8 = new(false, throwOnInvalidBytes: true);

    /// <summary>A name that is well-formed as a string but is not a mailbox name this session can mean.</summary>
    private sealed class InvalidMailboxNameException(string message) : Exception(message);

    private static ImapCommand Parse(ImapParser p, string tag, string name, bool utf8)
    {
        switch (name)
        {
            case "CAPABILITY": p.ExpectEnd(); return new CapabilityCommand(tag);
            case "NOOP": p.ExpectEnd(); return new NoopCommand(tag);
            case "LOGOUT": p.ExpectEnd(); return new LogoutCommand(tag);
            case "ID": return new IdCommand(tag, ReadId(p));
            case "STARTTLS": p.ExpectEnd(); return new StartTlsCommand(tag);
            case "LOGIN":
                {
                    p.ExpectSpace();
                    var user = p.ReadAString();
                    p.ExpectSpace();
                    var secret = p.ReadAString();
                    p.ExpectEnd();
                    return new LoginCommand(tag, user, secret);
                }
            case "AUTHENTICATE":
                {
                    p.ExpectSpace();
                    var mechanism = p.ReadAtom().ToUpperInvariant();
                    string? initial = null;
                    if (!p.AtEnd)
                    {
                        p.ExpectSpace();
                        initial = p.ReadAtom(allowBracket: true);
                    }
                    p.ExpectEnd();
                    return new AuthenticateCommand(tag, mechanism, initial);
                }
            case "ENABLE":
                {
                    var caps = new List<string>();
                    while (!p.AtEnd)
                    {
                        p.ExpectSpace();
                        caps.Add(p.ReadAtom().ToUpperInvariant());
                    }
                    return new EnableCommand(tag, caps);
                }
            case "NAMESPACE": p.ExpectEnd(); return new NamespaceCommand(tag);
            case "LIST": return ReadList(p, tag, lsub: false, utf8);
            case "LSUB": return ReadList(p, tag, lsub: true, utf8);
            case "SUBSCRIBE": return new SubscribeCommand(tag, OneMailbox(p, utf8), Subscribe: true);
            case "UNSUBSCRIBE": return new SubscribeCommand(tag, OneMailbox(p, utf8), Subscribe: false);
            case "CREATE": return new CreateCommand(tag, OneMailbox(p, utf8).TrimEnd('/'));
            case "DELETE": return new DeleteCommand(tag, OneMailbox(p, utf8));
            case "RENAME":
                {
                    p.ExpectSpace();
                    var from = ReadMailboxName(p, utf8);
                    p.ExpectSpace();
                    var to = ReadMailboxName(p, utf8).TrimEnd('/');
                    p.ExpectEnd();
                    return new RenameCommand(tag, from, to);
                }
            case "SELECT": return ReadSelect(p, tag, readOnly: false, utf8);
            case "EXAMINE": return ReadSelect(p, tag, readOnly: true, utf8);
            case "STATUS":
                {
                    p.ExpectSpace();
                    var mailbox = ReadMailboxName(p, utf8);
                    p.ExpectSpace();
                    var items = ReadStatusItems(p);
                    p.ExpectEnd();
                    return new StatusCommand(tag, mailbox, items);
                }
            case "APPEND": return ReadAppend(p, tag, utf8);
            case "NOTIFY": return ReadNotify(p, tag, utf8);
            case "GETQUOTAROOT": return new GetQuotaRootCommand(tag, OneMailbox(p, utf8));
            case "GETQUOTA":
                {
                    p.ExpectSpace();
                    var root = p.ReadAString();
                    p.ExpectEnd();
                    return new GetQuotaCommand(tag, root);
                }
            case "SETQUOTA": return new SetQuotaCommand(tag);
            case "IDLE": p.ExpectEnd(); return new IdleCommand(tag);
            case "COMPRESS":
                {
                    p.ExpectSpace();
                    var mechanism = p.ReadAtom().ToUpperInvariant();
                    p.ExpectEnd();
                    return new CompressCommand(tag, mechanism);
                }
            case "UNAUTHENTICATE": p.ExpectEnd(); return new UnauthenticateCommand(tag);
            case "SORT": return ReadSort(p, tag, uid: false);
            case "THREAD": return ReadThread(p, tag, uid: false);
            case "CHECK": p.ExpectEnd(); return new CheckCommand(tag);
            case "CLOSE": p.ExpectEnd(); return new CloseCommand(tag, Expunge: true);
            case "UNSELECT": p.ExpectEnd(); return new CloseCommand(tag, Expunge: false);
            case "EXPUNGE": p.ExpectEnd(); return new ExpungeCommand(tag, null);
            case "FETCH": return ReadFetch(p, tag, uid: false);
            case "STORE": return ReadStore(p, tag, uid: false);
            case "SEARCH": return ReadSearch(p, tag, uid: false);
            case "COPY": return ReadCopy(p, tag, uid: false, move: false, utf8);
            case "MOVE": return ReadCopy(p, tag, uid: false, move: true, utf8);
            case "UID":
                {
                    p.ExpectSpace();
                    switch (p.ReadAtom().ToUpperInvariant())
                    {
                        case "FETCH": return ReadFetch(p, tag, uid: true);
                        case "STORE": return ReadStore(p, tag, uid: true);
                        case "SEARCH": return ReadSearch(p, tag, uid: true);
                        case "SORT": return ReadSort(p, tag, uid: true);
                        case "THREAD": return ReadThread(p, tag, uid: true);
                        case "COPY": return ReadCopy(p, tag, uid: true, move: false, utf8);
                        case "MOVE": return ReadCopy(p, tag, uid: true, move: true, utf8);
                        case "EXPUNGE":
                            {
                                p.ExpectSpace();
                                var set = p.ReadSequenceSet();
                                p.ExpectEnd();
                                return new ExpungeCommand(tag, set);
                            }
                        default: return new ImapParseError(tag, name, "Unknown UID command");
                    }
                }
            default:
                return new ImapParseError(tag, name, "Unknown command");
        }
    }

    /// <summary>A mailbox name: modified UTF-7 (RFC 3501 5.1.3) unless UTF8=ACCEPT is on (RFC 6855).</summary>
    private static string ReadMailboxName(ImapParser p, bool utf8)
    {
        string name;
        if (p.Peek() is '"' or '{')
        {
            // Octets that are not UTF-8 in a quoted name are a name the server cannot mean, not a
            // broken command: NO, like any other impossible name.
            try
            {
                name = StrictUtf8.GetString(p.ReadStringBytes());
            }
            catch (System.Text.DecoderFallbackException)
            {
                throw new InvalidMailboxNameException("Mailbox name is not UTF-8 text");
            }
        }
        else
        {
            name = p.ReadAtom(allowBracket: true);
        }
        return DecodeName(name, utf8)
            ?? throw new InvalidMailboxNameException("Mailbox name is not valid modified UTF-7 (RFC 3501 5.1.3)");
    }

    /// <summary>
    /// A name as the client sent it, decoded: as is after UTF8=ACCEPT (RFC 6855), else strict
    /// modified UTF-7 (null when invalid or not in its one canonical form).
    /// </summary>
    public static string? DecodeName(string name, bool utf8) => utf8 ? name : ModifiedUtf7.DecodeCanonical(name);

    private static string OneMailbox(ImapParser p, bool utf8)
    {
        p.ExpectSpace();
        var name = ReadMailboxName(p, utf8);
        p.ExpectEnd();
        return name;
    }

    // RFC 2971 §3.3: a list of field/value pairs (value a string or NIL), or NIL; at most 30 pairs.
    private static IReadOnlyDictionary<string, string?> ReadId(ImapParser p)
    {
        p.ExpectSpace();
        var fields = new Dictionary<string, string?>(StringComparer.OrdinalIgnoreCase);
        if (p.Peek() == '(')
        {
            var items = new List<string?>();
            p.ReadList(() =>
            {
                if (items.Count >= 60) throw new ImapSyntaxException("Too many ID fields");
                if (p.Peek() == 'N' || p.Peek() == 'n')
                {
                    p.ReadAtom();
                    items.Add(null);
                }
                else items.Add(p.ReadString());
            });
            if (items.Count % 2 != 0) throw new ImapSyntaxException("ID fields come in field/value pairs");
            for (var i = 0; i < items.Count; i += 2)
            {
                if (items[i] is not { } field) throw new ImapSyntaxException("An ID field name cannot be NIL");
                fields[field] = items[i + 1];
            }
        }
        else if (!p.ReadAtom().Equals("NIL", StringComparison.OrdinalIgnoreCase))
        {
            throw new ImapSyntaxException("ID takes a list or NIL");
        }
        p.ExpectEnd();
        return fields;
    }

    private static ListCommand ReadList(ImapParser p, string tag, bool lsub, bool utf8)
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
        var reference = DecodeName(p.ReadListMailbox(), utf8) ?? "";
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
        return new ListCommand(tag, lsub, reference, patterns, subscribedOnly, specialUseOnly, recursive,
            returnSubscribed, returnChildren, returnSpecialUse, statusItems);
    }

    private static SelectCommand ReadSelect(ImapParser p, string tag, bool readOnly, bool utf8)
    {
        p.ExpectSpace();
        var name = ReadMailboxName(p, utf8);
        var condstore = false;
        QresyncParameters? qresync = null;
        if (!p.AtEnd)
        {
            // SELECT parameters (RFC 4466): CONDSTORE and QRESYNC (RFC 7162).
            p.ExpectSpace();
            p.ReadList(() =>
            {
                switch (p.ReadAtom().ToUpperInvariant())
                {
                    case "CONDSTORE": condstore = true; break;
                    case "QRESYNC" when qresync is null: qresync = ReadQresync(p); break;
                    default: throw new ImapSyntaxException("Unknown SELECT parameter");
                }
            });
        }
        p.ExpectEnd();
        return new SelectCommand(tag, name, readOnly, condstore, qresync);
    }

    private static List<string> ReadStatusItems(ImapParser p)
    {
        var items = new List<string>();
        p.ReadList(() =>
        {
            var item = p.ReadAtom().ToUpperInvariant();
            if (item is not ("MESSAGES" or "RECENT" or "UIDNEXT" or "UIDVALIDITY" or "UNSEEN" or "HIGHESTMODSEQ" or "SIZE" or "DELETED" or "MAILBOXID" or "APPENDLIMIT"))
                throw new ImapSyntaxException("Unknown STATUS item " + item);
            items.Add(item);
        });
        return items;
    }

    private static AppendCommand ReadAppend(ImapParser p, string tag, bool utf8)
    {
        p.ExpectSpace();
        var name = ReadMailboxName(p, utf8);
        p.ExpectSpace();
        var flags = MessageFlags.None;
        var keywords = new List<string>();
        if (p.Peek() == '(')
        {
            flags = ReadFlagList(p, keywords);
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
        // UTF8 (~{n}): a message with UTF-8 headers (RFC 6855 4), only after ENABLE UTF8=ACCEPT.
        var international = p.TryConsumeKeyword("UTF8");
        if (international)
        {
            if (!utf8) throw new ImapSyntaxException("APPEND UTF8 needs ENABLE UTF8=ACCEPT");
            p.Expect('(');
            if (!p.TryConsume('~')) throw new ImapSyntaxException("APPEND UTF8 needs the message as a literal8");
        }
        // ~{n}: a literal8 (RFC 3516 4.4), which may hold any octet.
        var binary = international || p.TryConsume('~');
        if (p.Peek() != '{') throw new ImapSyntaxException("APPEND needs the message as a literal");
        var message = p.ReadStringBytes();
        if (international) p.Expect(')');
        p.ExpectEnd();
        return new AppendCommand(tag, name, flags, keywords, date, message, binary);
    }

    private static MessageFlags ReadFlagList(ImapParser p, List<string> keywords)
    {
        var flags = MessageFlags.None;
        p.ReadList(() => flags |= ReadFlag(p, keywords));
        return flags;
    }

    /// <summary>A system flag (RFC 3501 2.3.2) or a keyword; \Recent is read and ignored (clients cannot set it).</summary>
    private static MessageFlags ReadFlag(ImapParser p, List<string> keywords)
    {
        if (p.TryConsume('\\'))
        {
            var name = p.ReadAtom().ToUpperInvariant();
            return name switch
            {
                "SEEN" => MessageFlags.Seen,
                "ANSWERED" => MessageFlags.Answered,
                "FLAGGED" => MessageFlags.Flagged,
                "DELETED" => MessageFlags.Deleted,
                "DRAFT" => MessageFlags.Draft,
                "RECENT" => MessageFlags.None,
                _ => throw new ImapSyntaxException("Unknown system flag \\" + name),
            };
        }
        var keyword = p.ReadAtom();
        if (keyword.Length > 100) throw new ImapSyntaxException("Keyword too long");
        keywords.Add(keyword);
        return MessageFlags.None;
    }

    private static readonly string[] DateFormats = ["d-MMM-yyyy HH:mm:ss zzz", "dd-MMM-yyyy HH:mm:ss zzz"];

    /// <summary>An IMAP date-time such as "17-Jul-1996 02:44:25 -0700" (RFC 3501 9).</summary>
    public static bool TryParseDateTime(string text, out DateTimeOffset value)
    {
        // .NET wants the zone as -07:00.
        value = default;
        var t = text.Trim();
        if (t.Length < 6) return false;
        var zone = t[^5..];
        if (zone[0] is not ('+' or '-')) return false;
        t = t[..^5] + zone[..3] + ":" + zone[3..];
        return DateTimeOffset.TryParseExact(t, DateFormats, CultureInfo.InvariantCulture, DateTimeStyles.None, out value);
    }

    private static FetchCommand ReadFetch(ImapParser p, string tag, bool uid)
    {
        p.ExpectSpace();
        var set = p.ReadSequenceSet();
        p.ExpectSpace();
        var items = FetchItem.ParseList(p);
        long? changedSince = null;
        var vanished = false;
        if (!p.AtEnd)
        {
            // FETCH modifiers (RFC 7162): CHANGEDSINCE, and VANISHED (UID FETCH with CHANGEDSINCE only, 3.2.6).
            p.ExpectSpace();
            p.ReadList(() =>
            {
                switch (p.ReadAtom().ToUpperInvariant())
                {
                    case "CHANGEDSINCE":
                        p.ExpectSpace();
                        changedSince = p.ReadNumber();
                        break;
                    case "VANISHED": vanished = true; break;
                    default: throw new ImapSyntaxException("Unknown FETCH modifier");
                }
            });
            if (vanished && (!uid || changedSince is null)) throw new ImapSyntaxException("VANISHED needs UID FETCH with CHANGEDSINCE");
        }
        p.ExpectEnd();
        return new FetchCommand(tag, uid, set, items, changedSince, vanished);
    }

    private static StoreCommand ReadStore(ImapParser p, string tag, bool uid)
    {
        p.ExpectSpace();
        var set = p.ReadSequenceSet();
        p.ExpectSpace();
        long? unchangedSince = null;
        if (p.Peek() == '(')
        {
            p.ReadList(() =>
            {
                if (!p.ReadAtom().Equals("UNCHANGEDSINCE", StringComparison.OrdinalIgnoreCase)) throw new ImapSyntaxException("Unknown STORE modifier");
                p.ExpectSpace();
                unchangedSince = p.ReadNumber();
            });
            p.ExpectSpace();
        }
        var op = p.ReadAtom().ToUpperInvariant();
        var silent = op.EndsWith(".SILENT", StringComparison.Ordinal);
        if (silent) op = op[..^7];
        var mode = op switch
        {
            "FLAGS" => FlagChangeMode.Replace,
            "+FLAGS" => FlagChangeMode.Add,
            "-FLAGS" => FlagChangeMode.Remove,
            _ => throw new ImapSyntaxException("Expected FLAGS, +FLAGS or -FLAGS"),
        };
        p.ExpectSpace();
        var keywords = new List<string>();
        MessageFlags flags;
        if (p.Peek() == '(')
        {
            flags = ReadFlagList(p, keywords);
        }
        else
        {
            // Flags without parentheses, separated by spaces (RFC 3501 allows both).
            flags = ReadFlag(p, keywords);
            while (!p.AtEnd)
            {
                p.ExpectSpace();
                flags |= ReadFlag(p, keywords);
            }
        }
        p.ExpectEnd();
        return new StoreCommand(tag, uid, set, unchangedSince, mode, silent, flags, keywords);
    }

    private static CopyCommand ReadCopy(ImapParser p, string tag, bool uid, bool move, bool utf8)
    {
        p.ExpectSpace();
        var set = p.ReadSequenceSet();
        p.ExpectSpace();
        var target = ReadMailboxName(p, utf8);
        p.ExpectEnd();
        return new CopyCommand(tag, uid, move, set, target);
    }

    private static SearchCommand ReadSearch(ImapParser p, string tag, bool uid)
    {
        p.ExpectSpace();
        var returns = ReadSearchReturn(p);
        string? charset = null;
        if (p.TryConsumeKeyword("CHARSET"))
        {
            charset = p.ReadAString();
            // RFC 3501 6.4.4: any charset MimeKit knows; its search strings are decoded from it and
            // compared with the decoded message text. An unknown one is NO [BADCHARSET]; the criteria are not read.
            if (!charset.Equals("UTF-8", StringComparison.OrdinalIgnoreCase) && !charset.Equals("US-ASCII", StringComparison.OrdinalIgnoreCase))
            {
                if (ImapCharsets.Find(charset) is not { } encoding) return new SearchCommand(tag, uid, charset, null, false, returns);
                p.StringCharset = encoding;
            }
            p.ExpectSpace();
        }
        var keys = p.Fork();
        var query = SearchKey.ParseProgram(p, out var usesModSeq);
        return new SearchCommand(tag, uid, charset, query, usesModSeq, returns, RecentSearchKeys.Uses(keys));
    }
}

using System.Globalization;
using GrainMail.Contracts.Mailboxes;
using GrainMail.Gateways.Common.Messages;
using GrainMail.Gateways.Imap.Mime;
using GrainMail.Gateways.Imap.Protocol;
using MimeKit;
using GrainMail.Gateways.Common.Mime;

namespace GrainMail.Gateways.Imap.Search;

/// <summary>What a search key is evaluated against: one message of the selected folder.</summary>
internal sealed class SearchContext(int sequence, MessageMeta meta, bool recent, long largestUid, int count, Func<Task<LoadedMessage?>> load)
{
    private LoadedMessage? _content;
    private bool _loaded;

    public int Sequence => sequence;
    public MessageMeta Meta => meta;
    public bool Recent => recent;
    public long LargestUid => largestUid;
    public int Count => count;

    /// <summary>The UIDs of the saved search result <c>$</c> (RFC 5182); null when nothing was saved.</summary>
    public IReadOnlySet<long>? SavedUids { get; init; }

    public async Task<LoadedMessage?> ContentAsync()
    {
        if (!_loaded)
        {
            _content = await load();
            _loaded = true;
        }
        return _content;
    }
}

/// <summary>One SEARCH key (RFC 3501 6.4.4, RFC 7162 MODSEQ); a query is an AND of keys.</summary>
internal abstract class SearchKey
{
    /// <summary>True when the key can be decided from the index alone (no message bytes).</summary>
    public virtual bool NeedsContent => false;

    public abstract ValueTask<bool> MatchAsync(SearchContext m);

    public static SearchKey ParseProgram(ImapParser p, out bool usesModSeq)
    {
        // Header and body text is decoded from its charset before any comparison, whatever the charset.
        ImapCharsets.EnsureRegistered();
        var modseq = false;
        var keys = new List<SearchKey>();
        while (!p.AtEnd)
        {
            if (keys.Count > 0) p.ExpectSpace();
            keys.Add(Parse(p, ref modseq, 0));
        }
        if (keys.Count == 0) throw new ImapSyntaxException("Missing search criteria");
        usesModSeq = modseq;
        return keys.Count == 1 ? keys[0] : new And(keys);
    }

    private static SearchKey Parse(ImapParser p, ref bool modseq, int depth)
    {
        if (depth > 50) throw new ImapSyntaxException("Search criteria nested too deeply");
        if (p.Peek() == '(')
        {
            var keys = new List<SearchKey>();
            var m = modseq;
            p.ReadList(() => keys.Add(Parse(p, ref m, depth + 1)));
            modseq = m;
            if (keys.Count == 0) throw new ImapSyntaxException("Empty search list");
            return new And(keys);
        }
        var c = p.Peek();
        if (c is (>= '0' and <= '9') or '*' or '$') return new Sequence(p.ReadSequenceSet());
        var name = p.ReadAtom().ToUpperInvariant();
        switch (name)
        {
            case "ALL": return new Always();
            case "ANSWERED": return new Flag(MessageFlags.Answered, true);
            case "DELETED": return new Flag(MessageFlags.Deleted, true);
            case "DRAFT": return new Flag(MessageFlags.Draft, true);
            case "FLAGGED": return new Flag(MessageFlags.Flagged, true);
            case "SEEN": return new Flag(MessageFlags.Seen, true);
            case "UNANSWERED": return new Flag(MessageFlags.Answered, false);
            case "UNDELETED": return new Flag(MessageFlags.Deleted, false);
            case "UNDRAFT": return new Flag(MessageFlags.Draft, false);
            case "UNFLAGGED": return new Flag(MessageFlags.Flagged, false);
            case "UNSEEN": return new Flag(MessageFlags.Seen, false);
            case "RECENT": return new RecentKey(true);
            case "OLD": return new RecentKey(false);
            case "NEW": return new And([new RecentKey(true), new Flag(MessageFlags.Seen, false)]);
            case "KEYWORD": return new Keyword(Arg(p, () => p.ReadAtom()), true);
            case "UNKEYWORD": return new Keyword(Arg(p, () => p.ReadAtom()), false);
            case "BEFORE": return new InternalDate(Arg(p, () => ReadDate(p)), DateCompare.Before);
            case "ON": return new InternalDate(Arg(p, () => ReadDate(p)), DateCompare.On);
            case "SINCE": return new InternalDate(Arg(p, () => ReadDate(p)), DateCompare.Since);
            case "SENTBEFORE": return new SentDate(Arg(p, () => ReadDate(p)), DateCompare.Before);
            case "SENTON": return new SentDate(Arg(p, () => ReadDate(p)), DateCompare.On);
            case "SENTSINCE": return new SentDate(Arg(p, () => ReadDate(p)), DateCompare.Since);
            case "LARGER": return new Size(Arg(p, p.ReadNumber), larger: true);
            case "SMALLER": return new Size(Arg(p, p.ReadNumber), larger: false);
            case "UID": return new Uid(Arg(p, p.ReadSequenceSet));
            case "NOT":
                p.ExpectSpace();
                return new Not(Parse(p, ref modseq, depth + 1));
            case "OR":
                {
                    p.ExpectSpace();
                    var a = Parse(p, ref modseq, depth + 1);
                    p.ExpectSpace();
                    var b = Parse(p, ref modseq, depth + 1);
                    return new Or(a, b);
                }
            case "BCC":
            case "CC":
            case "FROM":
            case "TO":
            case "SUBJECT":
                return new HeaderContains(name, Arg(p, p.ReadAString));
            case "HEADER":
                {
                    p.ExpectSpace();
                    var field = p.ReadAString();
                    return new HeaderContains(field, Arg(p, p.ReadAString));
                }
            case "BODY": return new TextContains(Arg(p, p.ReadAString), headers: false);
            case "TEXT": return new TextContains(Arg(p, p.ReadAString), headers: true);
            // RFC 8514: the save date; every mailbox here keeps one.
            case "SAVEDBEFORE": return new SavedDate(Arg(p, () => ReadDate(p)), DateCompare.Before);
            case "SAVEDON": return new SavedDate(Arg(p, () => ReadDate(p)), DateCompare.On);
            case "SAVEDSINCE": return new SavedDate(Arg(p, () => ReadDate(p)), DateCompare.Since);
            case "SAVEDATESUPPORTED": return new Always();
            // RFC 8474 6: the object identifiers.
            case "EMAILID": return new EmailIdKey(Arg(p, () => p.ReadAtom()));
            case "THREADID": return new ThreadIdKey(Arg(p, () => p.ReadAtom()));
            case "MODSEQ":
                {
                    modseq = true;
                    p.ExpectSpace();
                    if (p.Peek() == '"')
                    {
                        // An entry name and type (per-flag MODSEQ): we keep one MODSEQ per message.
                        p.ReadString();
                        p.ExpectSpace();
                        p.ReadAtom();
                        p.ExpectSpace();
                    }
                    return new ModSeq(p.ReadNumber());
                }
            default:
                throw new ImapSyntaxException("Unknown search key " + name);
        }
    }

    private static T Arg<T>(ImapParser p, Func<T> read)
    {
        p.ExpectSpace();
        return read();
    }

    private static DateOnly ReadDate(ImapParser p)
    {
        var text = p.Peek() == '"' ? p.ReadString() : p.ReadAtom();
        if (!DateOnly.TryParseExact(text, ["d-MMM-yyyy", "dd-MMM-yyyy"], CultureInfo.InvariantCulture, DateTimeStyles.None, out var d))
            throw new ImapSyntaxException("Invalid date " + text);
        return d;
    }

    private enum DateCompare
    {
        Before,
        On,
        Since,
    }

    private static bool Compare(DateOnly value, DateOnly against, DateCompare how) => how switch
    {
        DateCompare.Before => value < against,
        DateCompare.On => value == against,
        _ => value >= against,
    };

    private sealed class Always : SearchKey
    {
        public override ValueTask<bool> MatchAsync(SearchContext m) => ValueTask.FromResult(true);
    }

    private sealed class And(List<SearchKey> keys) : SearchKey
    {
        // Index-only keys first: a message ruled out by its flags is never read.
        private readonly List<SearchKey> _keys = [.. keys.OrderBy(k => k.NeedsContent)];

        public override bool NeedsContent => _keys.Any(k => k.NeedsContent);

        public override async ValueTask<bool> MatchAsync(SearchContext m)
        {
            foreach (var k in _keys)
                if (!await k.MatchAsync(m)) return false;
            return true;
        }
    }

    private sealed class Or(SearchKey a, SearchKey b) : SearchKey
    {
        public override bool NeedsContent => a.NeedsContent || b.NeedsContent;

        public override async ValueTask<bool> MatchAsync(SearchContext m) => await a.MatchAsync(m) || await b.MatchAsync(m);
    }

    private sealed class Not(SearchKey inner) : SearchKey
    {
        public override bool NeedsContent => inner.NeedsContent;

        public override async ValueTask<bool> MatchAsync(SearchContext m) => !await inner.MatchAsync(m);
    }

    private sealed class Flag(MessageFlags flag, bool set) : SearchKey
    {
        public override ValueTask<bool> MatchAsync(SearchContext m) => ValueTask.FromResult(((m.Meta.Flags & flag) != 0) == set);
    }

    private sealed class RecentKey(bool recent) : SearchKey
    {
        public override ValueTask<bool> MatchAsync(SearchContext m) => ValueTask.FromResult(m.Recent == recent);
    }

    private sealed class Keyword(string keyword, bool set) : SearchKey
    {
        public override ValueTask<bool> MatchAsync(SearchContext m) =>
            ValueTask.FromResult(m.Meta.Keywords.Contains(keyword, StringComparer.OrdinalIgnoreCase) == set);
    }

    // "$" as a key, or as UID $, is the saved result (RFC 5182 2.1): the messages it names, by UID.
    private sealed class Sequence(SequenceSet set) : SearchKey
    {
        public override ValueTask<bool> MatchAsync(SearchContext m) => ValueTask.FromResult(set.IsSavedResult
            ? m.SavedUids?.Contains(m.Meta.Uid) == true
            : set.Contains(m.Sequence, m.Count));
    }

    private sealed class Uid(SequenceSet set) : SearchKey
    {
        public override ValueTask<bool> MatchAsync(SearchContext m) => ValueTask.FromResult(set.IsSavedResult
            ? m.SavedUids?.Contains(m.Meta.Uid) == true
            : set.Contains(m.Meta.Uid, m.LargestUid));
    }

    private sealed class SavedDate(DateOnly date, DateCompare how) : SearchKey
    {
        public override ValueTask<bool> MatchAsync(SearchContext m) =>
            ValueTask.FromResult(Compare(DateOnly.FromDateTime((m.Meta.SaveDate ?? m.Meta.InternalDate).UtcDateTime), date, how));
    }

    private sealed class EmailIdKey(string id) : SearchKey
    {
        public override ValueTask<bool> MatchAsync(SearchContext m) =>
            ValueTask.FromResult(Common.Objects.ObjectIds.EmailId(m.Meta.Blob).Equals(id, StringComparison.Ordinal));
    }

    private sealed class ThreadIdKey(string id) : SearchKey
    {
        public override bool NeedsContent => true;

        public override async ValueTask<bool> MatchAsync(SearchContext m)
        {
            var content = await m.ContentAsync();
            return content is not null && Common.Objects.ObjectIds.ThreadId(content.Root.Headers, m.Meta.Blob).Equals(id, StringComparison.Ordinal);
        }
    }

    private sealed class Size(long size, bool larger) : SearchKey
    {
        public override ValueTask<bool> MatchAsync(SearchContext m) => ValueTask.FromResult(larger ? m.Meta.Blob.Size > size : m.Meta.Blob.Size < size);
    }

    private sealed class ModSeq(long since) : SearchKey
    {
        public override ValueTask<bool> MatchAsync(SearchContext m) => ValueTask.FromResult(m.Meta.ModSeq >= since);
    }

    private sealed class InternalDate(DateOnly date, DateCompare how) : SearchKey
    {
        // RFC 3501: dates compare without time or zone; the stored instant's own date.
        public override ValueTask<bool> MatchAsync(SearchContext m) =>
            ValueTask.FromResult(Compare(DateOnly.FromDateTime(m.Meta.InternalDate.DateTime), date, how));
    }

    private sealed class SentDate(DateOnly date, DateCompare how) : SearchKey
    {
        public override bool NeedsContent => true;

        public override async ValueTask<bool> MatchAsync(SearchContext m)
        {
            var content = await m.ContentAsync();
            var value = content is null ? null : ImapBodyFormatter.RawValue(content.Root.Headers, "Date");
            if (value is null || !MimeKit.Utils.DateUtils.TryParse(value, out var sent)) return false;
            return Compare(DateOnly.FromDateTime(sent.DateTime), date, how);
        }
    }

    private sealed class HeaderContains(string field, string text) : SearchKey
    {
        public override bool NeedsContent => true;

        public override async ValueTask<bool> MatchAsync(SearchContext m)
        {
            var content = await m.ContentAsync();
            if (content is null) return false;
            foreach (var h in content.Root.Headers)
            {
                if (!h.Field.Equals(field, StringComparison.OrdinalIgnoreCase)) continue;
                // An empty string matches every message that has the field (RFC 3501 HEADER).
                if (text.Length == 0 || Decoded(h).Contains(text, StringComparison.OrdinalIgnoreCase)) return true;
                // FROM, TO, CC, BCC: the field as written, display names included (RFC 3501 6.4.4),
                // also with encoded words inside quoted display names decoded, as mailers write them.
                if (IsAddressField(field) && TextSearch.AddressesText(h).Contains(text, StringComparison.OrdinalIgnoreCase)) return true;
            }
            return false;
        }
    }

    private static string Decoded(Header h) => TextSearch.DecodedValue(h);

    private static bool IsAddressField(string field) =>
        field.Equals("From", StringComparison.OrdinalIgnoreCase) || field.Equals("To", StringComparison.OrdinalIgnoreCase)
        || field.Equals("Cc", StringComparison.OrdinalIgnoreCase) || field.Equals("Bcc", StringComparison.OrdinalIgnoreCase);

    private sealed class TextContains(string text, bool headers) : SearchKey
    {
        public override bool NeedsContent => true;

        public override async ValueTask<bool> MatchAsync(SearchContext m)
        {
            var content = await m.ContentAsync();
            if (content is null) return false;
            if (headers && TextSearch.HeadersContain(content.Root.Headers, text, names: true)) return true;
            // Decoded text of every text part (transfer encoding and charset undone), not the raw bytes.
            return TextSearch.BodyContains(content.Raw, content.Root, text, headers);
        }
    }
}

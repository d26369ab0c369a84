using GrainMail.Gateways.Imap.Protocol;
using GrainMail.Gateways.Imap.Search;
using GrainMail.Gateways.Imap.Sorting;

namespace GrainMail.Gateways.Imap.Commands;

// Parsing of the extension commands and arguments: SORT, THREAD (RFC 5256), SEARCH RETURN
// (RFC 4731, 5182), SELECT (QRESYNC …) (RFC 7162), COMPRESS (RFC 4978), UNAUTHENTICATE (RFC 8437).
internal static partial class ImapCommandParser
{
    private static SortCommand ReadSort(ImapParser p, string tag, bool uid)
    {
        p.ExpectSpace();
        var criteria = new List<SortCriterion>();
        var reverse = false;
        p.ReadList(() =>
        {
            var key = p.ReadAtom().ToUpperInvariant();
            if (key == "REVERSE")
            {
                // RFC 5256: REVERSE applies to the key that follows it.
                reverse = true;
                p.ExpectSpace();
                key = p.ReadAtom().ToUpperInvariant();
            }
            criteria.Add(new SortCriterion(key switch
            {
                "ARRIVAL" => SortKey.Arrival,
                "CC" => SortKey.Cc,
                "DATE" => SortKey.Date,
                "FROM" => SortKey.From,
                "SIZE" => SortKey.Size,
                "SUBJECT" => SortKey.Subject,
                "TO" => SortKey.To,
                "DISPLAYFROM" => SortKey.DisplayFrom,
                "DISPLAYTO" => SortKey.DisplayTo,
                _ => throw new ImapSyntaxException("Unknown sort key " + key),
            }, reverse));
            reverse = false;
        });
        if (criteria.Count == 0) throw new ImapSyntaxException("Empty sort criteria");
        var (charset, query, modseq) = ReadCharsetAndKeys(p);
        return new SortCommand(tag, uid, criteria, charset, query, modseq);
    }

    private static ThreadCommand ReadThread(ImapParser p, string tag, bool uid)
    {
        p.ExpectSpace();
        var algorithm = p.ReadAtom().ToUpperInvariant() switch
        {
            "ORDEREDSUBJECT" => ThreadAlgorithm.OrderedSubject,
            "REFERENCES" => ThreadAlgorithm.References,
            _ => throw new ImapSyntaxException("Unknown THREAD algorithm"),
        };
        var (charset, query, modseq) = ReadCharsetAndKeys(p);
        return new ThreadCommand(tag, uid, algorithm, charset, query, modseq);
    }

    /// <summary>
    /// SORT and THREAD: a charset (required) and search keys, read like SEARCH's (any charset MimeKit
    /// knows); a charset it does not know leaves the keys unread (NO [BADCHARSET]).
    /// </summary>
    private static (string Charset, SearchKey? Query, bool UsesModSeq) ReadCharsetAndKeys(ImapParser p)
    {
        p.ExpectSpace();
        var charset = p.ReadAString();
        if (!IsUtf8OrAscii(charset))
        {
            if (Mime.ImapCharsets.Find(charset) is not { } encoding) return (charset, null, false);
            p.StringCharset = encoding;
        }
        p.ExpectSpace();
        var query = SearchKey.ParseProgram(p, out var modseq);
        return (charset, query, modseq);
    }

    private static bool IsUtf8OrAscii(string charset) =>
        charset.Equals("UTF-8", StringComparison.OrdinalIgnoreCase) || charset.Equals("US-ASCII", StringComparison.OrdinalIgnoreCase);

    /// <summary>SEARCH RETURN (…) (RFC 4731 3.1); RETURN () means ALL.</summary>
    private static SearchReturn? ReadSearchReturn(ImapParser p)
    {
        if (!p.TryConsumeKeyword("RETURN")) return null;
        bool min = false, max = false, all = false, count = false, save = false;
        p.ReadList(() =>
        {
            switch (p.ReadAtom().ToUpperInvariant())
            {
                case "MIN": min = true; break;
                case "MAX": max = true; break;
                case "ALL": all = true; break;
                case "COUNT": count = true; break;
                case "SAVE": save = true; break;
                default: throw new ImapSyntaxException("Unknown SEARCH return option");
            }
        });
        p.ExpectSpace();
        if (!min && !max && !all && !count && !save) all = true;
        return new SearchReturn(min, max, all, count, save);
    }

    /// <summary>QRESYNC (uidvalidity modseq [known-uids] [(seq-set uid-set)]) (RFC 7162 3.2.5).</summary>
    private static QresyncParameters ReadQresync(ImapParser p)
    {
        p.ExpectSpace();
        p.Expect('(');
        var uidValidity = p.ReadNumber();
        p.ExpectSpace();
        var modseq = p.ReadNumber();
        if (uidValidity is 0 or > uint.MaxValue || modseq == 0) throw new ImapSyntaxException("Invalid QRESYNC parameters");
        SequenceSet? known = null, seqs = null, seqUids = null;
        if (p.TryConsume(' '))
        {
            if (p.Peek() != '(')
            {
                known = p.ReadSequenceSet();
                if (known.IsSavedResult) throw new ImapSyntaxException("Invalid known UIDs");
                if (!p.TryConsume(' ')) goto end;
            }
            p.Expect('(');
            seqs = p.ReadSequenceSet();
            p.ExpectSpace();
            seqUids = p.ReadSequenceSet();
            if (seqs.IsSavedResult || seqUids.IsSavedResult) throw new ImapSyntaxException("Invalid sequence match data");
            p.Expect(')');
        }
    end:
        p.Expect(')');
        return new QresyncParameters(uidValidity, modseq, known, seqs, seqUids);
    }
}

using GrainMail.Gateways.Imap.Protocol;

namespace GrainMail.Gateways.Imap.Commands;

/// <summary>
/// Whether a search program names RECENT, NEW or OLD as a key (not as the argument of another key,
/// as in <c>SUBJECT new</c>). IMAP4rev2 has no \Recent (RFC 9051 E.1) and its grammar drops these
/// keys, so a session that enabled IMAP4rev2 has them refused. Reads a fork of the parser after the
/// search program was parsed once, so the syntax is known to be valid; only the number of arguments
/// of each key matters here.
/// </summary>
internal static class RecentSearchKeys
{
    private static readonly HashSet<string> NoArgument = new(StringComparer.OrdinalIgnoreCase)
    {
        "ALL", "ANSWERED", "DELETED", "DRAFT", "FLAGGED", "SEEN", "UNANSWERED", "UNDELETED", "UNDRAFT",
        "UNFLAGGED", "UNSEEN", "RECENT", "OLD", "NEW", "SAVEDATESUPPORTED",
    };

    private static readonly HashSet<string> Recent = new(StringComparer.OrdinalIgnoreCase) { "RECENT", "OLD", "NEW" };

    /// <summary>True when the program read by <paramref name="p"/> uses RECENT, NEW or OLD; false also for anything unreadable.</summary>
    public static bool Uses(ImapParser p)
    {
        try
        {
            var found = false;
            var first = true;
            while (!p.AtEnd)
            {
                if (!first) p.ExpectSpace();
                first = false;
                found |= Key(p, 0);
            }
            return found;
        }
        catch (ImapSyntaxException)
        {
            return false;
        }
    }

    private static bool Key(ImapParser p, int depth)
    {
        if (depth > 50) return false;
        if (p.Peek() == '(')
        {
            var found = false;
            p.ReadList(() => found |= Key(p, depth + 1));
            return found;
        }
        var c = p.Peek();
        if (c is (>= '0' and <= '9') or '*' or '$')
        {
            p.ReadAtom(allowWildcards: true);
            return false;
        }
        var name = p.ReadAtom();
        if (Recent.Contains(name)) return true;
        if (NoArgument.Contains(name)) return false;
        switch (name.ToUpperInvariant())
        {
            case "NOT":
                p.ExpectSpace();
                return Key(p, depth + 1);
            case "OR":
                {
                    p.ExpectSpace();
                    var a = Key(p, depth + 1);
                    p.ExpectSpace();
                    return Key(p, depth + 1) | a;
                }
            case "HEADER":
                Argument(p);
                Argument(p);
                return false;
            case "MODSEQ":
                p.ExpectSpace();
                if (p.Peek() == '"')
                {
                    // The per-flag entry name and its type come before the number (RFC 7162 3.1.5).
                    p.ReadString();
                    Argument(p);
                    p.ExpectSpace();
                }
                p.ReadAtom();
                return false;
            default:
                // Every other key takes one argument: a date, number, set, atom or string.
                Argument(p);
                return false;
        }
    }

    private static void Argument(ImapParser p)
    {
        p.ExpectSpace();
        if (p.Peek() is '"' or '{') p.ReadStringBytes();
        else p.ReadAtom(allowWildcards: true);
    }
}

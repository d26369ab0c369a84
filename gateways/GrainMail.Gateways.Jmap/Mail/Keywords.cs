using GrainMail.Contracts.Mailboxes;

namespace GrainMail.Gateways.Jmap.Mail;

/// <summary>JMAP keywords and IMAP flags are one thing (RFC 8621 4.1.1): $seen is \Seen, and so on; others are IMAP keywords.</summary>
public static class Keywords
{
    private static readonly (string Keyword, MessageFlags Flag)[] System =
        [("$seen", MessageFlags.Seen), ("$answered", MessageFlags.Answered), ("$flagged", MessageFlags.Flagged), ("$draft", MessageFlags.Draft)];

    public static IEnumerable<string> Of(MessageMeta meta)
    {
        foreach (var (k, f) in System)
            if ((meta.Flags & f) != 0) yield return k;
        foreach (var k in meta.Keywords) yield return k.ToLowerInvariant();
    }

    public static bool Has(MessageMeta meta, string keyword) => Of(meta).Contains(keyword.ToLowerInvariant());

    /// <summary>Splits keywords into IMAP system flags and keywords; false when one is not a valid keyword (RFC 8621 4.1.1: IMAP atom characters).</summary>
    public static bool TrySplit(IEnumerable<string> keywords, out MessageFlags flags, out List<string> custom)
    {
        flags = MessageFlags.None;
        custom = [];
        foreach (var raw in keywords)
        {
            var k = raw.ToLowerInvariant();
            if (!IsValid(k)) return false;
            var sys = System.FirstOrDefault(s => s.Keyword == k);
            if (sys.Keyword is not null) flags |= sys.Flag;
            else custom.Add(k);
        }
        return true;
    }

    public static bool IsValid(string k) =>
        k.Length is > 0 and <= 255 && k.All(c => c > ' ' && c < 0x7f && c is not ('(' or ')' or '{' or ']' or '%' or '*' or '"' or '\\'));
}

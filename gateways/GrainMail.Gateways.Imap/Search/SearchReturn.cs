using GrainMail.Gateways.Imap.Protocol;

namespace GrainMail.Gateways.Imap.Search;

/// <summary>
/// SEARCH RETURN options (RFC 4731 ESEARCH; RFC 5182 SAVE). An empty RETURN () means ALL.
/// </summary>
public sealed record SearchReturn(bool Min, bool Max, bool All, bool Count, bool Save)
{
    public static readonly SearchReturn AllOnly = new(false, false, true, false, false);

    /// <summary>RFC 5182 2.1: with SAVE alone no ESEARCH response is sent.</summary>
    public bool SaveOnly => Save && !Min && !Max && !All && !Count;

    /// <summary>
    /// What SAVE keeps (RFC 5182 2.4): with MIN and/or MAX (and neither ALL nor COUNT) only those
    /// messages, else the whole result.
    /// </summary>
    public IReadOnlyList<long> Saved(IReadOnlyList<long> ascending)
    {
        if (ascending.Count == 0 || All || Count || (!Min && !Max)) return ascending;
        var saved = new List<long>(2);
        if (Min) saved.Add(ascending[0]);
        if (Max && (!Min || ascending.Count > 1)) saved.Add(ascending[^1]);
        return saved;
    }
}

/// <summary>The ESEARCH response (RFC 4731 3.1, RFC 7162 3.1.5 MODSEQ). Pure formatting.</summary>
public static class EsearchResponse
{
    /// <param name="tag">The command's tag, echoed as <c>(TAG "…")</c>.</param>
    /// <param name="uid">Whether the numbers are UIDs (the UID indicator).</param>
    /// <param name="ascending">The matching numbers in ascending order.</param>
    /// <param name="modSeq">The highest MODSEQ of the matches when the search used MODSEQ (RFC 7162), else null.</param>
    public static string Format(string tag, bool uid, SearchReturn options, IReadOnlyList<long> ascending, long? modSeq)
    {
        var sb = new System.Text.StringBuilder("* ESEARCH (TAG \"");
        foreach (var c in tag)
        {
            if (c is '"' or '\\') sb.Append('\\');
            sb.Append(c);
        }
        sb.Append("\")");
        if (uid) sb.Append(" UID");
        // RFC 4731 3.1: MIN, MAX and ALL are left out when nothing matched; COUNT 0 is not.
        if (options.Min && ascending.Count > 0) sb.Append(" MIN ").Append(ascending[0]);
        if (options.Max && ascending.Count > 0) sb.Append(" MAX ").Append(ascending[^1]);
        if (options.Count) sb.Append(" COUNT ").Append(ascending.Count);
        if (options.All && ascending.Count > 0) sb.Append(" ALL ").Append(SequenceSet.Format(ascending));
        if (modSeq is long m && ascending.Count > 0) sb.Append(" MODSEQ ").Append(m);
        return sb.ToString();
    }
}

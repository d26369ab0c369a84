using System.Text;

namespace GrainMail.Gateways.Common.Sorting;

/// <summary>
/// RFC 5256 2.1: the "base subject" of a message, which SORT SUBJECT and both THREAD algorithms
/// compare: the decoded subject without reply/forward markers, [blob] prefixes, "(fwd)" trailers
/// and "[fwd: …]" wrappers, with whitespace collapsed. Pure.
/// </summary>
public static class BaseSubject
{
    /// <summary>The base subject of a decoded subject (RFC 2047 already undone), and whether it was a reply or forward.</summary>
    public static (string Subject, bool IsReplyOrForward) Extract(string? decodedSubject)
    {
        // Step 1: tabs, folds and runs of whitespace become one space.
        var s = CollapseWhitespace(decodedSubject ?? "");
        var replyOrForward = false;
        while (true)
        {
            // Step 2: subj-trailer ("(fwd)" and whitespace) at the end, repeatedly.
            while (true)
            {
                var trimmed = s.TrimEnd(' ');
                if (trimmed.EndsWith("(fwd)", StringComparison.OrdinalIgnoreCase))
                {
                    trimmed = trimmed[..^5];
                    replyOrForward = true;
                }
                if (trimmed.Length == s.Length) break;
                s = trimmed;
            }
            // Steps 3 and 4: subj-leader and a leading subj-blob, until neither changes anything.
            while (true)
            {
                var before = s;
                s = s.TrimStart(' ');
                if (TryStripReFwd(s, out var rest))
                {
                    s = rest;
                    replyOrForward = true;
                }
                // Step 4: a leading [blob] goes when something is left after it.
                if (TryStripBlob(s, out var afterBlob) && afterBlob.Trim(' ').Length > 0) s = afterBlob;
                if (s == before) break;
            }
            // Step 5: "[fwd:" … "]" around the whole subject: unwrap and start over.
            if (s.Length >= 6 && s.StartsWith("[fwd:", StringComparison.OrdinalIgnoreCase) && s.EndsWith(']'))
            {
                s = s[5..^1];
                replyOrForward = true;
                continue;
            }
            return (s.Trim(' '), replyOrForward);
        }
    }

    /// <summary>The key SORT SUBJECT and the thread algorithms compare: the base subject, case folded.</summary>
    public static string Key(string? decodedSubject) => Extract(decodedSubject).Subject.ToUpperInvariant();

    private static string CollapseWhitespace(string s)
    {
        var sb = new StringBuilder(s.Length);
        var space = false;
        foreach (var c in s)
        {
            if (c is ' ' or '\t' or '\r' or '\n')
            {
                space = true;
                continue;
            }
            if (space && sb.Length > 0) sb.Append(' ');
            space = false;
            sb.Append(c);
        }
        if (space && sb.Length > 0) sb.Append(' ');
        return sb.ToString();
    }

    // subj-refwd = ("re" / ("fw" ["d"])) *WSP [subj-blob] ":", after any number of subj-blobs.
    private static bool TryStripReFwd(string s, out string rest)
    {
        rest = s;
        var t = s;
        while (TryStripBlob(t, out var afterBlob)) t = afterBlob;
        int n;
        if (t.StartsWith("re", StringComparison.OrdinalIgnoreCase)) n = 2;
        else if (t.StartsWith("fwd", StringComparison.OrdinalIgnoreCase)) n = 3;
        else if (t.StartsWith("fw", StringComparison.OrdinalIgnoreCase)) n = 2;
        else return false;
        t = t[n..].TrimStart(' ');
        if (TryStripBlob(t, out var blobbed)) t = blobbed;
        if (!t.StartsWith(':')) return false;
        rest = t[1..];
        return true;
    }

    // subj-blob = "[" *BLOBCHAR "]" *WSP, where BLOBCHAR is anything but "[" and "]".
    private static bool TryStripBlob(string s, out string rest)
    {
        rest = s;
        if (!s.StartsWith('[')) return false;
        for (var i = 1; i < s.Length; i++)
        {
            if (s[i] == '[') return false;
            if (s[i] == ']')
            {
                rest = s[(i + 1)..].TrimStart(' ');
                return true;
            }
        }
        return false;
    }
}

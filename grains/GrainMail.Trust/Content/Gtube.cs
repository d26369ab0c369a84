using MimeKit;

namespace GrainMail.Trust.Content;

/// <summary>
/// The Generic Test for Unsolicited Bulk Email: a fixed string that any spam filter scores as spam, so
/// that an operator can test the whole path (GTUBE symbol, weight 1000: refused under any sane policy).
/// </summary>
public static class Gtube
{
    public const string Symbol = "GTUBE";
    public const double Weight = 1000;

    public const string Text = "XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X";

    public static bool Contains(MimeMessage message)
    {
        foreach (var part in message.BodyParts.OfType<TextPart>())
        {
            try
            {
                if (part.Text?.Contains(Text, StringComparison.Ordinal) == true) return true;
            }
            catch (Exception e) when (e is FormatException or NotSupportedException or ArgumentException)
            {
            }
        }
        return false;
    }

    /// <summary>The same test on text parts the caller has already decoded (the MX path decodes them once for every check).</summary>
    public static bool Contains(IEnumerable<string> texts)
    {
        foreach (var t in texts)
            if (In(t)) return true;
        return false;
    }

    // Where Text is in a text, "*C4JDBQADN1" is at its fourth character: found by that piece, which ordinary text rarely
    // has, rather than by the whole string, whose first and last character (X) a line of X (smtp-source's body) has at
    // every position. Every place the piece occurs is tried, so the answer is string.Contains's.
    private const int AnchorAt = 3;

    private static bool In(string text)
    {
        var anchor = Text.AsSpan(AnchorAt, 11);
        var span = text.AsSpan();
        var from = AnchorAt;
        while (from <= span.Length)
        {
            var found = span[from..].IndexOf(anchor, StringComparison.Ordinal);
            if (found < 0) return false;
            var start = from + found - AnchorAt;
            if (span[start..].StartsWith(Text, StringComparison.Ordinal)) return true;
            from += found + 1;
        }
        return false;
    }
}

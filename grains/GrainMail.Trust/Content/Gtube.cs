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
    public static bool Contains(IEnumerable<string> texts) => texts.Any(t => t.Contains(Text, StringComparison.Ordinal));
}

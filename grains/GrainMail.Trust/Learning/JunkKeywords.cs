namespace GrainMail.Trust.Learning;

/// <summary>
/// The user's verdict in a message's keywords: <c>$Junk</c> and <c>$NotJunk</c> (IMAP keyword registry, RFC 5788;
/// JMAP writes them <c>$junk</c>/<c>$notjunk</c>, RFC 8621 4.1.1 — keywords compare case-insensitively, RFC 9051 2.3.2).
/// A change of keywords is a verdict when it puts the message into one state or takes it out of "junk":
/// setting $Junk is spam; setting $NotJunk, or removing $Junk, is ham. Both at once says nothing.
/// </summary>
public static class JunkKeywords
{
    public const string Junk = "$Junk";
    public const string NotJunk = "$NotJunk";

    private enum State { Neither, Junk, NotJunk }

    /// <summary>True: learn as spam; false: learn as ham; null: the change is no verdict.</summary>
    public static bool? Verdict(IReadOnlyCollection<string> before, IReadOnlyCollection<string> after)
    {
        var (was, now) = (StateOf(before), StateOf(after));
        if (was == now) return null;
        return now switch
        {
            State.Junk => true,
            State.NotJunk => false,
            // Junk taken away is "not junk"; $NotJunk taken away is no verdict either way.
            _ => was == State.Junk ? false : null,
        };
    }

    private static State StateOf(IReadOnlyCollection<string> keywords)
    {
        bool junk = false, notJunk = false;
        foreach (var k in keywords)
        {
            junk |= string.Equals(k, Junk, StringComparison.OrdinalIgnoreCase);
            notJunk |= string.Equals(k, NotJunk, StringComparison.OrdinalIgnoreCase);
        }
        return junk == notJunk ? State.Neither : junk ? State.Junk : State.NotJunk;
    }
}

namespace GrainMail.Gateways.Imap.Commands;

/// <summary>
/// IMAP4rev1 syntax that IMAP4rev2 took out of its grammar (RFC 9051 Appendix E and section 9), refused
/// with BAD once a session has sent ENABLE IMAP4rev2 (a rev1 session keeps all of it). The \Recent
/// parts (SEARCH RECENT/NEW/OLD, STATUS RECENT) are refused where those commands run, as before.
/// LSUB is not here: Appendix E calls it deprecated, not removed, and nothing in RFC 9051 tells a server
/// that also offers IMAP4rev1 to refuse it; a client that sends it after ENABLE IMAP4rev2 still gets its
/// LSUB answer (docs/rfc.md, "LSUB after ENABLE IMAP4rev2").
/// </summary>
internal static class Rev2Syntax
{
    /// <summary>Why <paramref name="command"/> is not IMAP4rev2, or null when it is.</summary>
    public static string? Removed(ImapCommand command) => command switch
    {
        // E: CHECK was removed; NOOP does what a client used it for.
        CheckCommand => "IMAP4rev2 has no CHECK command (RFC 9051 E); use NOOP",
        // E: the RFC822, RFC822.HEADER and RFC822.TEXT fetch items were removed (fetch-att in section 9);
        // RFC822.SIZE stays.
        FetchCommand f when f.Items.FirstOrDefault(i => i.LegacyName is not null) is { } legacy =>
            $"IMAP4rev2 has no {legacy.LegacyName} fetch item (RFC 9051 E); use {Replacement(legacy.LegacyName!)}",
        _ => null,
    };

    private static string Replacement(string legacy) => legacy switch
    {
        "RFC822.HEADER" => "BODY.PEEK[HEADER]",
        "RFC822.TEXT" => "BODY[TEXT]",
        _ => "BODY[]",
    };
}

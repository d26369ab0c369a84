namespace GrainMail.Gateways.Smtp.Protocol;

/// <summary>One SMTP reply line: the basic code (RFC 5321 4.2), the enhanced code (RFC 3463) and the text.</summary>
public sealed record SmtpReply(int Code, string Enhanced, string Text)
{
    public override string ToString() => $"{Code} {Enhanced} {Text}";

    public bool IsPositive => Code is >= 200 and < 400;
}

/// <summary>A command line that could not be read as a command: what to answer, and why.</summary>
/// <param name="CloseSession">The session cannot go on (a BDAT whose size is unknown leaves its chunk unread).</param>
public sealed record SmtpParseError(SmtpReply Reply, bool CloseSession = false)
{
    /// <summary>500: the line is not a command at all (RFC 5321 4.2.2).</summary>
    public static SmtpParseError Syntax(string text) => new(new SmtpReply(500, "5.5.2", text));

    public static SmtpParseError UnknownCommand => new(new SmtpReply(500, "5.5.1", "Unknown command"));

    /// <summary>501: a known command with arguments it cannot take.</summary>
    public static SmtpParseError Arguments(string text) => new(new SmtpReply(501, "5.5.4", text));

    /// <summary>555: a MAIL or RCPT parameter that is not recognised or not offered (RFC 5321 4.1.1.11).</summary>
    public static SmtpParseError Parameter(string keyword) => new(new SmtpReply(555, "5.5.4", "Unsupported parameter " + keyword));
}

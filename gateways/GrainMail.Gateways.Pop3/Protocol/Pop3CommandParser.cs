using System.Globalization;
using System.Text;

namespace GrainMail.Gateways.Pop3.Protocol;

/// <summary>
/// Turns one command line (without its CRLF) into a <see cref="Pop3Command"/>: pure code, no I/O
/// and no state. Whether a command is allowed now (AUTHORIZATION or TRANSACTION) and whether a
/// message number exists are the session's to decide. Never throws.
/// </summary>
public static class Pop3CommandParser
{
    public static Pop3Command Parse(ReadOnlySpan<byte> line)
    {
        if (line.IndexOf((byte)0) >= 0) return new Pop3SyntaxError("", Pop3ErrorKind.Nul, "-ERR Syntax error: NUL in command");
        // Invalid UTF-8 becomes U+FFFD: it cannot match a verb or be a number, and reaches a login only as a wrong name.
        var text = Encoding.UTF8.GetString(line);
        var space = text.IndexOf(' ');
        // RFC 1939 3: keywords are case-insensitive; arguments are separated by single spaces.
        var verb = (space < 0 ? text : text[..space]).ToUpperInvariant();
        var args = space < 0 ? "" : text[(space + 1)..];
        return verb switch
        {
            "CAPA" => new CapaCommand(),
            "QUIT" => new QuitCommand(),
            "NOOP" => new NoopCommand(),
            "STLS" => new StlsCommand(),
            "USER" => args.Length == 0 ? Syntax(verb, "-ERR Syntax: USER name") : new UserCommand(args.Trim()),
            "PASS" => new PassCommand(args),
            "AUTH" => Auth(args),
            "STAT" => new StatCommand(),
            "RSET" => new RsetCommand(),
            "LIST" or "UIDL" => args.Length == 0 ? new ListCommand(verb, null)
                : MessageNumber(args) is { } n ? new ListCommand(verb, n) : NoSuchMessage(verb),
            "RETR" => MessageNumber(args) is { } r ? new RetrCommand(r) : NoSuchMessage(verb),
            "DELE" => MessageNumber(args) is { } d ? new DeleCommand(d) : NoSuchMessage(verb),
            "TOP" => Top(args),
            _ => new Pop3SyntaxError(verb, Pop3ErrorKind.Unknown, "-ERR Unknown command"),
        };
    }

    /// <summary>The commands of the TRANSACTION state (RFC 1939 5): "log in first" before it.</summary>
    public static bool IsTransactionVerb(string verb) => verb is "STAT" or "LIST" or "UIDL" or "RETR" or "TOP" or "DELE" or "RSET" or "NOOP";

    /// <summary>The commands of the AUTHORIZATION state only (RFC 1939 §4, RFC 2595, RFC 5034): refused once logged in.</summary>
    public static bool IsAuthorizationVerb(string verb) => verb is "USER" or "PASS" or "AUTH" or "STLS";

    /// <summary>Every verb the parser knows (metrics count others as one).</summary>
    public static bool IsKnownVerb(string verb) => IsTransactionVerb(verb) || IsAuthorizationVerb(verb) || verb is "CAPA" or "QUIT";

    private static Pop3Command Auth(string args)
    {
        var parts = args.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        return new AuthCommand(parts.Length > 0 ? parts[0] : null, parts.Length > 1 ? parts[1] : null);
    }

    private static Pop3Command Top(string args)
    {
        var parts = args.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        if (parts.Length != 2 || !int.TryParse(parts[1], CultureInfo.InvariantCulture, out var lines) || lines < 0)
            return Syntax("TOP", "-ERR Syntax: TOP msg n");
        return MessageNumber(parts[0]) is { } n ? new TopCommand(n, lines) : NoSuchMessage("TOP");
    }

    // A msg argument (RFC 1939): a decimal number; whether that message exists is the session's question.
    private static int? MessageNumber(string arg) =>
        int.TryParse(arg.Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out var n) ? n : null;

    private static Pop3SyntaxError Syntax(string verb, string reply) => new(verb, Pop3ErrorKind.Syntax, reply);

    private static Pop3SyntaxError NoSuchMessage(string verb) => new(verb, Pop3ErrorKind.NoSuchMessage, "-ERR No such message");
}

namespace GrainMail.Gateways.Pop3.Protocol;

/// <summary>
/// One POP3 command as read from a line (RFC 1939, RFC 2449 CAPA, RFC 2595 STLS, RFC 5034 AUTH),
/// or a typed refusal. <see cref="Verb"/> is the command name in upper case, as the client sent it.
/// </summary>
public abstract record Pop3Command(string Verb);

public sealed record CapaCommand() : Pop3Command("CAPA");

public sealed record QuitCommand() : Pop3Command("QUIT");

public sealed record NoopCommand() : Pop3Command("NOOP");

public sealed record StlsCommand() : Pop3Command("STLS");

public sealed record UserCommand(string Name) : Pop3Command("USER");

/// <summary>PASS: the rest of the line, spaces included (RFC 1939 7: a password may contain them).</summary>
public sealed record PassCommand(string Secret) : Pop3Command("PASS");

/// <summary>AUTH without a mechanism lists the mechanisms (RFC 5034 allows it).</summary>
public sealed record AuthCommand(string? Mechanism, string? InitialResponse) : Pop3Command("AUTH");

public sealed record StatCommand() : Pop3Command("STAT");

/// <summary>LIST or UIDL, for one message or (null) all of them.</summary>
public sealed record ListCommand(string Name, int? Message) : Pop3Command(Name);

public sealed record RetrCommand(int Message) : Pop3Command("RETR");

public sealed record TopCommand(int Message, int Lines) : Pop3Command("TOP");

public sealed record DeleCommand(int Message) : Pop3Command("DELE");

public sealed record RsetCommand() : Pop3Command("RSET");

public enum Pop3ErrorKind
{
    /// <summary>Not a POP3 command this server knows.</summary>
    Unknown,

    /// <summary>A NUL octet in the line.</summary>
    Nul,

    /// <summary>A known command with arguments it does not take.</summary>
    Syntax,

    /// <summary>A message number that is not a number (RFC 1939 answers "no such message").</summary>
    NoSuchMessage,
}

/// <summary>A line that is not a valid command: the session answers <see cref="Reply"/> (an -ERR line) in the right state.</summary>
public sealed record Pop3SyntaxError(string Verb, Pop3ErrorKind Kind, string Reply) : Pop3Command(Verb);

namespace GrainMail.Gateways.ManageSieve.Protocol;

/// <summary>A parsed ManageSieve command (RFC 5804 2); <see cref="Verb"/> is upper case.</summary>
public abstract record ManageSieveCommand(string Verb);

public sealed record AuthenticateCommand(string Mechanism, string? InitialResponse) : ManageSieveCommand("AUTHENTICATE");
public sealed record StartTlsCommand() : ManageSieveCommand("STARTTLS");
public sealed record LogoutCommand() : ManageSieveCommand("LOGOUT");
public sealed record CapabilityCommand() : ManageSieveCommand("CAPABILITY");
public sealed record HaveSpaceCommand(string Name, long Size) : ManageSieveCommand("HAVESPACE");
public sealed record PutScriptCommand(string Name, byte[] Content) : ManageSieveCommand("PUTSCRIPT");
public sealed record ListScriptsCommand() : ManageSieveCommand("LISTSCRIPTS");
public sealed record SetActiveCommand(string Name) : ManageSieveCommand("SETACTIVE");
public sealed record GetScriptCommand(string Name) : ManageSieveCommand("GETSCRIPT");
public sealed record DeleteScriptCommand(string Name) : ManageSieveCommand("DELETESCRIPT");
public sealed record RenameScriptCommand(string OldName, string NewName) : ManageSieveCommand("RENAMESCRIPT");
public sealed record CheckScriptCommand(byte[] Content) : ManageSieveCommand("CHECKSCRIPT");
public sealed record NoopCommand(string? Tag) : ManageSieveCommand("NOOP");
/// <summary>An answer to a SASL challenge (only read where the session expects one).</summary>
public sealed record SaslResponseCommand(string Response) : ManageSieveCommand("SASL");
public sealed record UnauthenticateCommand() : ManageSieveCommand("UNAUTHENTICATE");

/// <summary>A command that could not be read; <see cref="Reply"/> is the whole answer line (NO/BYE with a reason).</summary>
public sealed record ManageSieveSyntaxError(string Verb, string Reply) : ManageSieveCommand(Verb);

/// <summary>One token of a command line: an atom, a number, or a string (quoted or literal).</summary>
public readonly record struct ManageSieveToken(bool IsString, string? Atom, byte[]? Bytes)
{
    public string Text => Atom ?? System.Text.Encoding.UTF8.GetString(Bytes ?? []);
}

namespace GrainMail.Sieve.Syntax;

/// <summary>One argument of a command or test (RFC 5228 2.6.1): a string list, a number or a tag.</summary>
public abstract record SieveArgument(int Line);

/// <summary>A string, or a bracketed list of them; <see cref="IsList"/> says which the script wrote.</summary>
public sealed record StringListArgument(IReadOnlyList<string> Values, bool IsList, int Line) : SieveArgument(Line)
{
    public string Single => Values[0];
}

/// <summary>A number with its K/M/G quantifier already applied (RFC 5228 2.4.1).</summary>
public sealed record NumberArgument(long Value, int Line) : SieveArgument(Line);

/// <summary>A tagged argument such as <c>:contains</c>; <see cref="Name"/> is lower case, without the colon.</summary>
public sealed record TagArgument(string Name, int Line) : SieveArgument(Line);

/// <summary>A test (RFC 5228 2.6): identifier, arguments, and nested tests for allof/anyof/not.</summary>
public sealed record SieveTest(string Name, IReadOnlyList<SieveArgument> Arguments, IReadOnlyList<SieveTest> Tests, int Line, bool TestList = false);

/// <summary>
/// A command (RFC 5228 2.9): identifier, arguments, an optional test or test list, and a block
/// (null when the command ended with <c>;</c>).
/// </summary>
public sealed record SieveCommand(string Name, IReadOnlyList<SieveArgument> Arguments, IReadOnlyList<SieveTest> Tests,
    IReadOnlyList<SieveCommand>? Block, int Line, bool TestList = false);

/// <summary>A parsed script: its top-level commands in order.</summary>
public sealed record SieveScript(IReadOnlyList<SieveCommand> Commands);

/// <summary>Why a script cannot be used: the line the problem is on and a reason for a person.</summary>
public sealed record SieveError(int Line, string Reason)
{
    public override string ToString() => $"line {Line}: {Reason}";
}

/// <summary>Thrown inside the parser and validator only; callers get a <see cref="SieveError"/>.</summary>
public sealed class SieveSyntaxException(int line, string reason) : Exception($"line {line}: {reason}")
{
    public SieveError Error { get; } = new(line, reason);
}

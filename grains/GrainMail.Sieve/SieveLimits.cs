namespace GrainMail.Sieve;

/// <summary>
/// What one user's scripts may cost (RFC 5228 10: implementations limit resources). Checked at
/// upload (size, nesting, list lengths) and while running (steps, redirects, actions, includes).
/// </summary>
public sealed record SieveLimits
{
    public static readonly SieveLimits Default = new();

    public int MaxScriptBytes { get; init; } = 64 * 1024;
    public int MaxNesting { get; init; } = 32;
    public int MaxArguments { get; init; } = 64;
    public int MaxListLength { get; init; } = 1024;

    /// <summary>Redirects one message may cause (a loop through forwarding rules multiplies mail).</summary>
    public int MaxRedirects { get; init; } = 4;

    /// <summary>Actions of any kind one run may collect.</summary>
    public int MaxActions { get; init; } = 64;

    /// <summary>Commands and tests evaluated in one run, includes counted: bounds the run time.</summary>
    public int MaxSteps { get; init; } = 100_000;

    /// <summary>Includes nested inside each other (RFC 6609 3.2 asks for a limit).</summary>
    public int MaxIncludeDepth { get; init; } = 5;

    /// <summary>Length of a variable's value (RFC 5229 6 lets us truncate).</summary>
    public int MaxVariableLength { get; init; } = 8 * 1024;

    /// <summary>Bytes of message body the body test reads (RFC 5173 leaves this open).</summary>
    public int MaxBodyBytes { get; init; } = 1024 * 1024;

    /// <summary>Time one run may take, whatever the step count.</summary>
    public TimeSpan MaxRunTime { get; init; } = TimeSpan.FromSeconds(2);
}

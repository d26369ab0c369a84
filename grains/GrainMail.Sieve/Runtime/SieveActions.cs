using MimeKit;

namespace GrainMail.Sieve;

/// <summary>The envelope a script sees (RFC 5228 5.4): the reverse path (null for &lt;&gt;) and the recipient.</summary>
public sealed record SieveEnvelope(string? From, string To);

/// <summary>What a run needs to know besides the script: all of it given, none of it fetched.</summary>
public sealed record SieveContext(MimeMessage Message, long Size, SieveEnvelope Envelope, DateTimeOffset Now)
{
    /// <summary>The server's zone, used by date tests without :zone or :originalzone (RFC 5260 4.2).</summary>
    public TimeSpan LocalZone { get; init; } = TimeSpan.Zero;

    /// <summary>Whether a folder exists (fileinto without :create, mailboxexists of RFC 5490).</summary>
    public Func<string, bool> MailboxExists { get; init; } = _ => false;

    /// <summary>The user's personal script of that name, compiled, or null (RFC 6609).</summary>
    public Func<string, Validation.CompiledSieve?> Include { get; init; } = _ => null;

    public SieveLimits Limits { get; init; } = SieveLimits.Default;
}

/// <summary>One action a run decided on; <see cref="Line"/> is where in the script it came from.</summary>
public abstract record SieveAction(int Line);

/// <summary>Store in INBOX (keep, RFC 5228 4.3) with the given IMAP flags; implicit when no action cancelled it.</summary>
public sealed record KeepAction(IReadOnlyList<string> Flags, bool Implicit, int Line) : SieveAction(Line);

/// <summary>Store in <see cref="Folder"/> (RFC 5228 4.1); <see cref="Create"/>: make it when missing (RFC 5490 3.2).</summary>
public sealed record FileIntoAction(string Folder, IReadOnlyList<string> Flags, bool Create, int Line) : SieveAction(Line);

/// <summary>Send on to <see cref="Address"/> unchanged (RFC 5228 4.2), with the original envelope sender.</summary>
public sealed record RedirectAction(string Address, int Line) : SieveAction(Line);

/// <summary>
/// Refuse the message with a reason to its sender (RFC 5429). <see cref="Extended"/>: <c>ereject</c>
/// (RFC 5429 2.1.1), refused in the SMTP dialogue where the server still can, else by a DSN.
/// </summary>
public sealed record RejectAction(string Reason, int Line, bool Extended = false) : SieveAction(Line);

/// <summary>Reply once per sender per <see cref="Period"/> (RFC 5230 :days, RFC 6131 :seconds).</summary>
public sealed record VacationAction(string Reason, string? Subject, string? From, IReadOnlyList<string> Addresses, TimeSpan Period, string Handle,
    bool Mime, int Line) : SieveAction(Line)
{
    /// <summary>The period in whole days (0 for a :seconds period shorter than a day).</summary>
    public int Days => (int)Period.TotalDays;
}

/// <summary>The outcome of one run: the actions (implicit keep included), or the run-time error that stopped it.</summary>
public sealed record SieveResult(IReadOnlyList<SieveAction> Actions, Syntax.SieveError? Error, int Steps)
{
    public bool Failed => Error is not null;
}

using GrainMail.Contracts.Delivery;
namespace GrainMail.Gateways.Smtp.Protocol;

/// <summary>One SMTP command as parsed from its line (RFC 5321 4.1.1 and the ESMTP extensions offered).</summary>
public abstract record SmtpCommand;

/// <summary>HELO or EHLO; <paramref name="Domain"/> is a host name or an address literal such as <c>[192.0.2.1]</c>.</summary>
public sealed record HeloCommand(string Domain, bool Extended) : SmtpCommand;

public sealed record MailCommand(ReversePath From, MailParameters Parameters) : SmtpCommand;

public sealed record RcptCommand(ForwardPath To, RcptParameters Parameters) : SmtpCommand;

public sealed record DataCommand : SmtpCommand;

/// <summary>RFC 3030 CHUNKING: a chunk of <paramref name="Size"/> octets follows the line.</summary>
public sealed record BdatCommand(long Size, bool Last) : SmtpCommand;

public sealed record RsetCommand : SmtpCommand;

public sealed record NoopCommand : SmtpCommand;

public sealed record QuitCommand : SmtpCommand;

public sealed record VrfyCommand(string Argument) : SmtpCommand;

public sealed record ExpnCommand(string Argument) : SmtpCommand;

public sealed record HelpCommand(string? Topic) : SmtpCommand;

public sealed record StartTlsCommand : SmtpCommand;

/// <summary>RFC 4954: a mechanism (upper-cased, one of those offered) and an optional initial response (<c>=</c> is an empty one).</summary>
public sealed record AuthCommand(string Mechanism, string? InitialResponse) : SmtpCommand;

/// <summary>A mailbox of a path: <c>local@domain</c>, the local part as sent (quotes kept), the domain as sent.</summary>
public sealed record SmtpMailbox(string LocalPart, string Domain, bool DomainIsAddressLiteral)
{
    public string Address => LocalPart + "@" + Domain;

    public bool IsAscii => Address.All(c => c < 0x80);

    public override string ToString() => Address;
}

/// <summary>MAIL FROM's path; <see cref="Mailbox"/> is null for the null path <c>&lt;&gt;</c> (bounces, RFC 5321 4.5.5).</summary>
public sealed record ReversePath(SmtpMailbox? Mailbox)
{
    public bool IsNull => Mailbox is null;
}

/// <summary>RCPT TO's path; <see cref="IsPostmaster"/> for the bare <c>&lt;Postmaster&gt;</c> every server must accept (RFC 5321 4.5.1).</summary>
public sealed record ForwardPath(SmtpMailbox? Mailbox)
{
    public bool IsPostmaster => Mailbox is null;

    /// <summary>The address as sent; "postmaster" for the bare form.</summary>
    public string Address => Mailbox?.Address ?? "postmaster";
}

/// <summary>RFC 6152 / RFC 3030 BODY values; BINARYMIME is not offered, so it never parses.</summary>
public enum BodyType
{
    SevenBit,
    EightBitMime,
}

/// <summary>RFC 3461 4.3 RET: the whole message or its headers in a failure DSN.</summary>
public enum DsnReturn
{
    Full,
    Headers,
}

/// <summary>The MAIL FROM parameters offered in EHLO, parsed and (ENVID, AUTH) xtext-decoded.</summary>
public sealed record MailParameters
{
    public long? Size { get; init; }

    public BodyType? Body { get; init; }

    public bool SmtpUtf8 { get; init; }

    public DsnReturn? Return { get; init; }

    /// <summary>RFC 3461 4.4 ENVID, decoded.</summary>
    public string? EnvelopeId { get; init; }

    public bool RequireTls { get; init; }

    /// <summary>RFC 4954 5 AUTH=, decoded; "&lt;&gt;" for an unknown submitter. Recorded, not trusted.</summary>
    public string? Auth { get; init; }

    public static readonly MailParameters None = new();
}

/// <summary>The RCPT TO parameters (RFC 3461): NOTIFY and ORCPT (its type and decoded address).</summary>
public sealed record RcptParameters
{
    public DsnNotify Notify { get; init; }

    public string? OriginalRecipientType { get; init; }

    public string? OriginalRecipient { get; init; }

    public static readonly RcptParameters None = new();
}

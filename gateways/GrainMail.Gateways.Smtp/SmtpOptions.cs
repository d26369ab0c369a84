namespace GrainMail.Gateways.Smtp;

/// <summary>Which SMTP service a listener offers.</summary>
public enum SmtpService
{
    /// <summary>Port 25: mail from the internet for hosted domains; no AUTH, no relaying.</summary>
    Mx,

    /// <summary>Port 587: authenticated submission after STARTTLS.</summary>
    Submission,

    /// <summary>Port 465: authenticated submission over implicit TLS.</summary>
    Submissions,
}

/// <summary>SMTP gateway limits and settings. Every limit is explicit and tested.</summary>
public sealed class SmtpOptions
{
    /// <summary>The name in the greeting, EHLO reply and Received: headers.</summary>
    public string HostName { get; set; } = Environment.MachineName.ToLowerInvariant();

    /// <summary>Largest message accepted (SIZE); a domain may set a lower one.</summary>
    public long MaxMessageBytes { get; set; } = 50L * 1024 * 1024;

    /// <summary>Recipients per transaction (RFC 5321 requires at least 100 to be accepted).</summary>
    public int MaxRecipients { get; set; } = 100;

    /// <summary>Longest command line including CRLF (RFC 5321 4.5.3.1.4: 512; we allow 1000 for long parameter lists).</summary>
    public int MaxCommandLine { get; set; } = 1000;

    /// <summary>Protocol errors tolerated in one session before 421 and close.</summary>
    public int MaxErrors { get; set; } = 10;

    /// <summary>Failed AUTH attempts in one session before 421 and close.</summary>
    public int MaxAuthFailures { get; set; } = 3;

    /// <summary>Waiting for a command (RFC 5321 4.5.3.2.7 suggests 5 minutes).</summary>
    public TimeSpan CommandTimeout { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>Waiting for the next block of message data (RFC 5321 4.5.3.2.5: 3 minutes).</summary>
    public TimeSpan DataTimeout { get; set; } = TimeSpan.FromMinutes(3);

    /// <summary>Average rate below which a DATA or BDAT transfer is cut off once <see cref="DataRateGrace"/> has passed.</summary>
    public int MinDataBytesPerSecond { get; set; } = 1024;

    public TimeSpan DataRateGrace { get; set; } = TimeSpan.FromSeconds(30);

    public int MaxConnectionsPerIp { get; set; } = 50;

    public int MaxConnections { get; set; } = 20_000;

    /// <summary>Where message data beyond the first MiB is spooled (encrypted, unlinked) while it arrives.</summary>
    public string SpoolDirectory { get; set; } = Path.Combine(Path.GetTempPath(), "grainmail-spool");

    /// <summary>
    /// Where <c>RCPT TO:&lt;Postmaster&gt;</c> without a domain goes (RFC 5321 4.5.1): the node's
    /// postmaster address; when unset, <c>postmaster@</c> the host name.
    /// </summary>
    public string? Postmaster { get; set; }
    /// Replies held back while the client pipelines (RFC 2920) before they are written anyway. The
    /// write waits for the client to read, so a client that only sends stops being read (TCP
    /// backpressure) instead of growing the buffer.
    /// </summary>
    public int MaxPendingReplyBytes { get; set; } = 64 * 1024;

    /// <summary>Unknown recipients (550 5.1.1) per session answered without delay.</summary>
    public int FreeUnknownRecipients { get; set; } = 3;

    /// <summary>The tarpit before the first delayed 550; it doubles with each further unknown recipient.</summary>
    public TimeSpan TarpitDelay { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>The longest tarpit before one answer.</summary>
    public TimeSpan MaxTarpitDelay { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Unknown recipients in one session; the next one gets 421 4.7.0 and the session ends.</summary>
    public int MaxUnknownRecipientsPerSession { get; set; } = 20;

    /// <summary>Unknown recipients from one client address, over all its sessions, within <see cref="UnknownRecipientWindow"/>.</summary>
    public int MaxUnknownRecipientsPerIp { get; set; } = 200;

    public TimeSpan UnknownRecipientWindow { get; set; } = TimeSpan.FromHours(1);

    /// <summary>Header section limits checked as DATA and BDAT arrive (552 5.3.4 beyond them).</summary>
    public GrainMail.Gateways.Common.Messages.MessageTextLimits MessageText { get; set; } = GrainMail.Gateways.Common.Messages.MessageTextLimits.Default;

    /// <summary>AUTH without TLS, e.g. for loopback benchmarks. Off by default.</summary>
    public bool AllowPlaintextAuth { get; set; }
}

using System.ComponentModel.DataAnnotations;
using GrainMail.Gateways.Common.Messages;

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

/// <summary>
/// SMTP gateway limits and settings (section <see cref="Section"/>). Every limit is explicit and
/// tested; the host refuses to start with one out of its range.
/// </summary>
public sealed class SmtpOptions : IValidatableObject
{
    public const string Section = "GrainMail:Smtp";

    // Timers take at most int.MaxValue milliseconds (about 24.8 days).
    private const string LongestWait = "24.00:00:00";

    /// <summary>The name in the greeting, EHLO reply and Received: headers.</summary>
    [Required]
    public string HostName { get; set; } = Environment.MachineName.ToLowerInvariant();

    /// <summary>The message limits of every way in; the host sets them from <see cref="MessageLimits.Section"/>.</summary>
    public MessageLimits Messages { get; set; } = new();

    /// <summary>Largest message accepted (SIZE); a domain may set a lower one.</summary>
    public long MaxMessageBytes => Messages.MaxMessageBytes;

    /// <summary>
    /// <c>Received:</c> fields a message may carry before it is taken for a mail loop: RFC 5321
    /// 6.3 counts them and asks for a large threshold, normally at least 100.
    /// </summary>
    [Range(25, 1000)]
    public int MaxHops { get; set; } = 100;

    /// <summary>Recipients per transaction (RFC 5321 requires at least 100 to be accepted).</summary>
    [Range(100, 100_000)]
    public int MaxRecipients { get; set; } = 100;

    /// <summary>Longest command line including CRLF (RFC 5321 4.5.3.1.4: 512; we allow 1000 for long parameter lists).</summary>
    [Range(512, 64 * 1024)]
    public int MaxCommandLine { get; set; } = 1000;

    /// <summary>Protocol errors tolerated in one session before 421 and close.</summary>
    [Range(1, 1000)]
    public int MaxErrors { get; set; } = 10;

    /// <summary>Failed AUTH attempts in one session before 421 and close.</summary>
    [Range(1, 100)]
    public int MaxAuthFailures { get; set; } = 3;

    /// <summary>Waiting for a command (RFC 5321 4.5.3.2.7 suggests 5 minutes).</summary>
    [Range(typeof(TimeSpan), "00:00:01", LongestWait)]
    public TimeSpan CommandTimeout { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>Waiting for the next block of message data (RFC 5321 4.5.3.2.5: 3 minutes).</summary>
    [Range(typeof(TimeSpan), "00:00:01", LongestWait)]
    public TimeSpan DataTimeout { get; set; } = TimeSpan.FromMinutes(3);

    /// <summary>Average rate below which a DATA or BDAT transfer is cut off once <see cref="DataRateGrace"/> has passed.</summary>
    [Range(0, int.MaxValue)]
    public int MinDataBytesPerSecond { get; set; } = 1024;

    [Range(typeof(TimeSpan), "00:00:00", LongestWait)]
    public TimeSpan DataRateGrace { get; set; } = TimeSpan.FromSeconds(30);

    [Range(1, int.MaxValue)]
    public int MaxConnectionsPerIp { get; set; } = 50;

    [Range(1, int.MaxValue)]
    public int MaxConnections { get; set; } = 20_000;

    /// <summary>Where message data beyond the first MiB is spooled (encrypted, unlinked) while it arrives.</summary>
    [Required]
    public string SpoolDirectory { get; set; } = Path.Combine(Path.GetTempPath(), "grainmail-spool");

    /// <summary>
    /// Where <c>RCPT TO:&lt;Postmaster&gt;</c> without a domain goes (RFC 5321 4.5.1): the node's
    /// postmaster address; when unset, <c>postmaster@</c> the host name.
    /// </summary>
    public string? Postmaster { get; set; }

    /// <summary>
    /// Replies held back while the client pipelines (RFC 2920) before they are written anyway. The
    /// write waits for the client to read, so a client that only sends stops being read (TCP
    /// backpressure) instead of growing the buffer.
    /// </summary>
    [Range(1024, 16 * 1024 * 1024)]
    public int MaxPendingReplyBytes { get; set; } = 64 * 1024;

    /// <summary>Unknown recipients (550 5.1.1) per session answered without delay.</summary>
    [Range(0, int.MaxValue)]
    public int FreeUnknownRecipients { get; set; } = 3;

    /// <summary>The tarpit before the first delayed 550; it doubles with each further unknown recipient.</summary>
    [Range(typeof(TimeSpan), "00:00:00", "00:05:00")]
    public TimeSpan TarpitDelay { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>The longest tarpit before one answer.</summary>
    [Range(typeof(TimeSpan), "00:00:00", "00:05:00")]
    public TimeSpan MaxTarpitDelay { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Unknown recipients in one session; the next one gets 421 4.7.0 and the session ends.</summary>
    [Range(1, int.MaxValue)]
    public int MaxUnknownRecipientsPerSession { get; set; } = 20;

    /// <summary>Unknown recipients from one client address, over all its sessions, within <see cref="UnknownRecipientWindow"/>.</summary>
    [Range(1, int.MaxValue)]
    public int MaxUnknownRecipientsPerIp { get; set; } = 200;

    [Range(typeof(TimeSpan), "00:00:01", LongestWait)]
    public TimeSpan UnknownRecipientWindow { get; set; } = TimeSpan.FromHours(1);

    /// <summary>Header section limits checked as DATA and BDAT arrive (552 5.3.4 beyond them).</summary>
    public MessageTextLimits MessageText => Messages.Text;

    /// <summary>AUTH without TLS, e.g. for loopback benchmarks. Off by default.</summary>
    public bool AllowPlaintextAuth { get; set; }

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (MaxTarpitDelay < TarpitDelay)
            yield return new($"must not be below TarpitDelay ({TarpitDelay})", [nameof(MaxTarpitDelay)]);
    }
}

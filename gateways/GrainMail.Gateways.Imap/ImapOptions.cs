using System.ComponentModel.DataAnnotations;
using GrainMail.Gateways.Common.Messages;

namespace GrainMail.Gateways.Imap;

/// <summary>Which IMAP listener a connection came in on.</summary>
public enum ImapService
{
    /// <summary>Port 143: plain until STARTTLS.</summary>
    Imap,

    /// <summary>Port 993: implicit TLS.</summary>
    Imaps,
}

/// <summary>IMAP gateway limits and settings. Every limit is explicit and tested.</summary>
public sealed class ImapOptions
{
    public const string Section = "GrainMail:Imap";

    // Timers take at most int.MaxValue milliseconds (about 24.8 days).
    private const string LongestWait = "24.00:00:00";

    [Required]
    public string HostName { get; set; } = Environment.MachineName.ToLowerInvariant();

    /// <summary>Largest APPEND literal (APPENDLIMIT); larger ones are refused before they are sent.</summary>
    public long AppendLimit { get; set; } = 50L * 1024 * 1024;

    /// <summary>Header section limits checked at APPEND (NO [LIMIT] beyond them); the host sets them with <see cref="AppendLimit"/>.</summary>
    public MessageTextLimits MessageText { get; set; } = MessageTextLimits.Default;

    /// <summary>Longest command line (between literals).</summary>
    [Range(1024, 16 * 1024 * 1024)]
    public int MaxLine { get; set; } = 64 * 1024;

    /// <summary>Everything of one command except its APPEND message: lines and small literals together.</summary>
    [Range(1024, 64 * 1024 * 1024)]
    public int MaxCommand { get; set; } = 1024 * 1024;

    /// <summary>Before login: a client that says nothing for this long is disconnected.</summary>
    [Range(typeof(TimeSpan), "00:00:01", LongestWait)]
    public TimeSpan LoginTimeout { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>After login, including IDLE (RFC 3501 5.4: at least 30 minutes).</summary>
    [Range(typeof(TimeSpan), "00:00:01", LongestWait)]
    public TimeSpan IdleTimeout { get; set; } = TimeSpan.FromMinutes(30);

    /// <summary>How often a session renews its watch on the selected folder (the grain forgets it after three minutes).</summary>
    [Range(typeof(TimeSpan), "00:00:01", "00:02:59")]
    public TimeSpan WatchRenewal { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>
    /// Sessions take a small change from the notice that carries it when it joins up with their view,
    /// instead of calling GetChanges. Off only to measure what the notices save (the benchmark's A/B run).
    /// </summary>
    public bool ApplyChangeNotices { get; set; } = true;

    /// <summary>
    /// NOTIFY (RFC 5465): the most mailboxes one session may watch, counted over its filters when it
    /// sends NOTIFY SET (personal counts every folder). Beyond it: NO [LIMIT], and the earlier NOTIFY stays.
    /// </summary>
    [Range(1, 100_000)]
    public int NotifyMaxMailboxes { get; set; } = 1000;

    /// <summary>NOTIFY: events waiting to be written beyond which the session gives up with NOTIFICATIONOVERFLOW (RFC 5465 5.8).</summary>
    [Range(1, 1_000_000)]
    public int NotifyMaxPending { get; set; } = 1000;

    [Range(1, 100)]
    public int MaxAuthFailures { get; set; } = 3;

    /// <summary>BAD replies tolerated in one session before BYE.</summary>
    [Range(1, 1000)]
    public int MaxErrors { get; set; } = 20;

    [Range(1, int.MaxValue)]
    public int MaxConnectionsPerIp { get; set; } = 50;

    [Range(1, int.MaxValue)]
    public int MaxConnections { get; set; } = 20_000;

    /// <summary>SEARCHes that read message bytes (BODY, TEXT, HEADER, sent dates) running at once in this gateway; more wait their turn.</summary>
    [Range(1, 1024)]
    public int MaxConcurrentContentSearches { get; set; } = 4;

    /// <summary>Message octets one SEARCH may read; beyond it the answer is NO [LIMIT].</summary>
    [Range(typeof(long), "1", "9223372036854775807")]
    public long MaxSearchContentBytes { get; set; } = 512L * 1024 * 1024;

    /// <summary>LOGIN/AUTHENTICATE without TLS, e.g. for loopback benchmarks. Off by default.</summary>
    public bool AllowPlaintextAuth { get; set; }
}

using System.ComponentModel.DataAnnotations;

namespace GrainMail.Gateways.Pop3;

/// <summary>Which POP3 listener a connection came in on: 110 with STLS, or 995 with implicit TLS.</summary>
public enum Pop3Service
{
    Pop3,
    Pop3s,
}

/// <summary>POP3 gateway limits and settings, apart from IMAP's: each protocol is admitted and bounded on its own.</summary>
public sealed class Pop3Options
{
    public const string Section = "GrainMail:Pop3";

    // Timers take at most int.MaxValue milliseconds (about 24.8 days).
    private const string LongestWait = "24.00:00:00";

    /// <summary>
    /// Longest command line. RFC 2449 4 allows 255 octets for a command; a little more is
    /// tolerated (long user names, AUTH initial responses).
    /// </summary>
    [Range(255, 64 * 1024)]
    public int MaxLine { get; set; } = 512;

    /// <summary>Before login: a client that says nothing for this long is disconnected.</summary>
    [Range(typeof(TimeSpan), "00:00:01", LongestWait)]
    public TimeSpan LoginTimeout { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>After login (RFC 1939 3: an autologout timer of at least 10 minutes).</summary>
    [Range(typeof(TimeSpan), "00:00:01", LongestWait)]
    public TimeSpan AutologoutTimeout { get; set; } = TimeSpan.FromMinutes(10);

    [Range(1, 100)]
    public int MaxAuthFailures { get; set; } = 3;

    /// <summary>-ERR replies for protocol errors tolerated in one session before it is closed.</summary>
    [Range(1, 1000)]
    public int MaxErrors { get; set; } = 20;

    [Range(1, int.MaxValue)]
    public int MaxConnectionsPerIp { get; set; } = 50;

    [Range(1, int.MaxValue)]
    public int MaxConnections { get; set; } = 20_000;

    /// <summary>USER/PASS and AUTH without TLS, e.g. for loopback benchmarks. Off by default.</summary>
    public bool AllowPlaintextAuth { get; set; }
}

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
    /// <summary>
    /// Longest command line. RFC 2449 4 allows 255 octets for a command; a little more is
    /// tolerated (long user names, AUTH initial responses).
    /// </summary>
    public int MaxLine { get; set; } = 512;

    /// <summary>Before login: a client that says nothing for this long is disconnected.</summary>
    public TimeSpan LoginTimeout { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>After login (RFC 1939 3: an autologout timer of at least 10 minutes).</summary>
    public TimeSpan AutologoutTimeout { get; set; } = TimeSpan.FromMinutes(10);

    public int MaxAuthFailures { get; set; } = 3;

    /// <summary>-ERR replies for protocol errors tolerated in one session before it is closed.</summary>
    public int MaxErrors { get; set; } = 20;

    public int MaxConnectionsPerIp { get; set; } = 50;

    public int MaxConnections { get; set; } = 20_000;

    /// <summary>USER/PASS and AUTH without TLS, e.g. for loopback benchmarks. Off by default.</summary>
    public bool AllowPlaintextAuth { get; set; }
}

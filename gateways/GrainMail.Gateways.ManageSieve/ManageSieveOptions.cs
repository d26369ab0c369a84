using System.ComponentModel.DataAnnotations;

namespace GrainMail.Gateways.ManageSieve;

/// <summary>ManageSieve (RFC 5804) gateway settings; the script limits themselves are <see cref="GrainMail.Contracts.Sieve.SieveQuota"/>.</summary>
public sealed class ManageSieveOptions
{
    public const string Section = "GrainMail:ManageSieve";

    [Range(typeof(TimeSpan), "00:00:01", "24.00:00:00")]
    public TimeSpan IdleTimeout { get; set; } = TimeSpan.FromMinutes(30);

    [Range(1, 100)]
    public int MaxAuthFailures { get; set; } = 3;

    [Range(1, 1000)]
    public int MaxErrors { get; set; } = 20;

    [Range(1, int.MaxValue)]
    public int MaxConnectionsPerIp { get; set; } = 20;

    [Range(1, int.MaxValue)]
    public int MaxConnections { get; set; } = 5_000;

    /// <summary>AUTHENTICATE without TLS, e.g. for loopback tests. Off by default (RFC 5804 2.1).</summary>
    public bool AllowPlaintextAuth { get; set; }
}

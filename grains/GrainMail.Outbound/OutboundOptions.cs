using System.Net;

namespace GrainMail.Outbound;

/// <summary>Outbound delivery settings.</summary>
public sealed class OutboundOptions
{
    /// <summary>Our name in EHLO.</summary>
    public string HostName { get; set; } = Environment.MachineName.ToLowerInvariant();

    /// <summary>Destination SMTP port (25; tests and drills set another with GRAINMAIL_SMTP_OUT_PORT).</summary>
    public int Port { get; set; } = 25;

    /// <summary>Resolvers to ask (GRAINMAIL_DNS); empty = the system's.</summary>
    public IReadOnlyList<IPEndPoint> DnsServers { get; set; } = [];

    /// <summary>Waits between attempts; the last one repeats until <see cref="GiveUpAfter"/>.</summary>
    public IReadOnlyList<TimeSpan> RetrySchedule { get; set; } =
    [
        TimeSpan.FromMinutes(1), TimeSpan.FromMinutes(5), TimeSpan.FromMinutes(15), TimeSpan.FromMinutes(30),
        TimeSpan.FromHours(1), TimeSpan.FromHours(2), TimeSpan.FromHours(4),
    ];

    /// <summary>A message still deferred this long after it was accepted bounces (RFC 5321 4.5.4.1 suggests 4–5 days).</summary>
    public TimeSpan GiveUpAfter { get; set; } = TimeSpan.FromDays(5);

    /// <summary>A message deferred this long gets one "delayed" DSN to its sender (RFC 3464 Action: delayed).</summary>
    public TimeSpan DelayNoticeAfter { get; set; } = TimeSpan.FromHours(4);

    /// <summary>Egress links; none configured means one direct link.</summary>
    public IReadOnlyList<EgressLink> Links { get; set; } = [new EgressLink()];

    /// <summary>Destinations that are domestic (always direct): domain suffixes and providers.</summary>
    public IReadOnlyList<string> DomesticSuffixes { get; set; } =
        [".cn", "qq.com", "163.com", "126.com", "yeah.net", "sina.com", "sohu.com", "aliyun.com", "139.com", "189.cn"];

    /// <summary>Address ranges (CIDR) of domestic mail providers: a destination whose MX lies in one is domestic.</summary>
    public IReadOnlyList<string> DomesticMxRanges { get; set; } = [];

    /// <summary>A link not tried for this long is tried first once (so a recovered link is noticed).</summary>
    public TimeSpan ProbeAfter { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>Consecutive connection failures (from any route) after which a link is down for <see cref="LinkCooldown"/>.</summary>
    public int LinkDownAfterFailures { get; set; } = 3;

    public TimeSpan LinkCooldown { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>External recipients one account may send to per hour (0 = no limit).</summary>
    public int AccountRecipientsPerHour { get; set; } = 1000;

    /// <summary>External recipients all accounts of one domain may send to per hour (0 = no limit).</summary>
    public int DomainRecipientsPerHour { get; set; } = 20000;

    /// <summary>Port of MTA-STS policy hosts (443; tests set another).</summary>
    public int MtaStsHttpsPort { get; set; } = 443;

    /// <summary>Extra CA certificates (PEM) trusted besides the system's, e.g. a private PKI or tests.</summary>
    public string? TrustedCaPem { get; set; }

    public TimeSpan ConnectTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>One whole SMTP conversation with a destination.</summary>
    public TimeSpan SessionTimeout { get; set; } = TimeSpan.FromMinutes(10);

    public TimeSpan Retry(int attempts) => RetrySchedule.Count == 0
        ? TimeSpan.FromMinutes(5)
        : RetrySchedule[Math.Clamp(attempts - 1, 0, RetrySchedule.Count - 1)];
}

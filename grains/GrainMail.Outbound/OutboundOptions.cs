using System.ComponentModel.DataAnnotations;
using System.Net;

namespace GrainMail.Outbound;

/// <summary>Outbound delivery settings (section <see cref="Section"/>).</summary>
public sealed class OutboundOptions : IValidatableObject
{
    public const string Section = "GrainMail:Outbound";

    // Timers take at most int.MaxValue milliseconds (about 24.8 days).
    private const string LongestWait = "24.00:00:00";

    public static readonly IReadOnlyList<TimeSpan> DefaultRetrySchedule =
    [
        TimeSpan.FromMinutes(1), TimeSpan.FromMinutes(5), TimeSpan.FromMinutes(15), TimeSpan.FromMinutes(30),
        TimeSpan.FromHours(1), TimeSpan.FromHours(2), TimeSpan.FromHours(4),
    ];

    public static readonly IReadOnlyList<string> DefaultDomesticSuffixes =
        [".cn", "qq.com", "163.com", "126.com", "yeah.net", "sina.com", "sohu.com", "aliyun.com", "139.com", "189.cn"];

    /// <summary>Our name in EHLO.</summary>
    [Required]
    public string HostName { get; set; } = Environment.MachineName.ToLowerInvariant();

    /// <summary>Destination SMTP port (25; tests and drills set another with GRAINMAIL_SMTP_OUT_PORT).</summary>
    [Range(1, 65535)]
    public int Port { get; set; } = 25;

    /// <summary>Waits between attempts; the last one repeats until <see cref="GiveUpAfter"/>.</summary>
    public IReadOnlyList<TimeSpan> RetrySchedule { get; set; } = DefaultRetrySchedule;

    /// <summary>A message still deferred this long after it was accepted bounces (RFC 5321 4.5.4.1 suggests 4–5 days).</summary>
    [Range(typeof(TimeSpan), "00:00:01", "365.00:00:00")]
    public TimeSpan GiveUpAfter { get; set; } = TimeSpan.FromDays(5);

    /// <summary>A message deferred this long gets one "delayed" DSN to its sender (RFC 3464 Action: delayed).</summary>
    [Range(typeof(TimeSpan), "00:00:01", "365.00:00:00")]
    public TimeSpan DelayNoticeAfter { get; set; } = TimeSpan.FromHours(4);

    /// <summary>Egress links; none configured means one direct link.</summary>
    public IReadOnlyList<EgressLink> Links { get; set; } = [new EgressLink()];

    /// <summary>Destinations that are domestic (always direct): domain suffixes and providers.</summary>
    public IReadOnlyList<string> DomesticSuffixes { get; set; } = DefaultDomesticSuffixes;

    /// <summary>Address ranges (CIDR) of domestic mail providers: a destination whose MX lies in one is domestic.</summary>
    public IReadOnlyList<string> DomesticMxRanges { get; set; } = [];

    /// <summary>A link not tried for this long is tried first once (so a recovered link is noticed).</summary>
    [Range(typeof(TimeSpan), "00:00:01", "365.00:00:00")]
    public TimeSpan ProbeAfter { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>Consecutive connection failures (from any route) after which a link is down for <see cref="LinkCooldown"/>.</summary>
    [Range(1, 1000)]
    public int LinkDownAfterFailures { get; set; } = 3;

    [Range(typeof(TimeSpan), "00:00:01", LongestWait)]
    public TimeSpan LinkCooldown { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>External recipients one account may send to per hour (0 = no limit).</summary>
    [Range(0, int.MaxValue)]
    public int AccountRecipientsPerHour { get; set; } = 1000;

    /// <summary>External recipients all accounts of one domain may send to per hour (0 = no limit).</summary>
    [Range(0, int.MaxValue)]
    public int DomainRecipientsPerHour { get; set; } = 20000;

    /// <summary>Port of MTA-STS policy hosts (443; tests set another).</summary>
    [Range(1, 65535)]
    public int MtaStsHttpsPort { get; set; } = 443;

    /// <summary>Extra CA certificates (PEM) trusted besides the system's, e.g. a private PKI or tests.</summary>
    public string? TrustedCaPem { get; set; }

    [Range(typeof(TimeSpan), "00:00:01", LongestWait)]
    public TimeSpan ConnectTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// How long to wait for the greeting and each reply up to the message text: RFC 5321
    /// 4.5.3.2 asks for at least 5 minutes (2 for the reply to DATA), since a busy or tarpitting
    /// server may take that long; giving up earlier only means sending again later.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:01", LongestWait)]
    public TimeSpan ReplyTimeout { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>
    /// How long to wait for the reply to the end of the message text: at least 10 minutes
    /// (RFC 5321 4.5.3.2.6), because the remote may still be filtering it, and giving up while
    /// it does means that it ends up with the message twice.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:01", LongestWait)]
    public TimeSpan DataTimeout { get; set; } = TimeSpan.FromMinutes(10);

    /// <summary>One whole SMTP conversation with a destination (longer than the waits within it).</summary>
    [Range(typeof(TimeSpan), "00:00:01", LongestWait)]
    public TimeSpan SessionTimeout { get; set; } = TimeSpan.FromMinutes(20);

    public TimeSpan Retry(int attempts) => RetrySchedule.Count == 0
        ? TimeSpan.FromMinutes(5)
        : RetrySchedule[Math.Clamp(attempts - 1, 0, RetrySchedule.Count - 1)];

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (RetrySchedule.Any(w => w <= TimeSpan.Zero || w > TimeSpan.FromDays(24)))
            yield return new("every wait must be above zero and at most 24 days", [nameof(RetrySchedule)]);
        foreach (var range in DomesticMxRanges.Where(r => !System.Net.IPNetwork.TryParse(r, out _)))
            yield return new($"'{range}' is not a CIDR range", [nameof(DomesticMxRanges)]);
        if (Links.Count == 0) yield return new("at least one link is needed", [nameof(Links)]);
        foreach (var (link, i) in Links.Select((l, i) => (l, i)))
        {
            if (string.IsNullOrWhiteSpace(link.Name)) yield return new("needs a name", [$"{nameof(Links)}:{i}:{nameof(EgressLink.Name)}"]);
            if (link.Kind == LinkKind.Relay && string.IsNullOrWhiteSpace(link.Host))
                yield return new("a relay needs a host", [$"{nameof(Links)}:{i}:{nameof(EgressLink.Host)}"]);
            if (link.Port is < 1 or > 65535) yield return new("must be between 1 and 65535", [$"{nameof(Links)}:{i}:{nameof(EgressLink.Port)}"]);
        }
        if (Links.Select(l => l.Name).Distinct(StringComparer.Ordinal).Count() != Links.Count)
            yield return new("link names must be unique", [nameof(Links)]);
    }
}

using System.ComponentModel.DataAnnotations;
using System.Globalization;
using System.Net;

namespace GrainMail.Dns;

/// <summary>A DNS blocklist zone and the weight a listing in it adds to a message's score.</summary>
public sealed record BlocklistZone(string Zone, double Weight);

/// <summary>The node's DNS settings (section <see cref="Section"/>): resolvers and node-wide blocklists.</summary>
public sealed class DnsOptions : IValidatableObject
{
    public const string Section = "GrainMail:Dns";

    /// <summary>The weight of a blocklist listing when GRAINMAIL_DNSBL names none: one listing alone sends
    /// a message to Junk under the default thresholds, two reject it.</summary>
    public const double DefaultBlocklistWeight = 7;

    /// <summary>Resolvers to ask as <c>ip[:port]</c>, comma-separated (GRAINMAIL_DNS); empty = the system's.</summary>
    public string? Resolvers { get; set; }

    /// <summary>Blocklists asked for every connecting IP (GRAINMAIL_DNSBL): comma-separated <c>zone</c> or <c>zone:weight</c>.</summary>
    public string? Blocklists { get; set; }

    /// <summary>How long one question may take before the resolver counts as failed (a temporary error).</summary>
    [Range(typeof(TimeSpan), "00:00:00.100", "00:01:00")]
    public TimeSpan Timeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>The longest a negative answer is cached, whatever its SOA says (RFC 2308 5); zero turns the negative cache off.</summary>
    [Range(typeof(TimeSpan), "00:00:00", "1.00:00:00")]
    public TimeSpan NegativeCacheMaximum { get; set; } = TimeSpan.FromHours(1);

    /// <summary><see cref="Resolvers"/> as endpoints (port 53 when none is given).</summary>
    public IReadOnlyList<IPEndPoint> Servers => ParseResolvers(Resolvers, out _);

    /// <summary><see cref="Blocklists"/> parsed.</summary>
    public IReadOnlyList<BlocklistZone> BlocklistZones => ParseBlocklists(Blocklists, out _);

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        ParseResolvers(Resolvers, out var badResolver);
        if (badResolver is not null) yield return new($"'{badResolver}' is not an ip[:port]", [nameof(Resolvers)]);
        ParseBlocklists(Blocklists, out var badZone);
        if (badZone is not null) yield return new($"'{badZone}' is not a zone or zone:weight", [nameof(Blocklists)]);
    }

    public static List<IPEndPoint> ParseResolvers(string? resolvers, out string? bad)
    {
        bad = null;
        var list = new List<IPEndPoint>();
        foreach (var entry in (resolvers ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            if (!IPEndPoint.TryParse(entry, out var e))
            {
                bad ??= entry;
                continue;
            }
            list.Add(e.Port == 0 ? new IPEndPoint(e.Address, 53) : e);
        }
        return list;
    }

    /// <summary>Parses <c>zone</c> or <c>zone:weight</c> entries; the first unreadable one comes back in <paramref name="bad"/>.</summary>
    public static List<BlocklistZone> ParseBlocklists(string? text, out string? bad)
    {
        bad = null;
        var list = new List<BlocklistZone>();
        foreach (var entry in (text ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var colon = entry.LastIndexOf(':');
            var zone = (colon < 0 ? entry : entry[..colon]).Trim().TrimEnd('.').ToLowerInvariant();
            var weight = DefaultBlocklistWeight;
            if ((colon >= 0 && !double.TryParse(entry[(colon + 1)..], NumberStyles.Float, CultureInfo.InvariantCulture, out weight))
                || !IsZone(zone) || double.IsNaN(weight) || double.IsInfinity(weight))
            {
                bad ??= entry;
                continue;
            }
            list.Add(new BlocklistZone(zone, weight));
        }
        return list;
    }

    /// <summary>A zone is a domain name of at least two labels (letters, digits, hyphens, underscores).</summary>
    public static bool IsZone(string zone) =>
        zone.Length is > 0 and <= 200 && zone.Split('.') is { Length: >= 2 } labels
        && labels.All(l => l.Length is > 0 and <= 63 && l.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_'));
}

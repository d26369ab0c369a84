namespace GrainMail.Outbound;

public enum LinkKind
{
    /// <summary>Straight to the destination's MX from this cluster.</summary>
    Direct,

    /// <summary>Through a smarthost (an overseas relay) that does the MX delivery.</summary>
    Relay,
}

/// <summary>An egress link from configuration.</summary>
public sealed class EgressLink
{
    public string Name { get; set; } = "direct";
    public string Region { get; set; } = "local";
    public LinkKind Kind { get; set; } = LinkKind.Direct;

    /// <summary>Relay only: the smarthost.</summary>
    public string? Host { get; set; }
    public int Port { get; set; } = 587;

    /// <summary>Relay only: implicit TLS (465-style); otherwise STARTTLS when offered.</summary>
    public bool ImplicitTls { get; set; }
    public string? User { get; set; }
    public string? Password { get; set; }
}

/// <summary>
/// What a route has learnt about one link: decaying averages (each new observation weighs
/// <see cref="Alpha"/>) of whether an attempt got through and how long it took.
/// </summary>
public sealed class LinkEstimate
{
    public const double Alpha = 0.3;

    /// <summary>Estimated chance that an attempt over the link gets through (optimistic start).</summary>
    public double Success { get; private set; } = 0.9;

    /// <summary>Estimated seconds per delivery over the link.</summary>
    public double LatencySeconds { get; private set; } = 1.0;

    public DateTimeOffset LastTried { get; private set; } = DateTimeOffset.MinValue;

    public int Tries { get; private set; }

    public void Record(bool ok, double seconds, DateTimeOffset at)
    {
        Success = (1 - Alpha) * Success + Alpha * (ok ? 1 : 0);
        if (ok) LatencySeconds = (1 - Alpha) * LatencySeconds + Alpha * seconds;
        LastTried = at;
        Tries++;
    }

    /// <summary>Expected time to get a message through: latency inflated by the chance of failing (then retrying elsewhere).</summary>
    public double Cost => LatencySeconds / Math.Max(0.05, Success);
}

/// <summary>
/// Chooses the order in which a route tries its links. Domestic destinations use direct links
/// only. Overseas ones use direct while it works (its estimate stays above
/// <see cref="DirectGoodEnough"/> and the shared health does not say it is down); otherwise the
/// healthy link with the lowest expected cost first. A link not tried for
/// <see cref="ProbeAfter"/> is tried first once in a while (exploration), so that a recovered
/// link — direct above all — is noticed.
/// </summary>
public sealed class LinkSelector(IReadOnlyList<EgressLink> links, TimeSpan probeAfter)
{
    public const double DirectGoodEnough = 0.6;

    public TimeSpan ProbeAfter => probeAfter;

    public Dictionary<string, LinkEstimate> Estimates { get; } = links.ToDictionary(l => l.Name, _ => new LinkEstimate());

    public IReadOnlyList<EgressLink> Order(bool domestic, Func<string, bool> isDown, DateTimeOffset now)
    {
        var direct = links.Where(l => l.Kind == LinkKind.Direct).ToList();
        if (domestic || links.All(l => l.Kind == LinkKind.Direct)) return direct;

        var candidates = links.Where(l => !isDown(l.Name)).ToList();
        if (candidates.Count == 0) candidates = [.. links]; // all marked down: try anyway rather than never
        var ordered = candidates
            .OrderByDescending(l => l.Kind == LinkKind.Direct && Estimates[l.Name].Success >= DirectGoodEnough)
            .ThenBy(l => Estimates[l.Name].Cost)
            .ToList();
        // While direct works there is nothing to look for. Otherwise, exploration: a link not tried
        // for a while goes first for one attempt — direct above all, as it is preferred whenever
        // it works. (A link never tried needs no probe: its estimate is still the optimistic prior.)
        if (ordered[0].Kind == LinkKind.Direct && Estimates[ordered[0].Name].Success >= DirectGoodEnough) return ordered;
        var stale = ordered
            .Where(l => l != ordered[0] && Estimates[l.Name].Tries > 0 && now - Estimates[l.Name].LastTried >= probeAfter)
            .OrderByDescending(l => l.Kind == LinkKind.Direct)
            .FirstOrDefault();
        if (stale is not null)
        {
            ordered.Remove(stale);
            ordered.Insert(0, stale);
        }
        return ordered;
    }
}

/// <summary>
/// Which destinations are domestic: configured domain suffixes and providers, or MX hosts whose
/// addresses lie in configured ranges (a foreign-looking domain hosted at a domestic provider).
/// </summary>
public sealed class DestinationRules(IReadOnlyList<string> domesticSuffixes, IReadOnlyList<string>? domesticRanges = null)
{
    private readonly List<System.Net.IPNetwork> _ranges = (domesticRanges ?? []).Select(System.Net.IPNetwork.Parse).ToList();

    public bool HasRanges => _ranges.Count > 0;

    public bool IsDomestic(string domain) =>
        domesticSuffixes.Any(s => domain.Equals(s.TrimStart('.'), StringComparison.OrdinalIgnoreCase)
            || domain.EndsWith(s.StartsWith('.') ? s : "." + s, StringComparison.OrdinalIgnoreCase));

    public bool InDomesticRange(IEnumerable<System.Net.IPAddress> addresses) => addresses.Any(a => _ranges.Any(r => r.Contains(a)));
}

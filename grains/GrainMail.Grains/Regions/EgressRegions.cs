using GrainMail.Outbound;
using Orleans.Placement;
using Orleans.Runtime.MembershipService.SiloMetadata;
using Orleans.Runtime.Placement;

namespace GrainMail.Grains.Regions;

/// <summary>
/// Where outbound mail leaves from. A direct link sends from its region's silos (their addresses
/// are the ones with reputation and PTR records there), so a route grain is placed in the region
/// of the first direct link whose region has a live silo, and uses a direct link only from a silo
/// of that link's region — unless that region is dark and this one has no direct link of its own,
/// when mail waiting would be worse than mail leaving from here. Relays are reachable from anywhere.
/// </summary>
public sealed class EgressRegions(OutboundOptions options, IClusterMembershipService membership, ISiloMetadataCache metadata, ILocalSiloDetails local)
{
    /// <summary>Regions with a direct link, in the order the links are configured (the order of preference).</summary>
    public IReadOnlyList<string> DirectRegions { get; } =
        options.Links.Where(l => l.Kind == LinkKind.Direct).Select(l => l.Region).Distinct(StringComparer.Ordinal).ToList();

    public string? LocalRegion => SiloRegion.Of(metadata, local.SiloAddress);

    private HashSet<string> AliveRegions() => SiloRegion.Alive(membership, metadata);

    /// <summary>The region a route should run in now: the first direct region with a live silo.</summary>
    public string? PreferredRegion()
    {
        var alive = AliveRegions();
        return DirectRegions.FirstOrDefault(alive.Contains);
    }

    /// <summary>The links of <paramref name="order"/> that this silo may send over, in the same order.</summary>
    public IReadOnlyList<EgressLink> UsableHere(IReadOnlyList<EgressLink> order)
    {
        var here = LocalRegion;
        var alive = AliveRegions();
        // Another region's direct link only stands in when this region has none of its own and
        // that region is dark.
        var ownDirect = order.Any(l => l.Kind == LinkKind.Direct && l.Region == here);
        var usable = order.Where(l => l.Kind == LinkKind.Relay || l.Region == here || (!ownDirect && !alive.Contains(l.Region))).ToList();
        // Never nothing: a misconfiguration must not keep mail in the queue for ever.
        return usable.Count > 0 ? usable : order;
    }

    /// <summary>True when a route runs outside the preferred region and a silo of it is alive.</summary>
    public bool ShouldMove()
    {
        var preferred = PreferredRegion();
        return preferred is not null && preferred != LocalRegion;
    }
}

/// <summary>Outbound route grains run in the region their mail leaves from.</summary>
public sealed class EgressRegionPlacementFilterStrategy() : PlacementFilterStrategy(order: 0);

[AttributeUsage(AttributeTargets.Class, AllowMultiple = false)]
public sealed class EgressRegionPlacementAttribute() : PlacementFilterAttribute(new EgressRegionPlacementFilterStrategy());

public sealed class EgressRegionPlacementFilterDirector(EgressRegions egress, ISiloMetadataCache metadata) : IPlacementFilterDirector
{
    public IEnumerable<SiloAddress> Filter(PlacementFilterStrategy filterStrategy, PlacementTarget target, IEnumerable<SiloAddress> silos)
    {
        var all = silos as IReadOnlyCollection<SiloAddress> ?? silos.ToList();
        foreach (var region in egress.DirectRegions)
        {
            var inRegion = all.Where(s => SiloRegion.Of(metadata, s) == region).ToList();
            if (inRegion.Count > 0) return inRegion;
        }
        return all;
    }
}

using Orleans.Placement;
using Orleans.Runtime.MembershipService.SiloMetadata;
using Orleans.Runtime.Placement;

namespace GrainMail.Grains.Regions;

/// <summary>Silo metadata key that names a silo's region (beijing, hangzhou, …).</summary>
public static class SiloRegion
{
    public const string MetadataKey = "region";

    /// <summary>The region a silo announced, or null for a silo without one.</summary>
    public static string? Of(ISiloMetadataCache metadata, SiloAddress silo) =>
        metadata.GetSiloMetadata(silo).Metadata.TryGetValue(MetadataKey, out var r) ? r : null;

    /// <summary>The regions with at least one active silo in this silo's membership view.</summary>
    public static HashSet<string> Alive(IClusterMembershipService membership, ISiloMetadataCache metadata) =>
        membership.CurrentSnapshot.Members.Values
            .Where(m => m.Status == SiloStatus.Active)
            .Select(m => Of(metadata, m.SiloAddress))
            .OfType<string>()
            .ToHashSet(StringComparer.Ordinal);
}

/// <summary>Grains keyed by a domain or an address live in the domain's home region.</summary>
public sealed class HomeRegionPlacementFilterStrategy() : PlacementFilterStrategy(order: 0);

[AttributeUsage(AttributeTargets.Class, AllowMultiple = false)]
public sealed class HomeRegionPlacementAttribute() : PlacementFilterAttribute(new HomeRegionPlacementFilterStrategy());

/// <summary>
/// Keeps the candidates of the grain's home region when any of them is alive; otherwise every
/// candidate stays, so a dark region's mailboxes are served from the other one.
/// </summary>
public sealed class HomeRegionPlacementFilterDirector(HomeRegions regions, ISiloMetadataCache metadata) : IPlacementFilterDirector
{
    public IEnumerable<SiloAddress> Filter(PlacementFilterStrategy filterStrategy, PlacementTarget target, IEnumerable<SiloAddress> silos)
    {
        var home = regions.RegionOfKey(target.GrainIdentity.Key.ToString()!);
        if (home is null) return silos;
        var all = silos as IReadOnlyCollection<SiloAddress> ?? silos.ToList();
        var inHome = all.Where(s => SiloRegion.Of(metadata, s) == home).ToList();
        return inHome.Count > 0 ? inHome : all;
    }
}

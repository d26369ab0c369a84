using System.Diagnostics.Metrics;
using GrainMail.Grains.Regions;
using GrainMail.Operations;
using Orleans.Runtime;
using Orleans.Runtime.MembershipService.SiloMetadata;

namespace GrainMail.Silo.Telemetry;

/// <summary>
/// <c>grainmail.cluster.silos</c>: the active silos in this silo's membership view, one series
/// per region (each member's <c>region</c> silo metadata). Every silo reports the whole view,
/// so <c>max by (region)</c> gives the silos per region and <c>sum</c> of that the cluster size.
/// </summary>
public sealed class ClusterGauge
{
    public ClusterGauge(IClusterMembershipService membership, ISiloMetadataCache metadata)
    {
        GrainMailMeters.Gauges.CreateObservableGauge("grainmail.cluster.silos",
            () => membership.CurrentSnapshot.Members.Values
                .Where(m => m.Status == SiloStatus.Active)
                .GroupBy(m => SiloRegion.Of(metadata, m.SiloAddress) ?? "unknown")
                .Select(g => new Measurement<int>(g.Count(), new KeyValuePair<string, object?>("region", g.Key))),
            description: "Active silos in this silo's membership view, by region");
    }
}

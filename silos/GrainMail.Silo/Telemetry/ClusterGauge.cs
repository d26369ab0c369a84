using System.Diagnostics.Metrics;
using GrainMail.Storage.Telemetry;
using Orleans.Runtime;

namespace GrainMail.Silo.Telemetry;

/// <summary>
/// <c>grainmail.cluster.silos</c>: the active silos in this silo's membership view, tagged with
/// this silo's own region. Each silo exports one series, so <c>count by (region)</c> gives the
/// silos per region and <c>max</c> the cluster's size as the silos see it.
/// </summary>
/// <remarks>
/// Tagging every member with its own region needs the region in silo metadata (issue 5); until
/// then the region is the reporting silo's configured one.
/// </remarks>
public sealed class ClusterGauge
{
    public ClusterGauge(IClusterMembershipService membership, string region)
    {
        var tag = new KeyValuePair<string, object?>("region", region);
        GrainMailMeters.Gauges.CreateObservableGauge("grainmail.cluster.silos",
            () => new Measurement<int>(membership.CurrentSnapshot.Members.Values.Count(m => m.Status == SiloStatus.Active), tag),
            description: "Active silos in this silo's membership view, tagged with this silo's region");
    }
}

using Orleans.Runtime.MembershipService.SiloMetadata;

namespace GrainMail.Grains.Regions;

/// <summary>
/// Brings grains home: a domain, account or mailbox grain that was placed away from its home
/// region (because that region was dark, or its domain was not yet known here) checks every
/// <see cref="CheckEvery"/> and migrates when idle once a silo of its home region is alive.
/// Migration carries persistent state; the mailbox grain keeps its data in PostgreSQL and
/// IMAP sessions re-register their watches, so a move costs a session at most one retry.
/// </summary>
public sealed class HomeRegionKeeper(HomeRegions regions, IClusterMembershipService membership, ISiloMetadataCache metadata, ILocalSiloDetails local)
{
    public static readonly TimeSpan CheckEvery = TimeSpan.FromSeconds(15);

    public string? LocalRegion => SiloRegion.Of(metadata, local.SiloAddress);

    public GrainMail.Contracts.Regions.GrainLocation Here() => new(local.SiloAddress.ToString(), LocalRegion);

    /// <summary>True when the grain with this key runs outside its home region and could run in it.</summary>
    public bool ShouldGoHome(string key)
    {
        var home = regions.RegionOfKey(key);
        if (home is null || home == LocalRegion) return false;
        return SiloRegion.Alive(membership, metadata).Contains(home);
    }

    /// <summary>Registers the periodic check on a grain activation keyed by a domain or an address.</summary>
    public void Watch(Grain grain, string key) => MoveWhen(grain, () => ShouldGoHome(key));

    /// <summary>
    /// Every <see cref="CheckEvery"/>, and once <see cref="FirstCheck"/> after activation (a grain
    /// placed before its silo knew the domain goes home at once): when <paramref name="away"/>
    /// says so, migrate once idle.
    /// </summary>
    public static void MoveWhen(Grain grain, Func<bool> away) =>
        grain.RegisterGrainTimer(() =>
        {
            if (away()) grain.MigrateOnIdle();
            return Task.CompletedTask;
        }, new GrainTimerCreationOptions(FirstCheck, CheckEvery) { KeepAlive = false });

    public static readonly TimeSpan FirstCheck = TimeSpan.FromSeconds(3);
}

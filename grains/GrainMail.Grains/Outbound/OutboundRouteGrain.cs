using GrainMail.Contracts.Delivery;
using GrainMail.Contracts.Outbound;
using GrainMail.Grains.Delivery;
using GrainMail.Grains.Regions;
using GrainMail.Outbound;
using GrainMail.Outbound.Routes;
using GrainMail.Storage.Outbound;
using Microsoft.Extensions.Logging;
using Orleans.Streams;
using Orleans.Streams.Core;

namespace GrainMail.Grains.Outbound;

/// <summary>
/// The outbound route of one destination domain: the grain side of <see cref="RouteDelivery"/>
/// (GrainMail.Outbound), which does the delivery work. The grain takes its stream events into
/// the durable queue and keeps the route awake: a grain timer for the next attempt while
/// active, and a reminder that brings the route back after a silo restart while anything is
/// queued.
/// </summary>
[ImplicitStreamSubscription(DeliveryStreams.Outbound)]
[EgressRegionPlacement]
public sealed class OutboundRouteGrain(
    RouteDeliveries routes,
    DeliveryReports reports,
    TimeProvider clock,
    ILogger<OutboundRouteGrain> logger,
    EgressRegions egress,
    HomeRegionKeeper keeper)
    : Grain, IOutboundRouteGrain, IStreamSubscriptionObserver, IAsyncObserver<OutboundEvent>, IRemindable, IRouteCluster
{
    private const string WakeUp = "outbound-retry";
    private IGrainTimer? _timer;
    private bool _delivering;
    private bool _reminderSet;
    private RouteDelivery? _route;

    private RouteDelivery Route => _route ??= routes.For(this.GetPrimaryKeyString(), this);

    public override Task OnActivateAsync(CancellationToken cancellationToken)
    {
        // Whatever was queued before this activation is looked at right away.
        Schedule(TimeSpan.Zero);
        // Placed away from its egress region (that region was dark): go back once it is not.
        HomeRegionKeeper.MoveWhen(this, egress.ShouldMove);
        return Task.CompletedTask;
    }

    public Task<GrainMail.Contracts.Regions.GrainLocation> Locate() => Task.FromResult(keeper.Here());

    public Task Resume()
    {
        Schedule(TimeSpan.Zero);
        return Task.CompletedTask;
    }

    public Task<IReadOnlyList<QueuedOutbound>> GetQueue() => Route.QueueAsync();

    public async Task OnSubscribed(IStreamSubscriptionHandleFactory handleFactory) =>
        await handleFactory.Create<OutboundEvent>().ResumeAsync(this);

    public async Task OnNextAsync(OutboundEvent item, StreamSequenceToken? token = null)
    {
        await Route.AcceptAsync(item);
        // The durable wake-up exists before the first attempt: if this silo dies in the middle of
        // it, the route comes back (on another silo) and the message is tried again.
        await KeepReminderAsync();
        Schedule(TimeSpan.Zero);
    }

    public Task OnErrorAsync(Exception ex)
    {
        logger.LogWarning(ex, "Outbound stream error for {Destination}", Route.Destination);
        return Task.CompletedTask;
    }

    public Task ReceiveReminder(string reminderName, TickStatus status)
    {
        Schedule(TimeSpan.Zero);
        return Task.CompletedTask;
    }

    private void Schedule(TimeSpan due)
    {
        _timer?.Dispose();
        _timer = this.RegisterGrainTimer(DeliverDueAsync, new GrainTimerCreationOptions(due, Timeout.InfiniteTimeSpan) { Interleave = false });
    }

    private async Task KeepReminderAsync()
    {
        if (_reminderSet) return;
        await this.RegisterOrUpdateReminder(WakeUp, TimeSpan.FromMinutes(1), TimeSpan.FromMinutes(1));
        _reminderSet = true;
    }

    private async Task DeliverDueAsync(CancellationToken ct)
    {
        if (_delivering) return;
        _delivering = true;
        try
        {
            var next = await Route.DeliverDueAsync(ct);
            if (next is null)
            {
                if (await this.GetReminder(WakeUp) is { } reminder) await this.UnregisterReminder(reminder);
                _reminderSet = false;
                return;
            }
            // A durable wake-up (reminders fire at most once a minute) plus the exact one while active.
            await KeepReminderAsync();
            var due = next.Value - clock.GetUtcNow();
            Schedule(due < TimeSpan.Zero ? TimeSpan.Zero : due);
        }
        finally
        {
            _delivering = false;
        }
    }

    async Task<IReadOnlySet<string>> IRouteCluster.DownRelaysAsync(IReadOnlyList<EgressLink> relays)
    {
        var health = await Task.WhenAll(relays.Select(l => GrainFactory.GetGrain<ILinkHealthGrain>(l.Name).GetHealth()));
        return relays.Where((_, i) => health[i].Down).Select(l => l.Name).ToHashSet(StringComparer.Ordinal);
    }

    Task IRouteCluster.ReportRelayAsync(EgressLink relay, bool reached, double seconds) =>
        GrainFactory.GetGrain<ILinkHealthGrain>(relay.Name).Report(reached, seconds);

    IReadOnlyList<EgressLink> IRouteCluster.UsableHere(IReadOnlyList<EgressLink> order) => egress.UsableHere(order);

    // A recipient whose next hop took its NOTIFY is that hop's to report (RFC 3461 4.2); a
    // "relayed" notice is for hops that do not speak DSN.
    Task<bool> IRouteCluster.ReportToSenderAsync(OutboundRow row, IReadOnlyList<RecipientResult> results, byte[] raw, bool delayed) =>
        reports.SendAsync(GrainFactory, row.Sender, row.Dsn, results.Where(r => !r.NextHopReports).ToList(), raw, row.ReceivedAt, row.BlobDomain,
            delayed, relayed: true);
}

using GrainMail.Contracts.Outbound;
using GrainMail.Storage.Outbound;

namespace GrainMail.Silo;

/// <summary>
/// Once the host has started: every destination with queued messages gets its route grain
/// activated, so mail that waited through a restart (or a silo's death) moves on at once instead
/// of at the route's next reminder tick. Harmless when several silos do it.
/// </summary>
public sealed class OutboundResumer(IHostApplicationLifetime lifetime, IGrainFactory grains, OutboundStore store, ILogger<OutboundResumer> logger)
    : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using (lifetime.ApplicationStarted.Register(() => started.TrySetResult()))
        using (stoppingToken.Register(() => started.TrySetCanceled()))
        {
            try
            {
                await started.Task;
            }
            catch (TaskCanceledException)
            {
                return;
            }
        }
        try
        {
            var destinations = await store.DestinationsAsync(stoppingToken);
            foreach (var d in destinations) await grains.GetGrain<IOutboundRouteGrain>(d).Resume();
            if (destinations.Count > 0) logger.LogInformation("Resumed outbound routes for {Count} destinations", destinations.Count);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // The reminders bring the routes back anyway, within a minute.
            logger.LogWarning(e, "Could not resume outbound routes at start");
        }
    }
}

using GrainMail.Storage.Audit;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace GrainMail.Grains.Audit;

/// <summary>
/// Applies <see cref="AuditOptions.RetentionDays"/> every <see cref="AuditOptions.PruneEvery"/> on
/// each silo. Running on several silos is harmless: a prune locks the chain head, removes the
/// prefix older than the cutoff and moves the head; a second silo then finds nothing to remove.
/// </summary>
public sealed class AuditRetention(AuditLog log, AuditOptions options, TimeProvider clock, ILogger<AuditRetention> logger) : BackgroundService
{
    public static async Task<int> PruneOnceAsync(AuditLog log, AuditOptions options, TimeProvider clock, CancellationToken ct = default) =>
        options.RetentionDays == 0 ? 0 : await log.PruneAsync(clock.GetUtcNow().AddDays(-options.RetentionDays), ct);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (options.RetentionDays == 0) return;
        using var timer = new PeriodicTimer(options.PruneEvery, clock);
        do
        {
            try
            {
                var removed = await PruneOnceAsync(log, options, clock, stoppingToken);
                if (removed > 0) logger.LogInformation("Audit retention removed {Count} entries older than {Days} days", removed, options.RetentionDays);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                logger.LogWarning(e, "Audit retention failed; it runs again in {Every}", options.PruneEvery);
            }
        }
        while (await timer.WaitForNextTickAsync(stoppingToken));
    }
}

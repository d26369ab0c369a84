using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace GrainMail.Grains.Background;

/// <summary>How a <see cref="PacedBackfill"/> is paced (each backfill binds its own configuration section).</summary>
public interface IBackfillPacing
{
    /// <summary>Rows per batch; each batch is one transaction.</summary>
    int Batch { get; }

    /// <summary>Pause between batches, so that the job stays behind delivery and reading (low priority).</summary>
    int PauseMilliseconds { get; }

    /// <summary>How long the job sleeps when no row is left.</summary>
    int IdleSeconds { get; }

    /// <summary>Wait after the silo starts before the first batch.</summary>
    int StartDelaySeconds { get; }
}

/// <summary>
/// A background job that fills in rows written before a migration, one batch at a time, until a batch
/// finds nothing; then it sleeps and looks again (a restored backup or an older node can bring rows
/// back). Each batch commits on its own, so the job resumes wherever it stopped; a database error
/// costs one pause, never the silo. The subclass says what a batch does and returns how many rows it did.
/// </summary>
public abstract class PacedBackfill(IBackfillPacing pacing, ILogger logger, string what) : BackgroundService
{
    /// <summary>Does up to <paramref name="size"/> rows; 0 when none is left.</summary>
    protected abstract Task<int> BatchAsync(int size, CancellationToken ct);

    protected sealed override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        try
        {
            await Task.Delay(TimeSpan.FromSeconds(pacing.StartDelaySeconds), stoppingToken);
            long total = 0;
            while (!stoppingToken.IsCancellationRequested)
            {
                int done;
                try
                {
                    done = await BatchAsync(Math.Max(1, pacing.Batch), stoppingToken);
                }
                catch (Exception e) when (e is Npgsql.NpgsqlException or TimeoutException)
                {
                    logger.LogWarning(e, "{What} backfill: a batch failed; trying again later", what);
                    done = 0;
                }
                total += done;
                if (done == 0)
                {
                    if (total > 0) logger.LogInformation("{What} backfill: {Rows} rows filled in", what, total);
                    total = 0;
                    await Task.Delay(TimeSpan.FromSeconds(Math.Max(1, pacing.IdleSeconds)), stoppingToken);
                }
                else await Task.Delay(TimeSpan.FromMilliseconds(Math.Max(0, pacing.PauseMilliseconds)), stoppingToken);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }
}

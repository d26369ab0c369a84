using GrainMail.Contracts.Trust;
using GrainMail.Storage.Trust;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace GrainMail.Grains.Trust;

/// <summary>GrainMail:LearnQueue — the durable learning queue (migration 0042).</summary>
public sealed class LearnQueueOptions
{
    /// <summary>Whether learners apply queued verdicts. Off only in tests that stop a silo with verdicts still queued.</summary>
    public bool Apply { get; set; } = true;

    /// <summary>Wait after the silo starts before the first sweep.</summary>
    public int StartDelaySeconds { get; set; } = 5;

    /// <summary>Pause between sweeps for verdicts no learner took.</summary>
    public int SweepSeconds { get; set; } = 30;

    /// <summary>How long a verdict may sit queued before a sweep hands it to its learner (normally the mailbox's own call
    /// applies it within a second; a sweep must not race every fresh one).</summary>
    public int GraceSeconds { get; set; } = 10;
}

/// <summary>
/// Hands verdicts left in the learning queue to their mailboxes' learners: those of a silo that stopped between
/// the commit of a move and its learner's drain, and those a drain left for a database outage. Each silo runs
/// one; two sweeping at once only make a learner drain twice, and the second finds nothing.
/// </summary>
public sealed class LearnQueueWorker(IGrainFactory grains, LearnQueueStore queue, LearnQueueOptions options, ILogger<LearnQueueWorker> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (!options.Apply) return;
        try
        {
            await Task.Delay(TimeSpan.FromSeconds(options.StartDelaySeconds), stoppingToken);
            while (!stoppingToken.IsCancellationRequested)
            {
                try
                {
                    var owners = await queue.WaitingOwnersAsync(TimeSpan.FromSeconds(options.GraceSeconds), 1000, stoppingToken);
                    foreach (var owner in owners) await grains.GetGrain<IContentLearnerGrain>(owner).Drain();
                    if (owners.Count > 0) logger.LogInformation("Learning queue: {Count} mailbox(es) with verdicts waiting handed to their learners", owners.Count);
                }
                catch (Exception e) when (e is not OperationCanceledException || !stoppingToken.IsCancellationRequested)
                {
                    logger.LogWarning(e, "Learning queue sweep failed; next in {Seconds} s", options.SweepSeconds);
                }
                await Task.Delay(TimeSpan.FromSeconds(options.SweepSeconds), stoppingToken);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // the silo is stopping
        }
    }
}

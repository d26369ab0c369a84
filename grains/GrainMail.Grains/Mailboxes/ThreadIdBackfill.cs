using GrainMail.Storage.Mailboxes;
using Microsoft.Extensions.Logging;

namespace GrainMail.Grains.Mailboxes;

/// <summary>GrainMail:ThreadIds — pacing of the thread-id backfill.</summary>
public sealed class ThreadIdBackfillOptions : GrainMail.Grains.Background.IBackfillPacing
{
    /// <summary>Rows looked at per batch (their distinct blobs are read once each).</summary>
    public int Batch { get; set; } = 500;

    /// <summary>Pause between batches, so that the job stays behind delivery and reading (low priority).</summary>
    public int PauseMilliseconds { get; set; } = 100;

    /// <summary>
    /// How long the job sleeps when no row is left. A few paths store messages without a thread id
    /// (list deliveries, restored mail, events queued by an older node); their rows wait this long at most.
    /// </summary>
    public int IdleSeconds { get; set; } = 60;

    /// <summary>Wait after the silo starts before the first batch.</summary>
    public int StartDelaySeconds { get; set; } = 20;
}

/// <summary>
/// Gives <c>mailbox_message</c> rows without a thread id (migration 0039) theirs in the background,
/// so that JMAP threads never need every message read. Until a row has one, readers compute it
/// from the message's headers, which gives the same value. Batched and resumable (each batch
/// commits; the partial index is the cursor). Nodes running it side by side may repeat a batch,
/// which only writes the same values again.
/// </summary>
public sealed class ThreadIdBackfill(ThreadIdBackfillStore store, ThreadIdBackfillOptions options, ILogger<ThreadIdBackfill> logger)
    : GrainMail.Grains.Background.PacedBackfill(options, logger, "Thread id")
{
    protected override Task<int> BatchAsync(int size, CancellationToken ct) => store.BackfillBatchAsync(size, ct);
}

using GrainMail.Storage.Governance;
using Microsoft.Extensions.Logging;

namespace GrainMail.Grains.Governance;

/// <summary>GrainMail:SubjectWords — pacing of the backfill.</summary>
public sealed class SubjectWordsBackfillOptions : GrainMail.Grains.Background.IBackfillPacing
{
    /// <summary>Rows per transaction.</summary>
    public int Batch { get; set; } = 500;

    /// <summary>Pause between batches, so that the job stays behind delivery and search (low priority).</summary>
    public int PauseMilliseconds { get; set; } = 250;

    /// <summary>How long the job sleeps when no row is left (a restored backup may bring old rows back).</summary>
    public int IdleSeconds { get; set; } = 600;

    /// <summary>Wait after the silo starts before the first batch.</summary>
    public int StartDelaySeconds { get; set; } = 30;
}

/// <summary>
/// Gives <c>message_index</c> rows written before migration 0033 their subject word tokens in the
/// background, so that old mail is found by a subject search without any search having to do it
/// first (the search still backfills its own domain before it asks, so it is exact meanwhile).
/// Batched, resumable (each batch commits; the partial index of migration 0037 is the cursor),
/// shared among silos (rows taken SKIP LOCKED), and paced so that it never competes with delivery.
/// </summary>
public sealed class SubjectWordsBackfill(MessageIndex index, SubjectWordsBackfillOptions options, ILogger<SubjectWordsBackfill> logger)
    : GrainMail.Grains.Background.PacedBackfill(options, logger, "Subject word")
{
    protected override Task<int> BatchAsync(int size, CancellationToken ct) => index.BackfillBatchAsync(size, ct);
}

using GrainMail.Storage.Audit;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace GrainMail.Grains.Audit;

/// <summary>
/// Writes the audit chain's tip outside the database at start and every
/// <see cref="AuditOptions.AnchorEvery"/>: a line in the anchor file (<see cref="AuditAnchors"/>) and
/// the same in the host's log, which the operator's journal keeps apart from PostgreSQL. Verification
/// compares the chain with the newest anchor, so rewriting the whole table and its head no longer
/// goes unseen. Each silo anchors into its own data directory; an unchanged tip is not written again.
/// </summary>
public sealed class AuditAnchoring(NpgsqlDataSource dataSource, AuditAnchors anchors, AuditOptions options, TimeProvider clock,
    ILogger<AuditAnchoring> logger) : BackgroundService
{
    /// <summary>Anchors the tip now; the anchor written (or the latest, when the tip has not moved).</summary>
    public async Task<AuditAnchor> AnchorNowAsync(CancellationToken ct = default)
    {
        var tip = await AuditAnchors.TipAsync(dataSource, clock, ct);
        var written = await anchors.AppendAsync(tip, ct);
        if (ReferenceEquals(written, tip))
            logger.LogInformation("Audit chain anchored: entry {Id} hash {Hash} ({File})", tip.Id, Convert.ToHexStringLower(tip.Hash), anchors.Path);
        return written;
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = options.AnchorEvery > TimeSpan.Zero ? new PeriodicTimer(options.AnchorEvery, clock) : null;
        do
        {
            try
            {
                await AnchorNowAsync(stoppingToken);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                logger.LogWarning(e, "Anchoring the audit chain failed; it is tried again in {Every}", options.AnchorEvery);
            }
        }
        while (timer is not null && await timer.WaitForNextTickAsync(stoppingToken));
    }
}

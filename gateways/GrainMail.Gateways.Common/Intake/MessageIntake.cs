using System.Diagnostics;
using GrainMail.Contracts.Intake;
using GrainMail.Contracts.Mailboxes;
using GrainMail.Operations.Spool;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Orleans.Concurrency;

namespace GrainMail.Gateways.Common.Intake;

/// <summary>
/// How every gateway hands an accepted message to the cluster and reads one back: through silo
/// grains, never the database. A message up to <see cref="SingleCallLimit"/> goes in one call;
/// a larger one in chunks to an upload grain, so neither side holds it as one array twice.
/// Every submission carries an idempotency key chosen here before it is sent (one per call, so one
/// per SMTP DATA); when the call fails — the silo running it died, the answer was lost — the key
/// is asked about through whichever silo answers, and the caller hears "stored" exactly when the
/// message was stored.
/// </summary>
public sealed class MessageIntake(IGrainFactory grains, ILogger<MessageIntake>? logger = null)
{
    /// <summary>How long the outcome of a failed submit call is looked for: death detection plus a
    /// database failover must fit, and an SMTP client waits minutes for its answer to DATA (RFC 5321 4.5.3.2.6).</summary>
    public TimeSpan OutcomeWait { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>How long after a silo receives the submission it may still begin its commit (<see cref="SubmissionEnvelope.CommitWithin"/>):
    /// half of <see cref="OutcomeWait"/>. The gateway asks about the key for <see cref="OutcomeWait"/> after the call failed, and the
    /// call fails no sooner than it was sent, so a silo that has not begun by then stores nothing, with the other half (30 s) to
    /// spare for the message's way to the silo and a commit that began in time.</summary>
    public TimeSpan CommitWindow => OutcomeWait / 2;

    /// <summary>Messages up to this size travel in one grain call (almost all mail).</summary>
    public const int SingleCallLimit = 1024 * 1024;

    /// <summary>Upload chunk size: one 256 KiB blob chunk, as the store keeps them.</summary>
    public const int ChunkSize = 256 * 1024;

    /// <summary>Commits the message; returns only after the durable commit. Throws when it did not happen (or cannot be known).</summary>
    public async Task<SubmitReceipt> SubmitAsync(SubmissionEnvelope envelope, MessageContent content, CancellationToken ct = default)
    {
        var key = envelope.SubmitKey ?? Guid.CreateVersion7();
        envelope = envelope with { TraceParent = envelope.TraceParent ?? Activity.Current?.Id, SubmitKey = key, CommitWithin = CommitWindow };
        try
        {
            return await SendAsync(envelope, content, ct);
        }
        catch (Exception e) when (!ct.IsCancellationRequested && e is not OutOfMemoryException)
        {
            // Whatever failed — the silo died before or after its COMMIT, the answer or the connection was
            // lost, the database broke mid-transaction — only the database knows whether the message is
            // stored. Asking also fences the key, so a "not stored" answer stays true. Not stored, or not
            // known: the caller gets the call's own exception, as before (SMTP 451, an API's error).
            if (await SettleAsync(key, e) is { } stored) return stored;
            throw;
        }
    }

    /// <summary>The receipt of the submission with <paramref name="key"/> if it committed; null if it did not or cannot be known in time.</summary>
    private async Task<SubmitReceipt?> SettleAsync(Guid key, Exception failure)
    {
        var log = logger ?? NullLogger<MessageIntake>.Instance;
        var started = Stopwatch.GetTimestamp();
        var delay = TimeSpan.FromMilliseconds(250);
        while (true)
        {
            try
            {
                var receipt = await grains.GetGrain<IMessageIntakeGrain>(0).Settle(key);
                log.LogWarning("A submit call failed ({Error}); the submission had {Outcome} (asked for {Seconds:F1} s)", failure.GetType().Name,
                    receipt is null ? "not committed: 451" : "committed: 250", Stopwatch.GetElapsedTime(started).TotalSeconds);
                return receipt;
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                // No silo to ask, or no primary database yet: ask again until the budget is spent.
                if (Stopwatch.GetElapsedTime(started) + delay >= OutcomeWait)
                {
                    log.LogError(e, "A submit call failed ({Error}); the submission outcome unknown after {Seconds:F0} s: 451 (a duplicate is possible)",
                        failure.GetType().Name, OutcomeWait.TotalSeconds);
                    return null;
                }
            }
            await Task.Delay(delay);
            delay = TimeSpan.FromMilliseconds(Math.Min(delay.TotalMilliseconds * 2, 1000));
        }
    }

    private async Task<SubmitReceipt> SendAsync(SubmissionEnvelope envelope, MessageContent content, CancellationToken ct)
    {
        if (content.Length <= SingleCallLimit)
        {
            return await grains.GetGrain<IMessageIntakeGrain>(0).Submit(envelope, (await content.ToArrayAsync(ct)).AsImmutable());
        }
        var upload = grains.GetGrain<IMessageUploadGrain>(Guid.NewGuid());
        try
        {
            await foreach (var piece in content.ReadAsync(ChunkSize, ct)) await upload.Append(piece.ToArray().AsImmutable());
            return await upload.Commit(envelope);
        }
        catch when (!ct.IsCancellationRequested)
        {
            await upload.Abort();
            throw;
        }
    }

    /// <summary>A stored message's bytes; null when it is gone.</summary>
    public async Task<byte[]?> ReadAsync(BlobRef blob) =>
        (await grains.GetGrain<IMessageBlobGrain>(0).Read(blob))?.Value;

    /// <summary>Several stored messages' bytes in one call, in the order asked; null for one that is gone.</summary>
    public async Task<IReadOnlyList<byte[]?>> ReadManyAsync(IReadOnlyList<BlobRef> blobs) =>
        (await grains.GetGrain<IMessageBlobGrain>(0).ReadMany([.. blobs])).Value;

    /// <summary>Part of a stored message's bytes (empty past its end); null when it is gone.</summary>
    public async Task<byte[]?> ReadRangeAsync(BlobRef blob, long offset, int count) =>
        (await grains.GetGrain<IMessageBlobGrain>(0).ReadRange(blob, offset, count))?.Value;
}

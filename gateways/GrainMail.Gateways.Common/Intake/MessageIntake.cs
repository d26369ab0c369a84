using System.Diagnostics;
using GrainMail.Contracts.Intake;
using GrainMail.Contracts.Mailboxes;
using GrainMail.Operations.Spool;
using Orleans.Concurrency;

namespace GrainMail.Gateways.Common.Intake;

/// <summary>
/// How every gateway hands an accepted message to the cluster and reads one back: through silo
/// grains, never the database. A message up to <see cref="SingleCallLimit"/> goes in one call;
/// a larger one in chunks to an upload grain, so neither side holds it as one array twice.
/// </summary>
public sealed class MessageIntake(IGrainFactory grains)
{
    /// <summary>Messages up to this size travel in one grain call (almost all mail).</summary>
    public const int SingleCallLimit = 1024 * 1024;

    /// <summary>Upload chunk size: one 256 KiB blob chunk, as the store keeps them.</summary>
    public const int ChunkSize = 256 * 1024;

    /// <summary>Commits the message; returns only after the durable commit. Throws when it did not happen (or cannot be known).</summary>
    public async Task<SubmitReceipt> SubmitAsync(SubmissionEnvelope envelope, MessageContent content, CancellationToken ct = default)
    {
        envelope = envelope with { TraceParent = envelope.TraceParent ?? Activity.Current?.Id };
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

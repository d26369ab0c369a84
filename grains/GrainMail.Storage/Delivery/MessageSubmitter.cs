using GrainMail.Contracts;
using GrainMail.Contracts.Delivery;
using GrainMail.Storage.Blobs;
using GrainMail.Storage.Streams;
using Npgsql;
using Orleans.Runtime;

namespace GrainMail.Storage.Delivery;

/// <summary>A message accepted for local mailboxes.</summary>
/// <param name="Sender">Envelope sender (null for the null reverse-path).</param>
/// <param name="Mailboxes">Normalised local mailbox addresses, each receiving one copy.</param>
/// <param name="Raw">The RFC 5322 bytes as they will be stored.</param>
public sealed record Submission(string? Sender, IReadOnlyList<string> Mailboxes, ReadOnlyMemory<byte> Raw, string? Dsn = null);

public sealed record SubmitReceipt(Guid MessageId, DateTimeOffset ReceivedAt, int Events);

/// <summary>
/// The durable submit path shared by every gateway: in one PostgreSQL transaction it stores the
/// blob (once per recipient domain, encrypted) and one stream event per recipient. When
/// <see cref="SubmitAsync"/> returns, the message is committed and will be delivered; when it
/// throws, nothing was stored.
/// </summary>
public sealed class MessageSubmitter(NpgsqlDataSource dataSource, BlobStore blobs, EventCodec codec, PgStreamQueueMapper mapper)
{
    public async Task<SubmitReceipt> SubmitAsync(Submission submission, CancellationToken ct = default)
    {
        var recipients = submission.Mailboxes.Distinct(StringComparer.Ordinal).ToList();
        if (recipients.Count == 0) throw new ArgumentException("A submission needs at least one recipient");
        var hash = BlobStore.Hash(submission.Raw.Span);
        var receivedAt = DateTimeOffset.UtcNow;
        var messageId = Guid.CreateVersion7(receivedAt);

        var events = new List<OutgoingEvent>(recipients.Count);
        foreach (var rcpt in recipients)
        {
            var e = new DeliveryEvent(Guid.CreateVersion7(receivedAt), 0, rcpt, submission.Sender, MailAddress.DomainOf(rcpt), hash,
                submission.Raw.Length, receivedAt, submission.Dsn, 0);
            var streamId = StreamId.Create(DeliveryStreams.Inbound, rcpt);
            events.Add(new OutgoingEvent(mapper.PartitionOf(streamId), DeliveryStreams.Inbound, rcpt, codec.Encode(e)));
        }

        await using var conn = await dataSource.OpenConnectionAsync(ct);
        await using var tx = await conn.BeginTransactionAsync(ct);
        // Sorted so that two submissions touching the same blobs lock them in the same order.
        foreach (var group in recipients.GroupBy(MailAddress.DomainOf).OrderBy(g => g.Key, StringComparer.Ordinal))
        {
            await blobs.AddReferencesAsync(conn, tx, group.Key, hash, submission.Raw, group.Count(), ct);
        }
        await StreamQueueStore.EnqueueAsync(conn, events, ct);
        await tx.CommitAsync(ct);
        return new SubmitReceipt(messageId, receivedAt, events.Count);
    }
}

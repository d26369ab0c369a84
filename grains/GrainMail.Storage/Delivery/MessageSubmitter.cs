using GrainMail.Contracts.Intake;
using GrainMail.Operations.Spool;
using GrainMail.Operations;
using GrainMail.Contracts;
using GrainMail.Contracts.Delivery;
using GrainMail.Contracts.Outbound;
using GrainMail.Storage.Blobs;
using GrainMail.Storage.Streams;
using System.Threading.Channels;
using Npgsql;
using Orleans.Runtime;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace GrainMail.Storage.Delivery;

/// <summary>A message accepted for local mailboxes and, perhaps, external recipients.</summary>
/// <param name="Sender">Envelope sender (null for the null reverse-path).</param>
/// <param name="Mailboxes">Normalised local mailbox addresses, each receiving one copy.</param>
/// <param name="Raw">The RFC 5322 bytes as they will be stored (in memory, or spooled by a gateway).</param>
/// <param name="Dsn">DSN envelope parameters (RFC 3461: RET, ENVID), kept with every delivery event.</param>
/// <param name="RecipientDsn">Per-mailbox DSN parameters (NOTIFY, ORCPT of the RCPT that reached it).</param>
/// <param name="External">Recipients outside every hosted domain: one outbound event per destination domain.</param>
/// <param name="ExternalOwner">The hosted domain on whose behalf they leave (its key encrypts the outbound copy).</param>
public sealed record Submission(string? Sender, IReadOnlyList<string> Mailboxes, MessageContent Raw, string? Dsn = null,
    IReadOnlyDictionary<string, string>? RecipientDsn = null, IReadOnlyList<string>? External = null, string? ExternalOwner = null)
{
    /// <summary>REQUIRETLS (RFC 8689): the message may only leave over verified TLS to hops that honour it.</summary>
    public bool RequireTls { get; init; }

    /// <summary>Mailboxes whose copy the inbound checks sent to Junk.</summary>
    public IReadOnlySet<string>? JunkMailboxes { get; init; }

    /// <summary>Copies the inbound checks hold in quarantine instead of delivering: stored in the same
    /// transaction as the rest, each with a blob reference of its own, outside every mailbox.</summary>
    public IReadOnlyList<HeldCopy>? Held { get; init; }

    /// <summary>Mailing lists (addresses as accepted): one list event each, expanded by the list's grain.</summary>
    public IReadOnlyList<string> Lists { get; init; } = [];

    /// <summary>The envelope sender of the outbound copies when it differs from <see cref="Sender"/>: the SRS
    /// address of mail an alias forwards (GrainMail.Grains.Forwarding.ForwardedMail).</summary>
    public string? OutboundSender { get; init; }

    /// <summary>The bytes the outbound copies leave with when they differ from <see cref="Raw"/>: a forward ARC-sealed
    /// by the forwarding domain, while local copies keep the message as received (stored as a blob of its own).</summary>
    public MessageContent? OutboundRaw { get; init; }

    /// <summary>The submitting account, carried to the lists (a moderator's own post is not held).</summary>
    public string? AuthenticatedUser { get; init; }

    /// <summary>Outbound approval (issue 17): instead of delivery events, one held row with a blob reference,
    /// written in the same transaction (the envelope's recipients are in the row).</summary>
    public Governance.ApprovalHoldRow? Approval { get; init; }

    /// <summary>MX mail: the inbound checks' receive log lines, written in the transaction that stores the message.</summary>
    public IReadOnlyList<GrainMail.Contracts.Trust.ReceiveLogEntry>? ReceiveLog { get; init; }

    /// <summary>An account's submission: recorded in <c>sent_message</c> with each copy's delivery id (recall).</summary>
    public SentDraft? Sent { get; init; }

    /// <summary>The id the intake gives the message when it must be a known one: a held message released keeps its held
    /// id, so a JMAP EmailSubmission that stored it finds the sent record (issue 18). Null: a new id.</summary>
    public Guid? IntakeId { get; init; }

    /// <summary>The gateway's idempotency key (one per SMTP DATA), recorded in <c>submit_key</c> by the transaction that
    /// stores the message: a gateway whose silo died mid-call asks by it whether the message committed
    /// (<see cref="MessageSubmitter.SettleAsync"/>), and a second submission with the same key stores nothing and gets
    /// the first one's receipt. Null for the silos' own messages (reports, notices), which no one retries.</summary>
    public Guid? IdempotencyKey { get; init; }

    /// <summary>For a keyed submission: the latest time (this silo's clock) its transaction may begin. Past it the
    /// submitter stores nothing and fails the submission, because its gateway has stopped waiting for the call and
    /// will soon stop asking about the key (<see cref="SettleAsync"/>). Without it, a submission that waited here
    /// while the database could not be reached — queued behind batches that each spend the connect timeout failing —
    /// could commit after its gateway had answered 451 for want of an answer, and the sender's retry would make a
    /// second copy. Null: no limit.</summary>
    public DateTimeOffset? CommitBy { get; init; }

    /// <summary>The DSN parameters (<see cref="DsnRequest"/> encoding) kept with the event for <paramref name="mailbox"/>.</summary>
    public string? DsnFor(string mailbox) =>
        RecipientDsn?.GetValueOrDefault(mailbox) is { } rcpt ? (Dsn is null ? rcpt : Dsn + " " + rcpt) : Dsn;

    /// <summary>The DSN parameters of an outbound event: the message's, then each recipient's under its RCPT= group.</summary>
    public string? DsnFor(IEnumerable<string> external)
    {
        var groups = string.Join(' ', external.Where(r => RecipientDsn?.ContainsKey(r) == true)
            .Select(r => $"RCPT={XText.Encode(r)} {RecipientDsn![r]}"));
        return groups.Length == 0 ? Dsn : Dsn is null ? groups : Dsn + " " + groups;
    }
}


/// <summary>What the sent list keeps of a submission besides its recipients (their delivery ids are the submitter's).</summary>
/// <param name="LocalRecipients">The mailboxes the sender addressed (not monitoring copies).</param>
public sealed record SentDraft(string Account, string? MessageId, string Subject, IReadOnlyList<string> LocalRecipients);

/// <summary>A copy held in quarantine for <paramref name="Mailbox"/>, with the score and symbols that put it there.</summary>
public sealed record HeldCopy(string Mailbox, double Score, string Symbols);

/// <summary>
/// The durable submit path shared by every gateway: in one PostgreSQL transaction it stores the
/// blob (once per recipient domain, encrypted) and one stream event per recipient. When
/// <see cref="SubmitAsync"/> returns, the message is committed and will be delivered; when it
/// throws, nothing was stored.
/// </summary>
public sealed class MessageSubmitter(NpgsqlDataSource dataSource, BlobStore blobs, EventCodec codec, PgStreamQueueMapper mapper,
    ILogger<MessageSubmitter>? logger = null)
    : IAsyncDisposable
{
    // Group commit: submissions that arrive while a commit is in flight share the next one, so
    // many concurrent senders cost one WAL flush instead of one each. Each caller still hears
    // "accepted" only after the transaction holding its message has committed.
    private const int MaxBatch = 64;
    private readonly Channel<Pending> _pending = Channel.CreateUnbounded<Pending>(new UnboundedChannelOptions { SingleReader = false });
    private readonly Lock _startLock = new();
    private Task[]? _committers;
    private long _commits;

    private sealed record Pending(Prepared Work, TaskCompletionSource<SubmitReceipt> Done);

    private sealed record Prepared(Submission Submission, byte[] Hash, List<OutgoingEvent> Events, SubmitReceipt Receipt, Governance.SentRow? Sent)
    {
        /// <summary>The outbound copies' blob (<see cref="Submission.OutboundRaw"/>); the message's own hash otherwise.</summary>
        public byte[] OutboundHash { get; init; } = Hash;

        /// <summary>The headers the domain-wide search needs (Governance/MessageIndex); null when no mailbox of ours receives it.</summary>
        public Governance.MessageSummary? Summary { get; init; }
    }

    public async Task<SubmitReceipt> SubmitAsync(Submission submission, CancellationToken ct = default)
    {
        using var activity = GrainMail.Operations.GrainMailTracing.Source.StartActivity("grainmail.commit");
        activity?.SetTag("grainmail.recipients", submission.Mailboxes.Count + (submission.External?.Count ?? 0));
        var work = await PrepareAsync(submission, ct);
        EnsureCommitters();
        var done = new TaskCompletionSource<SubmitReceipt>(TaskCreationOptions.RunContinuationsAsynchronously);
        await _pending.Writer.WriteAsync(new Pending(work, done), ct);
        // Not cancellable once queued: the caller must learn whether its message was committed.
        return await done.Task;
    }

    private async Task<Prepared> PrepareAsync(Submission submission, CancellationToken ct)
    {
        var recipients = submission.Mailboxes.Distinct(StringComparer.Ordinal).ToList();
        var external = (submission.External ?? []).Distinct(StringComparer.Ordinal).ToList();
        var lists = submission.Lists.Distinct(StringComparer.Ordinal).ToList();
        if (recipients.Count + external.Count + lists.Count + (submission.Held?.Count ?? 0) + (submission.Approval is null ? 0 : 1) == 0) throw new ArgumentException("A submission needs at least one recipient");
        if (external.Count > 0 && string.IsNullOrEmpty(submission.ExternalOwner))
            throw new ArgumentException("External recipients need the hosted domain they leave for");
        var hash = await submission.Raw.HashAsync(ct);
        var outbound = external.Count > 0 && submission.OutboundRaw is { } own ? own : submission.Raw;
        var outboundHash = ReferenceEquals(outbound, submission.Raw) ? hash : await outbound.HashAsync(ct);
        if (outboundHash.AsSpan().SequenceEqual(hash)) (outbound, outboundHash) = (submission.Raw, hash);
        var receivedAt = DateTimeOffset.UtcNow;
        // The headers are read once for the domain-wide search and the thread id every mailbox copy stores.
        var summary = recipients.Count + lists.Count > 0 ? await Governance.MessageIndex.SummarizeAsync(submission.Raw, hash, ct) : null;
        var events = new List<OutgoingEvent>(recipients.Count);
        var deliveryIds = new Dictionary<string, Guid>(StringComparer.Ordinal);
        var outboundIds = new List<Guid>();
        foreach (var rcpt in recipients)
        {
            var e = new DeliveryEvent(Guid.CreateVersion7(receivedAt), 0, rcpt, submission.Sender, MailAddress.DomainOf(rcpt), hash,
                submission.Raw.Length, receivedAt, submission.DsnFor(rcpt), 0, System.Diagnostics.Activity.Current?.Id,
                submission.JunkMailboxes?.Contains(rcpt) == true, summary?.ThreadId);
            deliveryIds[rcpt] = e.DeliveryId;
            var streamId = StreamId.Create(DeliveryStreams.Inbound, rcpt);
            events.Add(new OutgoingEvent(mapper.PartitionOf(streamId), DeliveryStreams.Inbound, rcpt, codec.Encode(e)));
        }
        foreach (var group in external.GroupBy(MailAddress.DomainOf, StringComparer.Ordinal))
        {
            var o = new OutboundEvent(Guid.CreateVersion7(receivedAt), 0, group.Key, group.ToList(), submission.OutboundSender ?? submission.Sender,
                submission.ExternalOwner!, outboundHash, outbound.Length, receivedAt, submission.DsnFor(group), 0, submission.RequireTls);
            outboundIds.Add(o.DeliveryId);
            var streamId = StreamId.Create(DeliveryStreams.Outbound, group.Key);
            events.Add(new OutgoingEvent(mapper.PartitionOf(streamId), DeliveryStreams.Outbound, group.Key, codec.Encode(o)));
        }
        foreach (var accepted in lists)
        {
            var (list, command) = GrainMail.Contracts.Lists.ListStreams.Split(accepted);
            var l = new GrainMail.Contracts.Lists.ListDeliveryEvent(Guid.CreateVersion7(receivedAt), 0, list, submission.Sender,
                MailAddress.DomainOf(list), hash, submission.Raw.Length, receivedAt, 0, command, false, submission.AuthenticatedUser,
                System.Diagnostics.Activity.Current?.Id);
            var streamId = StreamId.Create(GrainMail.Contracts.Lists.ListStreams.Namespace, list);
            events.Add(new OutgoingEvent(mapper.PartitionOf(streamId), GrainMail.Contracts.Lists.ListStreams.Namespace, list, codec.Encode(l)));
        }
        var receipt = new SubmitReceipt(submission.Approval?.Id ?? submission.IntakeId ?? Guid.CreateVersion7(receivedAt), receivedAt, events.Count);
        var sent = submission.Sent is { } d
            ? new Governance.SentRow(receipt.MessageId, d.Account, d.MessageId, d.Subject, receivedAt,
                d.LocalRecipients.Where(deliveryIds.ContainsKey).ToList(), d.LocalRecipients.Where(deliveryIds.ContainsKey).Select(r => deliveryIds[r]).ToList(),
                external, outboundIds)
            : null;
        return new Prepared(submission with { Mailboxes = recipients, External = external, Lists = lists, OutboundRaw = outbound }, hash, events, receipt, sent)
        {
            OutboundHash = outboundHash,
            Summary = summary,
        };
    }

    private void EnsureCommitters()
    {
        if (_committers is not null) return;
        lock (_startLock)
        {
            // Two committers: one fills the next batch while the other waits for its flush.
            _committers ??= [Task.Run(CommitLoopAsync), Task.Run(CommitLoopAsync)];
        }
    }

    private async Task CommitLoopAsync()
    {
        var batch = new List<Pending>(MaxBatch);
        while (await _pending.Reader.WaitToReadAsync())
        {
            batch.Clear();
            while (batch.Count < MaxBatch && _pending.Reader.TryRead(out var p)) batch.Add(p);
            if (batch.Count == 0) continue;
            try
            {
                var settled = await CommitAsync(batch.Select(b => b.Work).ToList());
                foreach (var p in batch)
                {
                    if (!settled.TryGetValue(p.Work, out var earlier)) p.Done.TrySetResult(p.Work.Receipt);
                    else if (ReferenceEquals(earlier, TooLate)) p.Done.TrySetException(new InvalidOperationException("The submission came to its commit after its gateway had stopped waiting: nothing stored"));
                    else if (earlier is not null) p.Done.TrySetResult(earlier);
                    else p.Done.TrySetException(new InvalidOperationException("The submission's key was settled as not committed: nothing stored"));
                }
            }
            catch (Exception e)
            {
                // Not retried here: if the connection broke during COMMIT the outcome is unknown,
                // and a retry could store the messages twice. Every caller reports a temporary
                // failure (SMTP: 451) and its sender retries.
                foreach (var p in batch) p.Done.TrySetException(e);
            }
        }
    }

    /// <summary>Commits the batch; returns the works that stored nothing because their key was already recorded
    /// (with the earlier receipt, or null when the key was fenced as not committed).</summary>
    private async Task<Dictionary<Prepared, SubmitReceipt?>> CommitAsync(IReadOnlyList<Prepared> works)
    {
        var batchId = Guid.CreateVersion7();
        long? xid = null;
        Dictionary<Prepared, SubmitReceipt?> settled = new(ReferenceEqualityComparer.Instance);
        try
        {
            await WriteAndCommitAsync(works, batchId, id => xid = id, s => settled = s);
        }
        catch (Exception e) when (xid is not null)
        {
            // The transaction got as far as its last write: whether COMMIT took effect is not
            // known from here (the answer may have been lost with the connection). Ask.
            if (!await CommittedAsync(batchId, xid.Value, e)) throw;
        }
        return settled;
    }

    /// <summary>The answer for a work that reached its transaction after its <see cref="Submission.CommitBy"/>: nothing stored.</summary>
    private static readonly SubmitReceipt TooLate = new(Guid.Empty, DateTimeOffset.MinValue, 0);

    private async Task WriteAndCommitAsync(IReadOnlyList<Prepared> works, Guid batchId, Action<long> written,
        Action<Dictionary<Prepared, SubmitReceipt?>> claimed)
    {
        using var pgTimer = GrainMailMeters.TimePg("submit.commit");
        await using var conn = await dataSource.OpenConnectionAsync();
        await using var tx = await conn.BeginTransactionAsync();
        // Checked once the connection is open (opening may itself have taken the connect timeout): a work whose gateway
        // has stopped waiting is left out before its key is claimed, so nothing of it is written.
        var now = DateTimeOffset.UtcNow;
        var late = works.Where(w => w.Submission.CommitBy is { } by && by < now).ToList();
        var settled = await ClaimKeysAsync(conn, tx, late.Count == 0 ? works : works.Where(w => !late.Contains(w, ReferenceEqualityComparer.Instance)).ToList());
        foreach (var w in late) settled[w] = TooLate;
        if (late.Count > 0) logger?.LogWarning("{Count} keyed submission(s) reached their commit after their gateways had stopped waiting: not stored", late.Count);
        claimed(settled);
        var kept = settled.Count == 0 ? works : works.Where(w => !settled.ContainsKey(w)).ToList();
        if (kept.Count > 0) await WriteAsync(conn, tx, kept, receiveLog: false);
        await WriteMarkerAndCommitAsync(conn, tx, batchId, written, kept);
    }

    /// <summary>
    /// Records the batch's idempotency keys first in its transaction. A key already recorded (a retry
    /// of a stored submission, or one the gateway fenced after its silo died) stores nothing: its work
    /// gets the earlier receipt, or null when fenced. A key still being written by another transaction
    /// makes this one wait for it, so the answer is the committed one. Keys are inserted in order, so
    /// two batches never wait for each other both ways.
    /// </summary>
    private static async Task<Dictionary<Prepared, SubmitReceipt?>> ClaimKeysAsync(NpgsqlConnection conn, NpgsqlTransaction tx, IReadOnlyList<Prepared> works)
    {
        var settled = new Dictionary<Prepared, SubmitReceipt?>(ReferenceEqualityComparer.Instance);
        var first = new Dictionary<Guid, Prepared>();
        var repeats = new List<(Prepared Work, Guid Key)>();
        foreach (var w in works)
        {
            if (w.Submission.IdempotencyKey is not { } key) continue;
            if (!first.TryAdd(key, w)) repeats.Add((w, key));
        }
        if (first.Count == 0) return settled;
        var keys = first.Keys.Order().ToArray();
        var inserted = new HashSet<Guid>();
        await using (var insert = new NpgsqlCommand("""
            INSERT INTO submit_key (key, message_id, received_at, events)
            SELECT * FROM unnest(@k, @m, @r, @e) ORDER BY 1
            ON CONFLICT (key) DO NOTHING RETURNING key
            """, conn, tx))
        {
            insert.Parameters.AddWithValue("k", keys);
            insert.Parameters.AddWithValue("m", keys.Select(k => first[k].Receipt.MessageId).ToArray());
            insert.Parameters.AddWithValue("r", keys.Select(k => first[k].Receipt.ReceivedAt.ToUniversalTime()).ToArray());
            insert.Parameters.AddWithValue("e", keys.Select(k => first[k].Receipt.Events).ToArray());
            await using var r = await insert.ExecuteReaderAsync();
            while (await r.ReadAsync()) inserted.Add(r.GetGuid(0));
        }
        var known = keys.Where(k => !inserted.Contains(k)).ToArray();
        if (known.Length > 0)
        {
            await using var read = new NpgsqlCommand("SELECT key, message_id, received_at, events FROM submit_key WHERE key = ANY(@k)", conn, tx);
            read.Parameters.AddWithValue("k", known);
            await using var r = await read.ExecuteReaderAsync();
            while (await r.ReadAsync()) settled[first[r.GetGuid(0)]] = ReceiptOf(r);
        }
        // The same key twice in one batch (a retry that caught up with its original): one store, one answer.
        foreach (var (w, key) in repeats) settled[w] = settled.TryGetValue(first[key], out var earlier) ? earlier : first[key].Receipt;
        return settled;
    }

    private static SubmitReceipt? ReceiptOf(NpgsqlDataReader r) =>
        r.IsDBNull(1) ? null : new SubmitReceipt(r.GetGuid(1), r.GetFieldValue<DateTimeOffset>(2), r.GetInt32(3));

    /// <summary>
    /// What became of the submission with <paramref name="key"/>, for a gateway whose silo call failed: its
    /// receipt if it committed; null if it did not — and then it never will, because the key is recorded here
    /// with no message (a fence), so the original, should it still be running somewhere, stores nothing.
    /// Waits for a transaction still writing the key, up to <paramref name="wait"/>; throws when the database
    /// cannot answer yet (during a failover), and the caller asks again.
    /// </summary>
    public async Task<SubmitReceipt?> SettleAsync(Guid key, TimeSpan wait, CancellationToken ct = default)
    {
        await using var conn = await dataSource.OpenConnectionAsync(ct);
        var seconds = Math.Max(1, (int)Math.Ceiling(wait.TotalSeconds));
        await using (var fence = new NpgsqlCommand("INSERT INTO submit_key (key) VALUES (@k) ON CONFLICT (key) DO NOTHING", conn) { CommandTimeout = seconds })
        {
            fence.Parameters.AddWithValue("k", key);
            if (await fence.ExecuteNonQueryAsync(ct) == 1) return null;
        }
        await using var read = new NpgsqlCommand("SELECT key, message_id, received_at, events FROM submit_key WHERE key = @k", conn) { CommandTimeout = seconds };
        read.Parameters.AddWithValue("k", key);
        await using var r = await read.ExecuteReaderAsync(ct);
        return await r.ReadAsync(ct) ? ReceiptOf(r) : throw new InvalidOperationException("A submission key vanished while it was settled");
    }

    /// <summary>
    /// One submission in a transaction of its own (not the group commit) that first runs
    /// <paramref name="claim"/> — e.g. taking a held message's row — and stores the message only if
    /// the claim holds, so that a message released twice at once is delivered once. Returns null when
    /// the claim failed (nothing stored). Used for rare, administrative releases; a broken COMMIT
    /// surfaces as an exception (the row is then either gone with the events written, or still there).
    /// </summary>
    public async Task<SubmitReceipt?> CommitClaimedAsync(Submission submission, Func<NpgsqlConnection, NpgsqlTransaction, Task<bool>> claim)
    {
        var work = await PrepareAsync(submission, CancellationToken.None);
        using var pgTimer = GrainMailMeters.TimePg("submit.commit");
        await using var conn = await dataSource.OpenConnectionAsync();
        await using var tx = await conn.BeginTransactionAsync();
        if (!await claim(conn, tx)) return null;
        await WriteAsync(conn, tx, [work]);
        await tx.CommitAsync();
        return work.Receipt;
    }

    /// <summary>Everything of <paramref name="works"/> but the commit marker; the receive log too unless
    /// <paramref name="receiveLog"/> is false (the group commit sends it in one batch with the marker).</summary>
    private async Task WriteAsync(NpgsqlConnection conn, NpgsqlTransaction tx, IReadOnlyList<Prepared> works, bool receiveLog = true)
    {
        // One upsert and one COPY for every blob of the batch (sorted inside, so that concurrent
        // transactions touching the same blobs lock them in the same order).
        // One reference per mailbox copy, one per outbound event (held by the route's queue row),
        // and one per list event (stored under the list's domain).
        var blobWrites = works
            .SelectMany(w => w.Submission.Mailboxes.Concat(w.Submission.Held?.Select(h => h.Mailbox) ?? []).Concat(w.Submission.Lists).GroupBy(MailAddress.DomainOf)
                .Select(g => (Domain: g.Key, Count: g.Count()))
                .Concat(w.Submission.Approval is { } held ? [(Domain: held.BlobDomain, Count: 1)] : [])
                .Concat(w.Submission.External is { Count: > 0 } ext && ReferenceEquals(w.OutboundHash, w.Hash)
                    ? [(Domain: w.Submission.ExternalOwner!, Count: ext.Select(MailAddress.DomainOf).Distinct(StringComparer.Ordinal).Count())]
                    : [])
                .GroupBy(x => x.Domain)
                .Select(g => new BlobWrite(g.Key, w.Hash, w.Submission.Raw, g.Sum(x => x.Count)))
                // Outbound copies with bytes of their own (a sealed forward): their own blob, one reference per event.
                .Concat(w.Submission.External is { Count: > 0 } sealedExt && !ReferenceEquals(w.OutboundHash, w.Hash)
                    ? [new BlobWrite(w.Submission.ExternalOwner!, w.OutboundHash, w.Submission.OutboundRaw!, sealedExt.Select(MailAddress.DomainOf).Distinct(StringComparer.Ordinal).Count())]
                    : []))
            .ToList();
        await blobs.AddReferencesAsync(conn, tx, blobWrites);
        await Governance.MessageIndex.InsertAsync(conn, tx, blobs.Keys, works.Where(w => w.Summary is not null)
            .SelectMany(w => w.Submission.Mailboxes.Concat(w.Submission.Lists).Select(MailAddress.DomainOf).Distinct(StringComparer.Ordinal)
                .Select(d => (d, w.Hash, w.Receipt.ReceivedAt, w.Submission.Sender, w.Summary!))).ToList());
        // The reports' counters move with the messages they count (issue 17, Reports).
        await Governance.ReportStore.AddAsync(conn, tx, works.Select(w => new Governance.ReportEvent(w.Submission.Sender,
            w.Submission.AuthenticatedUser, w.Submission.Mailboxes, w.Submission.External?.Count ?? 0, w.Receipt.ReceivedAt)).ToList());
        await StreamQueueStore.EnqueueAsync(conn, works.SelectMany(w => w.Events).ToList());
        await Trust.QuarantineStore.HoldAsync(conn, tx, works.Where(w => w.Submission.Held is { Count: > 0 })
            .SelectMany(w => w.Submission.Held!.Select(h => new Trust.QuarantineRow(Guid.CreateVersion7(), h.Mailbox, w.Submission.Sender,
                MailAddress.DomainOf(h.Mailbox), w.Hash, w.Submission.Raw.Length, h.Score, h.Symbols, w.Receipt.ReceivedAt))).ToList());
        var approvals = works.Where(w => w.Submission.Approval is not null).Select(w => w.Submission.Approval!).ToList();
        if (approvals.Count > 0) await Governance.GovernanceStore.HoldAsync(conn, tx, approvals);
        var sent = works.Where(w => w.Sent is not null).Select(w => w.Sent!).ToList();
        if (sent.Count > 0) await Governance.GovernanceStore.RecordSentAsync(conn, tx, sent);
        if (receiveLog) await Trust.ReceiveLogStore.InsertAsync(conn, tx, ReceiveLogOf(works));
        await Jmap.ReportArrivals.InsertAsync(conn, tx, works.Where(w => w.Summary?.IsReport == true)
            .SelectMany(w => w.Submission.Mailboxes.Select(m => (m, MailAddress.DomainOf(m), w.Hash))).ToList());
    }

    private static List<GrainMail.Contracts.Trust.ReceiveLogEntry> ReceiveLogOf(IReadOnlyList<Prepared> works) =>
        works.SelectMany(w => w.Submission.ReceiveLog ?? []).ToList();

    private async Task WriteMarkerAndCommitAsync(NpgsqlConnection conn, NpgsqlTransaction tx, Guid batchId, Action<long> written,
        IReadOnlyList<Prepared> works)
    {
        // The marker and the batch's receive-log lines in one round trip: filtering's rows cost the commit no extra turn.
        await using (var batch = new NpgsqlBatch(conn, tx))
        {
            if (Trust.ReceiveLogStore.InsertCommand(ReceiveLogOf(works)) is { } log) batch.BatchCommands.Add(log);
            var marker = new NpgsqlBatchCommand("INSERT INTO submit_commit (id) VALUES ($1) RETURNING txid_current()");
            marker.Parameters.Add(new NpgsqlParameter { Value = batchId });
            batch.BatchCommands.Add(marker);
            await using var r = await batch.ExecuteReaderAsync();
            while (!await r.ReadAsync())
            {
                if (!await r.NextResultAsync()) throw new InvalidOperationException("The commit marker returned no row");
            }
            written(r.GetInt64(0));
        }
        if (Interlocked.Increment(ref _commits) % 4096 == 0)
        {
            // Markers only matter for the minutes around a failure; keep a day of them.
            await using var prune = new NpgsqlCommand("DELETE FROM submit_commit WHERE committed_at < now() - interval '1 day'", conn, tx);
            await prune.ExecuteNonQueryAsync();
            await using var pruneKeys = new NpgsqlCommand("DELETE FROM submit_key WHERE recorded_at < now() - interval '1 day'", conn, tx);
            await pruneKeys.ExecuteNonQueryAsync();
            await Jmap.ReportArrivals.PruneAsync(conn, tx);
        }
        IReadOnlyList<Submission> submissions = FaultInjection is null ? [] : works.Select(w => w.Submission).ToList();
        if (FaultInjection is { } before) await before(CommitStage.BeforeCommit, conn, submissions);
        await tx.CommitAsync();
        if (FaultInjection is { } after) await after(CommitStage.AfterCommit, conn, submissions);
    }

    /// <summary>How long the outcome of a broken commit is looked for (a database failover must fit).</summary>
    public TimeSpan OutcomeWait { get; set; } = TimeSpan.FromSeconds(60);

    public enum CommitStage
    {
        BeforeCommit,
        AfterCommit,
    }

    /// <summary>
    /// Failure tests only: called with the batch's connection and the submissions it stores just before
    /// and just after COMMIT, to break the connection (the server ends the backend), lose the answer
    /// (throw) or end the process (<see cref="SubmitFaults"/>).
    /// </summary>
    public Func<CommitStage, NpgsqlConnection, IReadOnlyList<Submission>, Task>? FaultInjection { get; set; }

    /// <summary>
    /// Whether the batch committed, asked on fresh connections (which follow a promotion of the
    /// standby): its marker row is visible once the transaction is; while the server still
    /// reports the transaction in progress (waiting for the synchronous standby) we wait. A
    /// transaction id the server has not reached belongs to a primary that is gone: not committed.
    /// </summary>
    private async Task<bool> CommittedAsync(Guid batchId, long xid, Exception failure)
    {
        var deadline = DateTime.UtcNow + OutcomeWait;
        while (true)
        {
            try
            {
                await using var conn = await dataSource.OpenConnectionAsync();
                string? status;
                try
                {
                    await using var st = new NpgsqlCommand("SELECT txid_status(@x)", conn);
                    st.Parameters.AddWithValue("x", xid);
                    status = await st.ExecuteScalarAsync() as string;
                }
                catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.InvalidParameterValue)
                {
                    status = "future";
                }
                if (status != "in progress")
                {
                    await using var cmd = new NpgsqlCommand("SELECT EXISTS (SELECT 1 FROM submit_commit WHERE id = @id)", conn);
                    cmd.Parameters.AddWithValue("id", batchId);
                    var committed = (bool)(await cmd.ExecuteScalarAsync())!;
                    (logger ?? NullLogger<MessageSubmitter>.Instance).LogWarning(
                        "A commit lost its connection ({Error}); it {Outcome}", failure.GetType().Name, committed ? "had committed: accepted" : "had not committed: refused with 451");
                    return committed;
                }
            }
            catch (Exception e) when (e is NpgsqlException or TimeoutException or IOException)
            {
                // Still failing over: try again until the deadline.
            }
            if (DateTime.UtcNow >= deadline) throw new InvalidOperationException("The outcome of a commit is unknown", failure);
            await Task.Delay(250);
        }
    }

    public async ValueTask DisposeAsync()
    {
        _pending.Writer.TryComplete();
        if (_committers is not null) await Task.WhenAll(_committers);
    }
}

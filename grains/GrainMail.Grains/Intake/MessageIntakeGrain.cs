using System.Buffers;
using GrainMail.Contracts.Intake;
using GrainMail.Contracts.Mailboxes;
using GrainMail.Operations.Spool;
using GrainMail.Storage.Blobs;
using GrainMail.Storage.Delivery;
using Orleans.Concurrency;

namespace GrainMail.Grains.Intake;

/// <summary>
/// The silo side of a gateway's submit: the durable commit through <see cref="MessageSubmitter"/>.
/// Reentrant: concurrent submissions must reach the group commit together. A non-reentrant worker
/// takes one call at a time per activation (one activation per core), which made every sender wait
/// for the one before it and cut SMTP throughput to a fifth.
/// </summary>
[StatelessWorker, Reentrant]
public sealed class MessageIntakeGrain(MessageSubmitter submitter, GrainMail.Grains.Trust.InboundTrust trust, GrainMail.Grains.Trust.VirusScan viruses,
    GrainMail.Grains.Forwarding.ForwardedMail forwarding, GrainMail.Grains.Governance.SubmissionGovernance governance) : Grain, IMessageIntakeGrain
{
    public Task<SubmitReceipt> Submit(SubmissionEnvelope envelope, Immutable<byte[]> content) =>
        IntakeCommit.CommitAsync(submitter, trust, viruses, forwarding, governance, GrainFactory, envelope, new MessageContent(content.Value));

    /// <summary>How long one answer may wait for a transaction still writing the key: inside the question's own call
    /// timeout (<see cref="GrainMail.Contracts.CallTimeouts.Settle"/>), with a second left for opening the connection and the
    /// answer's way back. A longer wait is not lost: the gateway asks again, and each question waits anew.</summary>
    internal static readonly TimeSpan SettleWait = GrainMail.Contracts.CallTimeouts.SettleTimeout - TimeSpan.FromSeconds(1);

    public async Task<SubmitReceipt?> Settle(Guid submitKey)
    {
        try
        {
            return await submitter.SettleAsync(submitKey, SettleWait);
        }
        catch (Exception e) when (e is Npgsql.NpgsqlException or TimeoutException or IOException)
        {
            // No primary yet (a failover), or the key still locked by a commit in flight: the gateway asks again.
            // Npgsql's exceptions do not cross to a client; this one does.
            throw new TimeoutException($"The outcome of submission {submitKey} is not known yet ({e.GetType().Name}: {e.Message})");
        }
    }
}

/// <summary>A large message arriving in chunks, spooled (encrypted, in memory up to 1 MiB, then on disk) until it is committed.</summary>
[Orleans.Placement.PreferLocalPlacement]
public sealed class MessageUploadGrain(MessageSubmitter submitter, GrainMail.Grains.Trust.InboundTrust trust, GrainMail.Grains.Trust.VirusScan viruses,
    GrainMail.Grains.Forwarding.ForwardedMail forwarding, GrainMail.Grains.Governance.SubmissionGovernance governance, IntakeOptions options) : Grain, IMessageUploadGrain
{
    private MessageSpool? _spool;

    public Task Append(Immutable<byte[]> chunk)
    {
        _spool ??= new MessageSpool(options.SpoolDirectory);
        if (_spool.Length + chunk.Value.Length > options.MaxMessageBytes)
            throw new InvalidOperationException($"An upload is limited to {options.MaxMessageBytes} bytes");
        _spool.Write(chunk.Value);
        return Task.CompletedTask;
    }

    public async Task<SubmitReceipt> Commit(SubmissionEnvelope envelope)
    {
        try
        {
            return await IntakeCommit.CommitAsync(submitter, trust, viruses, forwarding, governance, GrainFactory, envelope, new MessageContent(ReadOnlyMemory<byte>.Empty, _spool));
        }
        finally
        {
            await AbortAsync();
        }
    }

    public Task Abort() => AbortAsync();

    private async Task AbortAsync()
    {
        if (_spool is not null) await _spool.DisposeAsync();
        _spool = null;
        DeactivateOnIdle();
    }

    public override async Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken)
    {
        if (_spool is not null) await _spool.DisposeAsync();
    }
}

/// <summary>Where the silos spool uploads, and how large one may be.</summary>
public sealed class IntakeOptions
{
    public string SpoolDirectory { get; set; } = Path.Combine(Path.GetTempPath(), "grainmail-spool");

    public long MaxMessageBytes { get; set; } = 50L * 1024 * 1024;
}

internal static class IntakeCommit
{
    /// <summary>Waits for work whose result is no longer wanted, so that its failure is not an unobserved exception.</summary>
    private static async Task Observe(Task work)
    {
        try
        {
            await work;
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            System.Diagnostics.Trace.TraceInformation($"Checks of a refused message ended with {e.GetType().Name}");
        }
    }

    public static async Task<SubmitReceipt> CommitAsync(MessageSubmitter submitter, GrainMail.Grains.Trust.InboundTrust trust,
        GrainMail.Grains.Trust.VirusScan viruses, GrainMail.Grains.Forwarding.ForwardedMail forwarding,
        GrainMail.Grains.Governance.SubmissionGovernance governance, IGrainFactory grains, SubmissionEnvelope e, MessageContent content)
    {
        // The gateway's span is the parent of the commit and, through the events, of each delivery.
        using var activity = e.TraceParent is null ? null
            : GrainMail.Operations.GrainMailTracing.Source.StartActivity("grainmail.intake", System.Diagnostics.ActivityKind.Server, e.TraceParent);
        // Every store of this envelope carries the gateway's key: stored once, and answerable after a silo failure. And,
        // counted from now (the call's arrival, on this silo's clock), the time by which it must reach its commit.
        DateTimeOffset? commitBy = e.SubmitKey is not null && e.CommitWithin is { } within ? DateTimeOffset.UtcNow + within : null;
        Task<SubmitReceipt> StoreAsync(Submission s) => submitter.SubmitAsync(s with { IdempotencyKey = e.SubmitKey, CommitBy = commitBy });
        var submission = new Submission(e.Sender, e.Mailboxes, content, e.Dsn, e.RecipientDsn, e.External, e.ExternalOwner)
        {
            RequireTls = e.RequireTls,
            Lists = e.Lists ?? [],
            AuthenticatedUser = e.AuthenticatedUser,
            // Mail from the internet that an alias sends on leaves with an SRS sender of the alias's domain.
            OutboundSender = e.Inbound is not null && e.External is { Count: > 0 } && e.ExternalOwner is { } forwarder
                ? await forwarding.EnvelopeSenderAsync(e.Sender, forwarder) : null,
        };
        // MX mail with filtering and scanning on: the DNS checks (which only ask, and change nothing) run while
        // clamd scans, instead of after it; the 250 waits for the slower of the two, not for both in turn.
        Task<GrainMail.Grains.Trust.InboundChecks>? checks = e.Inbound is not null && trust.Enabled && viruses.Enabled
            ? trust.CheckAsync(grains, submission, e.Inbound) : null;
        // Viruses for MX mail and submission alike (issue 14): an infected message is refused whatever the checks say.
        if (viruses.Enabled)
        {
            using (GrainMail.Operations.GrainMailTracing.Source.StartActivity("grainmail.virus-scan"))
            {
                GrainMail.Grains.Trust.VirusOutcome scanned;
                using (GrainMail.Operations.GrainMailMeters.TimeTrust("virus_scan"))
                    scanned = await viruses.ScanAsync(grains, e, content);
                if (scanned.Refusal is not null)
                {
                    // The checks' answers are not needed; a failure among them must not go unobserved.
                    if (checks is not null) _ = Observe(checks);
                    return new SubmitReceipt(Guid.Empty, DateTimeOffset.UtcNow, 0, scanned.Refusal);
                }
                submission = submission with { Raw = scanned.Content };
            }
        }
        if (e.Inbound is null && e.AuthenticatedUser is { } account)
        {
            // An account's submission: outbound approval, monitoring copies and the sent record (issue 17).
            submission = await governance.ForSubmissionAsync(grains, submission, account);
            var sent = await StoreAsync(submission);
            if (submission.Approval is { } held)
            {
                try
                {
                    // The row is committed; the notice and the expiry reminder follow (the reminder also
                    // sends a notice a failure here left unsent).
                    await grains.GetGrain<GrainMail.Contracts.Governance.IApprovalGrain>(held.Domain).Held(held.Id);
                }
                catch (Exception ex) when (ex is not OperationCanceledException)
                {
                    System.Diagnostics.Trace.TraceWarning($"Approval notice for {held.Id} deferred to the reminder: {ex.Message}");
                }
            }
            return sent;
        }
        if (e.Inbound is null) return await StoreAsync(await governance.ForInboundAsync(grains, submission));
        // The recipient's own filter may refuse in the dialogue (Sieve ereject, RFC 5429).
        if (await GrainMail.Grains.Sieve.SieveProtocolReject.RefusalAsync(grains, e, content) is { } ereject)
            return new SubmitReceipt(Guid.Empty, DateTimeOffset.UtcNow, 0, ereject);
        // MX mail that an alias sends outside leaves ARC-sealed by the alias's domain (its local copies do not).
        if (!trust.Enabled)
        {
            // Timed as with filtering on, so that the benchmark compares the two commits (docs/benchmarks.md, session 9).
            using (GrainMail.Operations.GrainMailMeters.TimeTrust("commit"))
                return await StoreAsync(await forwarding.SealOutboundAsync(await governance.ForInboundAsync(grains, submission)));
        }

        // MX mail: checked here, on the silo, before anything is stored (the 250 waits for this).
        using (GrainMail.Operations.GrainMailTracing.Source.StartActivity("grainmail.trust"))
        {
            GrainMail.Grains.Trust.InboundChecks checked_;
            using (GrainMail.Operations.GrainMailMeters.TimeTrust("checks"))
                checked_ = await (checks ?? trust.CheckAsync(grains, submission, e.Inbound));
            GrainMail.Grains.Trust.InboundOutcome outcome;
            using (GrainMail.Operations.GrainMailMeters.TimeTrust("decide"))
                outcome = await trust.DecideAsync(grains, submission, e.Inbound, checked_);
            if (outcome.Refusal is not null)
            {
                await trust.LogAsync(outcome.Log);
                return new SubmitReceipt(Guid.Empty, DateTimeOffset.UtcNow, 0, outcome.Refusal);
            }
            // The receive log lines go into the message's own commit (the group commit): stored together or not at all.
            using (GrainMail.Operations.GrainMailMeters.TimeTrust("commit"))
                return await StoreAsync(await forwarding.SealOutboundAsync(await governance.ForInboundAsync(grains, outcome.Submission! with { ReceiveLog = outcome.Log })));
        }
    }
}

/// <summary>Message bytes for the gateways, decrypted on the silo: whole or by range.</summary>
[StatelessWorker, Reentrant]
public sealed class MessageBlobGrain(BlobStore store) : Grain, IMessageBlobGrain
{
    public async Task<Immutable<byte[]>?> Read(BlobRef blob) =>
        await store.ReadAsync(blob.Domain, blob.Hash) is { } raw ? raw.AsImmutable() : null;

    public async Task<Immutable<byte[]?[]>> ReadMany(BlobRef[] blobs) =>
        (await store.ReadManyAsync([.. blobs.Select(b => (b.Domain, b.Hash))])).AsImmutable();

    public async Task<Immutable<byte[]>?> ReadRange(BlobRef blob, long offset, int count) =>
        await store.ReadRangeAsync(blob.Domain, blob.Hash, offset, count) is { } raw ? raw.AsImmutable() : null;
}

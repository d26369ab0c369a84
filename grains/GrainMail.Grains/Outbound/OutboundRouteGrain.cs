using GrainMail.Contracts;
using GrainMail.Contracts.Delivery;
using GrainMail.Contracts.Outbound;
using GrainMail.Storage.Blobs;
using GrainMail.Storage.Delivery;
using GrainMail.Storage.Outbound;
using Microsoft.Extensions.Logging;
using Orleans.Streams;
using Orleans.Streams.Core;

using GrainMail.Outbound;

namespace GrainMail.Grains.Outbound;

/// <summary>
/// The outbound route of one destination domain. Takes its stream events into a durable queue
/// (the stream row is consumed in the same transaction), delivers what is due, and keeps
/// deferred messages for later: a grain timer for the next attempt while active, and a reminder
/// that brings the route back after a silo restart while anything is queued. A message leaves the
/// queue when every recipient is delivered or has bounced (a DSN to the sender's INBOX).
/// </summary>
[ImplicitStreamSubscription(DeliveryStreams.Outbound)]
[GrainMail.Grains.Regions.EgressRegionPlacement]
public sealed class OutboundRouteGrain(
    OutboundStore store,
    OutboundSender sender,
    MailDns dns,
    OutboundOptions options,
    BlobStore blobs,
    GrainMail.Grains.Delivery.DeliveryReports reports,
    DkimKeyStore dkim,
    MtaStsPolicies mtaSts,
    CertificateTrust trust,
    TimeProvider clock,
    ILogger<OutboundRouteGrain> logger,
    GrainMail.Grains.Regions.EgressRegions egress,
    GrainMail.Grains.Regions.HomeRegionKeeper keeper)
    : Grain, IOutboundRouteGrain, IStreamSubscriptionObserver, IAsyncObserver<OutboundEvent>, IRemindable
{
    private const string WakeUp = "outbound-retry";
    private IGrainTimer? _timer;
    private bool _delivering;
    private bool _reminderSet;
    private readonly LinkSelector _selector = new(options.Links, options.ProbeAfter);
    private readonly DestinationRules _rules = new(options.DomesticSuffixes, options.DomesticMxRanges);
    private bool? _domestic;

    private string Destination => this.GetPrimaryKeyString();

    public override Task OnActivateAsync(CancellationToken cancellationToken)
    {
        // Whatever was queued before this activation is looked at right away.
        Schedule(TimeSpan.Zero);
        // Placed away from its egress region (that region was dark): go back once it is not.
        GrainMail.Grains.Regions.HomeRegionKeeper.MoveWhen(this, egress.ShouldMove);
        return Task.CompletedTask;
    }

    public Task<GrainMail.Contracts.Regions.GrainLocation> Locate() => Task.FromResult(keeper.Here());

    public Task Resume()
    {
        Schedule(TimeSpan.Zero);
        return Task.CompletedTask;
    }

    public async Task<IReadOnlyList<QueuedOutbound>> GetQueue() =>
        (await store.LoadAsync(Destination)).Select(r => r.ToContract()).ToList();

    public async Task OnSubscribed(IStreamSubscriptionHandleFactory handleFactory) =>
        await handleFactory.Create<OutboundEvent>().ResumeAsync(this);

    public async Task OnNextAsync(OutboundEvent item, StreamSequenceToken? token = null)
    {
        await store.AcceptAsync(item);
        // The durable wake-up exists before the first attempt: if this silo dies in the middle of
        // it, the route comes back (on another silo) and the message is tried again.
        if (!_reminderSet)
        {
            await this.RegisterOrUpdateReminder(WakeUp, TimeSpan.FromMinutes(1), TimeSpan.FromMinutes(1));
            _reminderSet = true;
        }
        Schedule(TimeSpan.Zero);
    }

    public Task OnErrorAsync(Exception ex)
    {
        logger.LogWarning(ex, "Outbound stream error for {Destination}", Destination);
        return Task.CompletedTask;
    }

    public Task ReceiveReminder(string reminderName, TickStatus status)
    {
        Schedule(TimeSpan.Zero);
        return Task.CompletedTask;
    }

    private void Schedule(TimeSpan due)
    {
        _timer?.Dispose();
        _timer = this.RegisterGrainTimer(DeliverDueAsync, new GrainTimerCreationOptions(due, Timeout.InfiniteTimeSpan) { Interleave = false });
    }

    private async Task DeliverDueAsync(CancellationToken ct)
    {
        if (_delivering) return;
        _delivering = true;
        try
        {
            var queue = await store.LoadAsync(Destination, ct);
            var now = clock.GetUtcNow();
            await using var connections = new OutboundConnections();
            var due = queue.Where(r => r.NextAttempt <= now).ToList();
            var delivered = false;
            foreach (var row in due) delivered |= await DeliverAsync(row, connections, ct);
            if (delivered)
            {
                // The destination answers again: what waits for it goes now, on the open connection,
                // instead of each message at its own next retry.
                foreach (var row in queue.Where(r => r.NextAttempt > now)) await DeliverAsync(row, connections, ct);
            }
            var left = await store.LoadAsync(Destination, ct);
            if (left.Count == 0)
            {
                if (await this.GetReminder(WakeUp) is { } reminder) await this.UnregisterReminder(reminder);
                _reminderSet = false;
                return;
            }
            // A durable wake-up (reminders fire at most once a minute) plus the exact one while active.
            if (!_reminderSet)
            {
                await this.RegisterOrUpdateReminder(WakeUp, TimeSpan.FromMinutes(1), TimeSpan.FromMinutes(1));
                _reminderSet = true;
            }
            var next = left.Min(r => r.NextAttempt) - clock.GetUtcNow();
            Schedule(next < TimeSpan.Zero ? TimeSpan.Zero : next);
        }
        finally
        {
            _delivering = false;
        }
    }

    /// <summary>One attempt for one queued message; true when at least one recipient got it.</summary>
    private async Task<bool> DeliverAsync(OutboundRow row, OutboundConnections connections, CancellationToken ct)
    {
        var raw = await blobs.ReadAsync(row.BlobDomain, row.BlobHash, ct);
        if (raw is null)
        {
            logger.LogError("Outbound {Id} to {Destination}: message content missing, dropped", row.Id, Destination);
            await store.CompleteAsync(row, ct);
            return false;
        }
        // Signed as the hosted domain the message leaves for (RSA and Ed25519).
        var signers = await dkim.SignersAsync(row.BlobDomain, ct);
        var results = await SendOverLinksAsync(row, raw, signers, connections, ct);
        var now = clock.GetUtcNow();

        var deferred = results.Where(r => r.Outcome == RecipientOutcome.Deferred).ToList();
        var expired = now - row.ReceivedAt >= options.GiveUpAfter;
        var bounced = results.Where(r => r.Outcome == RecipientOutcome.Failed).Concat(expired ? deferred : []).ToList();
        var anyDelivered = results.Any(r => r.Outcome == RecipientOutcome.Delivered);
        // One report per attempt: the recipients that failed for good, and those relayed whose NOTIFY asks for success.
        var final = bounced.Concat(results.Where(r => r.Outcome == RecipientOutcome.Delivered)).ToList();
        if (final.Count > 0) await ReportAsync(row, final, raw);
        if (deferred.Count == 0 || expired)
        {
            await store.CompleteAsync(row, ct);
            return anyDelivered;
        }
        await store.DeferAsync(row, deferred.Select(d => d.Recipient).ToList(), now + options.Retry(row.Attempts + 1),
            deferred[0].Reply, ct);
        if (!row.DelayNotified && now - row.ReceivedAt >= options.DelayNoticeAfter)
        {
            // Once per message: the sender learns it is late, and that nothing needs doing yet.
            await ReportAsync(row, deferred, raw, delayed: true);
            await store.MarkDelayNotifiedAsync(row.Id, ct);
        }
        return anyDelivered;
    }

    /// <summary>
    /// Tries the links in the selector's order until one reaches a server (the destination's MX,
    /// or a relay); every try is logged, taught to this route's estimates and reported to the
    /// link's shared health.
    /// </summary>
    private async Task<IReadOnlyList<RecipientResult>> SendOverLinksAsync(OutboundRow row, byte[] raw,
        IReadOnlyList<MimeKit.Cryptography.DkimSigner> signers, OutboundConnections connections, CancellationToken ct)
    {
        // Shared health is about relays: a direct link failing towards one destination says
        // nothing about the next destination, so each route judges direct for itself.
        var relays = options.Links.Where(l => l.Kind == LinkKind.Relay).ToList();
        var health = await Task.WhenAll(relays.Select(l => GrainFactory.GetGrain<ILinkHealthGrain>(l.Name).GetHealth()));
        var down = relays.Select((l, i) => (l.Name, health[i].Down)).ToDictionary(x => x.Name, x => x.Down);
        var order = egress.UsableHere(_selector.Order(await IsDomesticAsync(ct), name => down.GetValueOrDefault(name), clock.GetUtcNow()));
        IReadOnlyList<RecipientResult> results = [];
        // MTA-STS governs direct delivery to the destination (a relay is our smarthost, not the destination's MX).
        var policy = order.Any(l => l.Kind == LinkKind.Direct) ? await mtaSts.GetAsync(Destination, ct) : null;
        foreach (var link in order)
        {
            var started = clock.GetTimestamp();
            results = link.Kind == LinkKind.Direct
                ? await sender.SendAsync(Destination, row.Sender, row.Recipients, raw, ct, signers, row.RequireTls ? null : connections, policy, trust, row.RequireTls)
                : await sender.SendViaRelayAsync(link, row.Sender, row.Recipients, raw, ct, signers, row.RequireTls ? null : connections, trust, row.RequireTls);
            var seconds = clock.GetElapsedTime(started).TotalSeconds;
            var now = clock.GetUtcNow();
            // Reaching a server is the link's success, whatever that server then answers.
            var reached = results.Any(r => r.RemoteHost is not null || r.Outcome != RecipientOutcome.Deferred);
            _selector.Estimates[link.Name].Record(reached, seconds, now);
            if (link.Kind == LinkKind.Relay) await GrainFactory.GetGrain<ILinkHealthGrain>(link.Name).Report(reached, seconds);
            foreach (var r in results)
            {
                logger.LogInformation("Outbound {Id} to {Recipient} via {Link}: {Outcome} ({Remote}): {Reply}", row.Id, r.Recipient, link.Name,
                    r.Outcome, r.RemoteHost ?? "-", r.Reply);
                GrainMail.Operations.GrainMailMeters.OutboundAttempts.Add(1, new KeyValuePair<string, object?>("link", link.Name),
                    new KeyValuePair<string, object?>("outcome", r.Outcome.ToString().ToLowerInvariant()));
            }
            await store.LogAttemptsAsync(row, results.Select(r => new AttemptLog(r.Recipient, now, link.Name, r.RemoteHost,
                r.Outcome.ToString().ToLowerInvariant(), r.Reply)).ToList(), ct);
            if (reached) break;
        }
        return results;
    }

    /// <summary>Domestic by name, or by where its MX hosts are (decided once per activation).</summary>
    private async Task<bool> IsDomesticAsync(CancellationToken ct)
    {
        if (_domestic is { } known) return known;
        var domestic = _rules.IsDomestic(Destination);
        if (!domestic && _rules.HasRanges)
        {
            try
            {
                var (hosts, _) = await dns.MailHostsAsync(Destination, ct);
                foreach (var host in hosts ?? [])
                {
                    if (_rules.InDomesticRange(await dns.AddressesAsync(host, ct)))
                    {
                        domestic = true;
                        break;
                    }
                }
            }
            catch (Exception e) when (e is DnsClient.DnsResponseException or System.Net.Sockets.SocketException or TimeoutException)
            {
                // Unknown for now: treated by name, asked again next time.
                return domestic;
            }
        }
        _domestic = domestic;
        return domestic;
    }

    /// <summary>The sender hears of failures, delays and (when asked by NOTIFY=SUCCESS) relays; <see cref="DeliveryReports"/> decides per recipient.</summary>
    private async Task ReportAsync(OutboundRow row, IReadOnlyList<RecipientResult> results, byte[] raw, bool delayed = false)
    {
        if (!await reports.SendAsync(GrainFactory, row.Sender, row.Dsn, results, raw, row.ReceivedAt, row.BlobDomain, delayed, relayed: true))
            logger.LogInformation("Outbound {Id}: {Count} results not reported to {Sender} (null sender or NOTIFY)", row.Id, results.Count, row.Sender);
    }
}

using GrainMail.Contracts.Delivery;
using GrainMail.Dns;
using GrainMail.Contracts.Outbound;
using GrainMail.Operations;
using GrainMail.Storage.Blobs;
using GrainMail.Storage.Outbound;
using Microsoft.Extensions.Logging;
using MimeKit.Cryptography;

namespace GrainMail.Outbound.Routes;

/// <summary>
/// What a route needs from the cluster around it; the route grain answers with grain calls
/// (link health, region placement, reports to senders).
/// </summary>
public interface IRouteCluster
{
    /// <summary>Of <paramref name="relays"/>, those the shared health (fed by every route) marks down.</summary>
    Task<IReadOnlySet<string>> DownRelaysAsync(IReadOnlyList<EgressLink> relays);

    /// <summary>One try over a relay, for its shared health.</summary>
    Task ReportRelayAsync(EgressLink relay, bool reached, double seconds);

    /// <summary>The links of <paramref name="order"/> this silo may use (a direct link only in its own region).</summary>
    IReadOnlyList<EgressLink> UsableHere(IReadOnlyList<EgressLink> order);

    /// <summary>Tells the sender of failures, delays and relays (RFC 3464); false when nothing was sent (null sender, NOTIFY).</summary>
    Task<bool> ReportToSenderAsync(OutboundRow row, IReadOnlyList<RecipientResult> results, byte[] raw, bool delayed);
}

/// <summary>What one attempt at a queued message comes to, per <see cref="RouteDelivery.Judge"/>.</summary>
/// <param name="Report">Recipients the sender hears about now: failed for good (given up included) and delivered (relayed).</param>
/// <param name="Deferred">Recipients that stay queued.</param>
/// <param name="Done">The message leaves the queue.</param>
/// <param name="NextAttempt">When the deferred recipients are tried again (when not done).</param>
/// <param name="DelayNotice">The sender gets its one "delayed" report now.</param>
/// <param name="AnyDelivered">At least one recipient got the message: the destination answers again.</param>
public sealed record AttemptVerdict(
    IReadOnlyList<RecipientResult> Report,
    IReadOnlyList<RecipientResult> Deferred,
    bool Done,
    DateTimeOffset? NextAttempt,
    bool DelayNotice,
    bool AnyDelivered);

/// <summary>
/// The delivery work of one destination's route: what is due, over which links, and what each
/// outcome means for the queue and the sender. Domestic destinations (by name, or by where
/// their MX hosts are) use direct links only; overseas ones walk the <see cref="LinkSelector"/>'s
/// order until a link reaches a server. Deferred recipients follow the retry schedule, get one
/// "delayed" report, and bounce after <see cref="OutboundOptions.GiveUpAfter"/>. The route grain
/// holds the timers and reminders and calls <see cref="DeliverDueAsync"/>; this class keeps what
/// the route learns about its links for as long as the grain's activation lives.
/// </summary>
public sealed class RouteDelivery(
    string destination,
    IRouteCluster cluster,
    OutboundStore store,
    OutboundSender sender,
    MailDns dns,
    OutboundOptions options,
    BlobStore blobs,
    DkimKeyStore dkim,
    MtaStsPolicies mtaSts,
    CertificateTrust trust,
    TimeProvider clock,
    ILogger logger)
{
    private readonly LinkSelector _selector = new(options.Links, options.ProbeAfter);
    private readonly DestinationRules _rules = new(options.DomesticSuffixes, options.DomesticMxRanges);
    private bool? _domestic;

    public string Destination => destination;

    /// <summary>Takes a stream event into the durable queue; a redelivered event changes nothing.</summary>
    public Task AcceptAsync(OutboundEvent item, CancellationToken ct = default) => store.AcceptAsync(item, ct);

    public async Task<IReadOnlyList<QueuedOutbound>> QueueAsync(CancellationToken ct = default) =>
        (await store.LoadAsync(destination, ct)).Select(r => r.ToContract()).ToList();

    /// <summary>
    /// One attempt for every message that is due (and, when one gets through, for those that
    /// wait too); the earliest next attempt of what is left, or null when the queue is empty.
    /// </summary>
    public async Task<DateTimeOffset?> DeliverDueAsync(CancellationToken ct)
    {
        var queue = await store.LoadAsync(destination, ct);
        var now = clock.GetUtcNow();
        await using var connections = new OutboundConnections();
        var delivered = false;
        foreach (var row in queue.Where(r => r.NextAttempt <= now)) delivered |= await DeliverAsync(row, connections, ct);
        if (delivered)
        {
            // The destination answers again: what waits for it goes now, on the open connection,
            // instead of each message at its own next retry.
            foreach (var row in queue.Where(r => r.NextAttempt > now)) await DeliverAsync(row, connections, ct);
        }
        var left = await store.LoadAsync(destination, ct);
        return left.Count == 0 ? null : left.Min(r => r.NextAttempt);
    }

    /// <summary>
    /// The decision after one attempt at a message (pure): who is reported, who stays, when the
    /// next attempt is, and whether the sender now hears that the message is late.
    /// </summary>
    public static AttemptVerdict Judge(IReadOnlyList<RecipientResult> results, DateTimeOffset receivedAt, int attempts, bool delayNotified,
        DateTimeOffset now, OutboundOptions options)
    {
        var deferred = results.Where(r => r.Outcome == RecipientOutcome.Deferred).ToList();
        var expired = now - receivedAt >= options.GiveUpAfter;
        var bounced = results.Where(r => r.Outcome == RecipientOutcome.Failed).Concat(expired ? deferred : []);
        var delivered = results.Where(r => r.Outcome == RecipientOutcome.Delivered).ToList();
        // One report per attempt: the recipients that failed for good, and those relayed (the
        // reports decide by NOTIFY whether a relay is told).
        var report = bounced.Concat(delivered).ToList();
        var done = deferred.Count == 0 || expired;
        return new AttemptVerdict(
            report,
            done ? [] : deferred,
            done,
            done ? null : now + options.Retry(attempts + 1),
            !done && !delayNotified && now - receivedAt >= options.DelayNoticeAfter,
            delivered.Count > 0);
    }

    /// <summary>A link succeeded when it reached a server, whatever that server then answered.</summary>
    public static bool Reached(IReadOnlyList<RecipientResult> results) =>
        results.Any(r => r.RemoteHost is not null || r.Outcome != RecipientOutcome.Deferred);

    /// <summary>One attempt for one queued message; true when at least one recipient got it.</summary>
    private async Task<bool> DeliverAsync(OutboundRow row, OutboundConnections connections, CancellationToken ct)
    {
        var raw = await blobs.ReadAsync(row.BlobDomain, row.BlobHash, ct);
        if (raw is null)
        {
            logger.LogError("Outbound {Id} to {Destination}: message content missing, dropped", row.Id, destination);
            await store.CompleteAsync(row, ct);
            return false;
        }
        // Signed as the hosted domain the message leaves for (RSA and Ed25519), and as its domain alias when From: is in it.
        var signers = await dkim.SignersForAsync(row.BlobDomain, raw, ct);
        var results = await SendOverLinksAsync(row, raw, signers, connections, ct);
        var verdict = Judge(results, row.ReceivedAt, row.Attempts, row.DelayNotified, clock.GetUtcNow(), options);

        if (verdict.Report.Count > 0) await ReportAsync(row, verdict.Report, raw, delayed: false);
        if (verdict.Done)
        {
            await store.CompleteAsync(row, ct);
            return verdict.AnyDelivered;
        }
        await store.DeferAsync(row, verdict.Deferred.Select(d => d.Recipient).ToList(), verdict.NextAttempt!.Value, verdict.Deferred[0].Reply, ct);
        if (verdict.DelayNotice)
        {
            // Once per message: the sender learns it is late, and that nothing needs doing yet.
            await ReportAsync(row, verdict.Deferred, raw, delayed: true);
            await store.MarkDelayNotifiedAsync(row.Id, ct);
        }
        return verdict.AnyDelivered;
    }

    /// <summary>
    /// Tries the links in the selector's order until one reaches a server (the destination's MX,
    /// or a relay); every try is logged, taught to this route's estimates and reported to the
    /// link's shared health.
    /// </summary>
    private async Task<IReadOnlyList<RecipientResult>> SendOverLinksAsync(OutboundRow row, byte[] raw,
        IReadOnlyList<DkimSigner> signers, OutboundConnections connections, CancellationToken ct)
    {
        // Shared health is about relays: a direct link failing towards one destination says
        // nothing about the next destination, so each route judges direct for itself.
        var down = await cluster.DownRelaysAsync(options.Links.Where(l => l.Kind == LinkKind.Relay).ToList());
        var order = cluster.UsableHere(_selector.Order(await IsDomesticAsync(ct), down.Contains, clock.GetUtcNow()));
        IReadOnlyList<RecipientResult> results = [];
        var dsn = DsnRequest.Parse(row.Dsn);
        // MTA-STS governs direct delivery to the destination (a relay is our smarthost, not the destination's MX).
        var policy = order.Any(l => l.Kind == LinkKind.Direct) ? await mtaSts.GetAsync(destination, ct) : null;
        foreach (var link in order)
        {
            var started = clock.GetTimestamp();
            results = link.Kind == LinkKind.Direct
                ? await sender.SendAsync(destination, row.Sender, row.Recipients, raw, ct, signers, row.RequireTls ? null : connections, policy, trust,
                    row.RequireTls, dsn)
                : await sender.SendViaRelayAsync(link, row.Sender, row.Recipients, raw, ct, signers, row.RequireTls ? null : connections, trust,
                    row.RequireTls, dsn);
            var seconds = clock.GetElapsedTime(started).TotalSeconds;
            var now = clock.GetUtcNow();
            var reached = Reached(results);
            _selector.Estimates[link.Name].Record(reached, seconds, now);
            if (link.Kind == LinkKind.Relay) await cluster.ReportRelayAsync(link, reached, seconds);
            foreach (var r in results)
            {
                logger.LogInformation("Outbound {Id} to {Recipient} via {Link}: {Outcome} ({Remote}): {Reply}", row.Id, r.Recipient, link.Name,
                    r.Outcome, r.RemoteHost ?? "-", r.Reply);
                GrainMailMeters.OutboundAttempts.Add(1, new KeyValuePair<string, object?>("link", link.Name),
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
        var domestic = _rules.IsDomestic(destination);
        if (!domestic && _rules.HasRanges)
        {
            try
            {
                var (hosts, _) = await dns.MailHostsAsync(destination, ct);
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

    /// <summary>The sender hears of failures, delays and (when asked by NOTIFY=SUCCESS) relays; the reports decide per recipient.</summary>
    private async Task ReportAsync(OutboundRow row, IReadOnlyList<RecipientResult> results, byte[] raw, bool delayed)
    {
        if (!await cluster.ReportToSenderAsync(row, results, raw, delayed))
            logger.LogInformation("Outbound {Id}: {Count} results not reported to {Sender} (null sender or NOTIFY)", row.Id, results.Count, row.Sender);
    }
}

/// <summary>Makes a route's <see cref="RouteDelivery"/> with the outbound sender's services (one per route activation).</summary>
public sealed class RouteDeliveries(
    OutboundStore store,
    OutboundSender sender,
    MailDns dns,
    OutboundOptions options,
    BlobStore blobs,
    DkimKeyStore dkim,
    MtaStsPolicies mtaSts,
    CertificateTrust trust,
    TimeProvider clock,
    ILoggerFactory loggers)
{
    public RouteDelivery For(string destination, IRouteCluster cluster) =>
        new(destination, cluster, store, sender, dns, options, blobs, dkim, mtaSts, trust, clock, loggers.CreateLogger<RouteDelivery>());
}

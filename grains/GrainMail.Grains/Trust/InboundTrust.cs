using GrainMail.Contracts;
using GrainMail.Contracts.Intake;
using GrainMail.Contracts.Trust;
using GrainMail.Dns;
using GrainMail.Operations.Spool;
using GrainMail.Storage.Delivery;
using GrainMail.Storage.Trust;
using GrainMail.Trust.Content;
using GrainMail.Trust.Dmarc;
using GrainMail.Trust.Dns;
using GrainMail.Trust.Inbound;
using GrainMail.Trust.Results;
using GrainMail.Trust.Scoring;
using Microsoft.Extensions.Logging;
using MimeKit;

namespace GrainMail.Grains.Trust;

/// <summary>What the inbound checks make of an MX message: a refusal (the SMTP reply; nothing is stored),
/// or the submission to commit — the message with our Authentication-Results and X-Spam-Status in front
/// and forged results removed, Junk and quarantine per mailbox — and the receive log lines.</summary>
public sealed record InboundOutcome(string? Refusal, Submission? Submission, IReadOnlyList<ReceiveLogEntry> Log);

/// <summary>
/// The inbound trust step of the MX path, run on the silo inside the intake call, after the data is
/// streamed and before the 250 (docs/architecture.md): the checks (<see cref="InboundChecker"/>), each
/// recipient domain's policy (<see cref="ISpamPolicyGrain"/>, through this silo's <see cref="SpamPolicyView"/>) and its decision (<see cref="SpamScorer"/>).
/// </summary>
public sealed class InboundTrust
{
    private readonly InboundChecker _checker;
    private readonly TrustOptions _options;
    private readonly DnsOptions _dns;
    private readonly ReceiveLogStore _log;
    private readonly ContentTrust _content;
    private readonly OriginStamp _origin;
    private readonly ReputationView _reputation;
    private readonly SpamPolicyView _policies;
    private readonly ILogger<InboundTrust> _logger;

    public InboundTrust(MailDns dns, TrustOptions options, DnsOptions dnsOptions, TimeProvider clock, ReceiveLogStore log, ContentTrust content,
        OriginStamp origin, ReputationView reputation, SpamPolicyView policies, ILogger<InboundTrust> logger)
    {
        _policies = policies;
        _reputation = reputation;
        _content = content;
        _origin = origin;
        _options = options;
        _dns = dnsOptions;
        _log = log;
        _logger = logger;
        _checker = new InboundChecker(new MailDnsTrustResolver(dns), LoadSuffixes(options.PublicSuffixList, logger), options, clock, AuthServId);
    }

    public bool Enabled => _options.Enabled;

    private string AuthServId => _options.AuthServId ?? Environment.MachineName.ToLowerInvariant();

    /// <summary>The checks and the decision in one (<see cref="CheckAsync"/> then <see cref="DecideAsync"/>).</summary>
    public async Task<InboundOutcome> EvaluateAsync(IGrainFactory grains, Submission submission, InboundEvidence evidence, CancellationToken ct = default) =>
        await DecideAsync(grains, submission, evidence, await CheckAsync(grains, submission, evidence, ct), ct);

    /// <summary>
    /// The part of the evaluation that only asks: the message parsed, every recipient domain's policy, and the
    /// SPF, DKIM, DMARC, ARC and blocklist answers. It changes nothing (no reputation is recorded), so it can run
    /// while the virus scan runs and be dropped if the scan refuses the message.
    /// </summary>
    public async Task<InboundChecks> CheckAsync(IGrainFactory grains, Submission submission, InboundEvidence evidence, CancellationToken ct = default)
    {
        // The bytes the intake holds (an immutable call argument) are read as they are, without a copy; spooled content is read whole.
        var raw = submission.Raw.TryGetWholeArray(out var whole) ? whole : await submission.Raw.ToArrayAsync(ct);
        // The bytes are in memory: the synchronous parser gives the same tree without an async state machine per read
        // (and with this thread's parser, not a new one per message).
        var message = MessageParser.Parse(raw, ct);
        // Every text part decoded once, for the linked domains here and GTUBE and the tokenizer in the content step.
        var decoded = DecodedTexts.Of(message);

        // One policy per recipient domain (and the forwarding domain's for mail that leaves again).
        var domains = submission.Mailboxes.Select(MailAddress.DomainOf)
            .Concat(submission.External is { Count: > 0 } && submission.ExternalOwner is { } owner ? [owner] : [])
            .Distinct(StringComparer.Ordinal).ToList();
        var policies = new Dictionary<string, SpamPolicy>(StringComparer.Ordinal);
        foreach (var d in domains) policies[d] = await _policies.GetAsync(grains, d);
        var node = NodeZones();
        var (ipZones, uriZones) = Zones(policies);

        var report = await _checker.CheckAsync(evidence, submission.Sender, message, ipZones, uriZones, Random.Shared.Next(100), decoded.Texts, ct);
        return new InboundChecks(submission.Raw, raw, message, policies, node, report) { Texts = decoded };
    }

    /// <summary>Reputation, content and lists, the decision per mailbox, and the headers of the accepted copy.
    /// <paramref name="submission"/> may carry other bytes than the checks read (the virus scan's status header
    /// in front); the accepted copy is made of the submission's.</summary>
    public async Task<InboundOutcome> DecideAsync(IGrainFactory grains, Submission submission, InboundEvidence evidence, InboundChecks checks, CancellationToken ct = default)
    {
        var raw = ReferenceEquals(submission.Raw, checks.Content) ? checks.Raw
            : submission.Raw.TryGetWholeArray(out var whole) ? whole : await submission.Raw.ToArrayAsync(ct);
        var (message, policies, node, report) = (checks.Message, checks.Policies, checks.Node, checks.Report);
        // Reputation of the sending network and, when DMARC authenticated it, of the From domain.
        var reputations = ReputationKeys(evidence, report);
        var history = new List<Symbol>();
        using (GrainMail.Operations.GrainMailMeters.TimeTrust("reputation"))
        {
            foreach (var (symbolPrefix, key) in reputations)
            {
                if (GrainMail.Trust.Scoring.Reputation.Symbol(symbolPrefix, await _reputation.GetAsync(grains, key)) is { } symbol) history.Add(symbol);
            }
        }
        if (history.Count > 0) report = report with { Symbols = [.. report.Symbols, .. history] };
        // Content, GTUBE and allow/block lists differ per recipient mailbox (each has its own model and lists).
        var contentSymbols = await ContentSymbolsAsync(message, checks.Texts, submission, report, ct);
        // A mailbox without content symbols is judged on the report as it is (not a copy of it with nothing added).
        // In the recipients' order, each mailbox once (loops rather than LINQ here and below: every MX message runs them).
        var perMailbox = new Dictionary<string, TrustDecision>(submission.Mailboxes.Count, StringComparer.Ordinal);
        foreach (var m in submission.Mailboxes)
        {
            if (perMailbox.ContainsKey(m)) continue;
            perMailbox[m] = SpamScorer.Decide(
                contentSymbols.GetValueOrDefault(m) is { Count: > 0 } extra ? report with { Symbols = [.. report.Symbols, .. extra] } : report,
                policies[MailAddress.DomainOf(m)], node);
        }
        // Domains without a recipient mailbox here (the forwarding domain of mail that leaves again) are judged on the
        // checks alone; the recipients' domains are judged per mailbox above.
        var all = new List<TrustDecision>(policies.Count + perMailbox.Count);
        if (policies.Count > 1 || submission.External is { Count: > 0 })
        {
            var recipientDomains = submission.Mailboxes.Select(MailAddress.DomainOf).ToHashSet(StringComparer.Ordinal);
            foreach (var (domain, policy) in policies)
                if (!recipientDomains.Contains(domain)) all.Add(SpamScorer.Decide(report, policy, node));
        }
        else
        {
            // One policy and no mail leaving again: it is the recipients' domain (judged per mailbox above).
            foreach (var (domain, policy) in policies)
                if (!AnyIn(submission.Mailboxes, domain)) all.Add(SpamScorer.Decide(report, policy, node));
        }
        all.AddRange(perMailbox.Values);
        var authResults = AuthenticationResults.Format(AuthServId, report.Verdicts);
        var now = DateTimeOffset.UtcNow;
        // One line per recipient (a repeated one twice, as before), with the decision given to all or each mailbox's own.
        List<ReceiveLogEntry> Log(TrustDecision? forAll)
        {
            var lines = new List<ReceiveLogEntry>(submission.Mailboxes.Count);
            foreach (var m in submission.Mailboxes)
            {
                var d = forAll ?? perMailbox[m];
                lines.Add(new ReceiveLogEntry(now, m, submission.Sender, evidence.ClientIp, report.FromDomain, SpamScorer.ActionName(d.Action),
                    d.Score, SpamScorer.SymbolList(d), authResults));
            }
            return lines;
        }

        var judgedSpam = false;
        TrustDecision? reject = null, tempFail = null, shown = null;
        foreach (var d in all)
        {
            judgedSpam |= d.Action != TrustAction.Deliver;
            if (d.Action == TrustAction.Reject) reject ??= d;
            if (d.Action == TrustAction.TempFail) tempFail ??= d;
            // The strictest action, then the highest score; the first of equals (as a stable sort would give).
            if (shown is null || d.Action > shown.Action || (d.Action == shown.Action && d.Score.CompareTo(shown.Score) > 0)) shown = d;
        }
        foreach (var (_, key) in reputations) _reputation.Record(grains, key, judgedSpam);

        // One reply for the whole transaction: a refusal for any recipient refuses the message
        // (after DATA there is one answer, RFC 5321 4.2.5); a permanent one before a temporary one.
        var refusal = reject ?? tempFail;
        if (refusal is not null)
        {
            _logger.LogInformation("Inbound message from {Ip} <{Sender}> refused: {Reply} ({Symbols})", evidence.ClientIp, submission.Sender, refusal.Reply, SpamScorer.SymbolList(refusal));
            return new InboundOutcome(refusal.Reply, null, Log(refusal));
        }

        // The keys this message was counted under, so that a user's Junk verdict can correct them later (ContentLearnerGrain).
        string? netKey = null, domainKey = null;
        foreach (var (symbolPrefix, key) in reputations)
        {
            if (symbolPrefix == "REP_NET") netKey ??= key;
            else if (symbolPrefix == "REP_DOMAIN") domainKey ??= key;
        }
        var origin = new MessageOrigin(netKey, domainKey, judgedSpam, MessageOrigin.NewId());
        var prefix = string.Concat(AuthenticationResults.HeaderName + ": ", authResults, "\r\nX-Spam-Status: ", SpamScorer.StatusHeader(shown!) + "\r\n" + _origin.Header(origin));
        var content = ForgedResults.Rewrite(raw, prefix, ForgedResults.Find(raw, AuthServId));
        // Each recipient's copy goes to its Junk, is held, or is delivered (Junk included); one decision per mailbox, so a
        // repeated recipient goes the same way each time.
        var junk = new HashSet<string>(StringComparer.Ordinal);
        var held = new List<HeldCopy>();
        var delivered = new List<string>(submission.Mailboxes.Count);
        foreach (var m in submission.Mailboxes)
        {
            var d = perMailbox[m];
            if (d.Action == TrustAction.Quarantine)
            {
                held.Add(new HeldCopy(m, d.Score, SpamScorer.SymbolList(d)));
                continue;
            }
            if (d.Action == TrustAction.Junk) junk.Add(m);
            delivered.Add(m);
        }
        // The domains holding mail get their digest reminder (idempotent, one-way: the 250 does not wait).
        if (held.Count > 0)
        {
            foreach (var domain in held.Select(h => MailAddress.DomainOf(h.Mailbox)).Distinct(StringComparer.Ordinal))
                _ = grains.GetGrain<IQuarantineDigestGrain>(domain).Ensure();
        }
        var accepted = submission with
        {
            Raw = new MessageContent(content),
            Mailboxes = delivered,
            JunkMailboxes = junk,
            Held = held,
        };
        return new InboundOutcome(null, accepted, Log(null));
    }

    private static bool AnyIn(IReadOnlyList<string> mailboxes, string domain)
    {
        foreach (var m in mailboxes)
            if (MailAddress.DomainOf(m) == domain) return true;
        return false;
    }

    /// <summary>The content step (<see cref="ContentTrust"/>); a database failure leaves it out (logged) rather than refusing mail.</summary>
    private async ValueTask<Dictionary<string, List<Symbol>>> ContentSymbolsAsync(MimeMessage message, DecodedTexts? texts, Submission submission,
        InboundReport report, CancellationToken ct)
    {
        try
        {
            using var timer = GrainMail.Operations.GrainMailMeters.TimeTrust("content");
            var (symbols, elapsed) = await _content.EvaluateAsync(message, submission.Sender, report.Verdicts, submission.Mailboxes, texts, ct);
            // Guarded: the call boxes its arguments and allocates their array even when Debug is off (every MX message).
            if (_logger.IsEnabled(LogLevel.Debug))
                _logger.LogDebug("Content step for {Count} mailbox(es) took {Elapsed} ms", submission.Mailboxes.Count, elapsed.TotalMilliseconds);
            return symbols;
        }
        catch (Exception e) when (e is Npgsql.NpgsqlException or TimeoutException)
        {
            _logger.LogWarning(e, "Content classifier and sender lists unavailable; message scored without them");
            return [];
        }
    }

    // The node's blocklists (GRAINMAIL_DNSBL), parsed once per value of the setting rather than once per message.
    // (A reference swapped whole, so a concurrent message never sees one setting's text with another's zones.)
    private NodeBlocklists? _node;

    /// <param name="Distinct">The zones without repeats (a zone once, case-blind): the IP zones of a message whose
    /// recipients' policies add none.</param>
    private sealed record NodeBlocklists(string? Source, List<SpamZone> Zones, List<SpamZone> Distinct);

    private NodeBlocklists Node()
    {
        var source = _dns.Blocklists;
        if (_node is { } cached && ReferenceEquals(cached.Source, source)) return cached;
        var zones = _dns.BlocklistZones.Select(z => new SpamZone(z.Zone, z.Weight)).ToList();
        var node = new NodeBlocklists(source, zones, zones.DistinctBy(z => z.Zone.ToLowerInvariant()).ToList());
        _node = node;
        return node;
    }

    private List<SpamZone> NodeZones() => Node().Zones;

    private static readonly List<SpamZone> NoZones = [];

    /// <summary>The blocklists to ask for a message: the node's and its recipient domains' for the IP, the domains' for
    /// linked names; each zone once. Most policies add none, and then the lists are the node's (made once per setting)
    /// rather than built per message.</summary>
    private (List<SpamZone> Ip, List<SpamZone> Uri) Zones(Dictionary<string, SpamPolicy> policies)
    {
        bool addsIp = false, addsUri = false;
        foreach (var p in policies.Values)
        {
            addsIp |= p.Blocklists.Count > 0;
            addsUri |= p.UriBlocklists.Count > 0;
        }
        var node = Node();
        var ip = addsIp ? node.Zones.Concat(policies.Values.SelectMany(p => p.Blocklists)).DistinctBy(z => z.Zone.ToLowerInvariant()).ToList() : node.Distinct;
        var uri = addsUri ? policies.Values.SelectMany(p => p.UriBlocklists).DistinctBy(z => z.Zone.ToLowerInvariant()).ToList() : NoZones;
        return (ip, uri);
    }

    private static List<(string Prefix, string Key)> ReputationKeys(InboundEvidence evidence, InboundReport report)
    {
        var keys = new List<(string Prefix, string Key)>();
        if (System.Net.IPAddress.TryParse(evidence.ClientIp, out var ip)) keys.Add(("REP_NET", GrainMail.Trust.Scoring.Reputation.NetworkKey(ip)));
        if (report.Verdicts.Dmarc is { Result: DmarcResult.Pass } pass) keys.Add(("REP_DOMAIN", GrainMail.Trust.Scoring.Reputation.DomainKey(pass.FromDomain)));
        return keys;
    }

    /// <summary>Writes receive log lines; a failure is logged, never a reason to refuse mail already committed.</summary>
    public async Task LogAsync(IReadOnlyList<ReceiveLogEntry> entries)
    {
        try
        {
            await _log.AppendAsync(entries);
        }
        catch (Exception e) when (e is Npgsql.NpgsqlException or TimeoutException or InvalidOperationException)
        {
            _logger.LogWarning(e, "Could not write {Count} receive log line(s)", entries.Count);
        }
    }

    private static PublicSuffixList LoadSuffixes(string path, ILogger logger)
    {
        try
        {
            return PublicSuffixList.Load(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Without the list every name's organisational domain is its last two labels (the implicit "*" rule).
            logger.LogWarning("Public suffix list {Path} not readable ({Error}); DMARC alignment uses the last two labels", path, e.Message);
            return new PublicSuffixList([]);
        }
    }
}

/// <summary>What <see cref="InboundTrust.CheckAsync"/> found: the content it read (and its bytes), the parsed
/// message, the recipient domains' policies, the node's blocklists and the checks' report.</summary>
public sealed record InboundChecks(MessageContent Content, byte[] Raw, MimeMessage Message, Dictionary<string, SpamPolicy> Policies,
    List<SpamZone> Node, InboundReport Report)
{
    /// <summary>The message's decoded text parts (<see cref="DecodedTexts"/>), read by the content step's GTUBE test and tokenizer.</summary>
    public DecodedTexts? Texts { get; init; }
}

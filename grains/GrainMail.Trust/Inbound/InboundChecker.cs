using System.Net;
using System.Text.RegularExpressions;
using GrainMail.Contracts.Trust;
using GrainMail.Trust.Blocklists;
using GrainMail.Trust.Content;
using GrainMail.Trust.Dkim;
using GrainMail.Trust.Dmarc;
using GrainMail.Trust.Dns;
using GrainMail.Trust.Results;
using GrainMail.Trust.Scoring;
using GrainMail.Trust.Spf;
using MimeKit;

namespace GrainMail.Trust.Inbound;

/// <summary>Everything the checks found for one message: the authentication verdicts, their symbols
/// (at default weights), and the blocklist answers for the connecting IP and for linked domains.</summary>
public sealed record InboundReport(InboundVerdicts Verdicts, IReadOnlyList<Symbol> Symbols, IReadOnlyList<Listing> IpListings,
    IReadOnlyList<Listing> UriListings, string? FromDomain);

/// <summary>
/// The inbound checks of one MX message, in the order a receiver needs them: SPF for MAIL FROM and
/// HELO (RFC 7208 2.3, 2.4), DKIM (RFC 6376), DMARC over those (RFC 7489), ARC (RFC 8617), and DNS
/// blocklists for the connecting IP and the domains linked in the body (RFC 5782). Independent
/// questions run concurrently; every answer comes through the node's caching resolver.
/// </summary>
public sealed partial class InboundChecker(ITrustDns dns, PublicSuffixList suffixes, TrustOptions options, TimeProvider clock, string receiver)
{
    private readonly SpfChecker _spf = new(dns, receiver, clock);
    private readonly DkimChecker _dkim = new(dns);
    private readonly ArcChecker _arc = new(dns);
    private readonly DmarcChecker _dmarc = new(dns, suffixes);
    private readonly BlocklistChecker _blocklists = new(dns);

    /// <param name="ipZones">Blocklists for the connecting IP (the node's and every recipient domain's).</param>
    /// <param name="uriZones">URI blocklists of the recipient domains.</param>
    /// <param name="sample">A number in [0, 100) drawn for DMARC pct= (RFC 7489 6.6.4).</param>
    public Task<InboundReport> CheckAsync(InboundEvidence evidence, string? mailFrom, MimeMessage message,
        IReadOnlyList<SpamZone> ipZones, IReadOnlyList<SpamZone> uriZones, int sample, CancellationToken ct) =>
        CheckAsync(evidence, mailFrom, message, ipZones, uriZones, sample, TextsOf(message), ct);

    /// <summary>The same, with the message's decoded text parts (<see cref="TextsOf"/>) that the caller has already.</summary>
    public async Task<InboundReport> CheckAsync(InboundEvidence evidence, string? mailFrom, MimeMessage message,
        IReadOnlyList<SpamZone> ipZones, IReadOnlyList<SpamZone> uriZones, int sample, IReadOnlyList<string> texts, CancellationToken ct)
    {
        var ip = IPAddress.TryParse(evidence.ClientIp, out var parsed) ? parsed : IPAddress.None;
        var helo = (evidence.Helo ?? "").Trim().TrimStart('[').TrimEnd(']');
        var heloIsName = helo.Length > 0 && !IPAddress.TryParse(helo, out _);

        var mailFromTask = _spf.CheckMailFromAsync(ip, mailFrom ?? "", helo, ct);
        var heloTask = heloIsName ? _spf.CheckHeloAsync(ip, helo, ct) : Task.FromResult<SpfCheck?>(null)!;
        var dkimTask = _dkim.VerifyAsync(message, ct);
        var arcTask = _arc.VerifyAsync(message, ct);
        var ipListTask = ipZones.Count > 0 ? _blocklists.CheckIpAsync(ip, ipZones, ct) : Task.FromResult(Array.Empty<Listing>());
        var uriDomains = LinkedDomains(texts).Take(options.MaxUriDomains).ToList();
        var uriListTask = uriZones.Count > 0 && uriDomains.Count > 0 ? _blocklists.CheckDomainsAsync(uriDomains, uriZones, ct) : Task.FromResult(Array.Empty<Listing>());

        var spfMailFrom = await mailFromTask;
        SpfCheck? spfHelo = heloIsName ? await heloTask : null;
        var dkim = await dkimTask;
        var fromDomain = FromDomain(message);
        DmarcVerdict? dmarc = fromDomain is null ? null : await _dmarc.CheckAsync(fromDomain, spfMailFrom, dkim, sample, ct);
        var arc = await arcTask;
        var verdicts = new InboundVerdicts(spfMailFrom, spfHelo, dkim, dmarc, arc);

        var symbols = new List<Symbol>();
        void Add(string name, string? detail = null) => symbols.Add(new Symbol(name, SpamSymbols.Defaults[name], detail));
        Add(SpfNames[spfMailFrom.Verdict.Result], spfMailFrom.Domain);
        if (spfHelo is { Verdict.Result: SpfResult.Pass or SpfResult.Fail or SpfResult.SoftFail })
            Add(SpfHeloNames[spfHelo.Verdict.Result], spfHelo.Domain);
        if (dkim.Count == 0) Add("DKIM_NONE");
        else if (dkim.FirstOrDefault(d => d.Result == DkimResult.Pass) is { } good) Add("DKIM_PASS", good.Domain);
        else if (dkim.FirstOrDefault(d => d.Result == DkimResult.TempError) is { } temp) Add("DKIM_TEMPERROR", temp.Domain);
        else if (dkim.FirstOrDefault(d => d.Result == DkimResult.Fail) is { } bad) Add("DKIM_FAIL", bad.Domain);
        else Add("DKIM_PERMERROR", dkim[0].Domain);
        if (fromDomain is null) Add("FROM_INVALID");
        else if (dmarc is not null) Add(DmarcNames[dmarc.Result], dmarc.FromDomain);
        if (arc.Result == ArcResult.Pass) Add("ARC_PASS");
        else if (arc.Result == ArcResult.Fail) Add("ARC_FAIL");

        return new InboundReport(verdicts, symbols, await ipListTask, await uriListTask, fromDomain);
    }

    /// <summary>The RFC5322.From domain DMARC is about: exactly one mailbox in exactly one From field
    /// (RFC 7489 6.6.1); otherwise null (the message is scored as FROM_INVALID and DMARC is not applied).</summary>
    public static string? FromDomain(MimeMessage message)
    {
        var fields = 0;
        foreach (var h in message.Headers)
            if (h.Id == HeaderId.From && ++fields > 1) return null;
        if (fields != 1) return null;
        MailboxAddress? only = null;
        foreach (var mailbox in message.From.Mailboxes)
        {
            if (only is not null) return null;
            only = mailbox;
        }
        var domain = only?.Domain;
        return string.IsNullOrWhiteSpace(domain) ? null : domain.TrimEnd('.').ToLowerInvariant();
    }

    // The symbol names of the results, made once (SPF_ and the result in capitals, as the defaults name them).
    private static readonly Dictionary<SpfResult, string> SpfNames = Names<SpfResult>("SPF_");
    private static readonly Dictionary<SpfResult, string> SpfHeloNames = Names<SpfResult>("SPF_HELO_");
    private static readonly Dictionary<DmarcResult, string> DmarcNames = Names<DmarcResult>("DMARC_");

    private static Dictionary<T, string> Names<T>(string prefix) where T : struct, Enum =>
        Enum.GetValues<T>().Distinct().ToDictionary(v => v, v => prefix + v.ToString().ToUpperInvariant());

    /// <summary>The decoded text of every text part (transfer encoding and charset undone), in order; a part that cannot be
    /// decoded is left out. The MX path decodes once (<see cref="DecodedTexts"/>) and hands the texts to every step that reads them.</summary>
    public static IReadOnlyList<string> TextsOf(MimeMessage message) => DecodedTexts.Of(message).Texts;

    /// <summary>Host names of http(s) links in the text parts, lower-cased, each once (their organisational
    /// domain, which is what URI blocklists list).</summary>
    public IEnumerable<string> LinkedDomains(MimeMessage message) => LinkedDomains(TextsOf(message));

    /// <summary>The same, from the decoded texts of the parts (<see cref="TextsOf"/>).</summary>
    public IEnumerable<string> LinkedDomains(IReadOnlyList<string> texts)
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var text in texts)
        {
            foreach (Match m in Link().Matches(text))
            {
                var host = m.Groups[1].Value.TrimEnd('.').ToLowerInvariant();
                if (IPAddress.TryParse(host, out _) || !host.Contains('.')) continue;
                var domain = suffixes.OrganizationalDomain(host) ?? host;
                if (seen.Add(domain)) yield return domain;
            }
        }
    }

    [GeneratedRegex(@"https?://([A-Za-z0-9](?:[A-Za-z0-9\-\.]{0,251}[A-Za-z0-9])?)", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex Link();
}

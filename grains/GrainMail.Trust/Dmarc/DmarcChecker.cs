using GrainMail.Trust.Dkim;
using GrainMail.Trust.Dns;
using GrainMail.Trust.Spf;

namespace GrainMail.Trust.Dmarc;

public enum DmarcResult { None, Pass, Fail, TempError, PermError }

/// <summary>What the domain asks a receiver to do with failing mail (RFC 7489 6.3 p= and sp=).</summary>
public enum DmarcPolicy { None, Quarantine, Reject }

/// <summary>A parsed DMARC record (the tags this receiver acts on).</summary>
public sealed record DmarcRecord(DmarcPolicy Policy, DmarcPolicy? SubdomainPolicy, bool StrictDkim, bool StrictSpf, int Percent);

/// <summary>A DMARC verdict: the result, the policy to apply (None unless the result is Fail and the
/// message is sampled by pct=), the record's domain, and whether it came from the organisational domain.</summary>
public sealed record DmarcVerdict(DmarcResult Result, DmarcPolicy Policy, string FromDomain, string? RecordDomain, DmarcPolicy? PublishedPolicy, string Reason);

/// <summary>DMARC evaluation (RFC 7489): record discovery with fallback to the organisational domain,
/// identifier alignment of SPF (MAIL FROM) and DKIM (d=), strict or relaxed, and p=/sp=/pct=.</summary>
public sealed class DmarcChecker(ITrustDns dns, PublicSuffixList suffixes)
{
    /// <summary><paramref name="sample"/> is a number in [0, 100) drawn per message for pct= (6.6.4).</summary>
    public async Task<DmarcVerdict> CheckAsync(string fromDomain, SpfCheck? mailFromSpf, IReadOnlyList<DkimSignatureVerdict> dkim, int sample, CancellationToken ct)
    {
        fromDomain = fromDomain.TrimEnd('.').ToLowerInvariant();
        var org = suffixes.OrganizationalDomain(fromDomain) ?? fromDomain;

        // 6.6.3: the From domain's record, else the organisational domain's.
        var recordDomain = fromDomain;
        var lookup = await LookupAsync(fromDomain, ct);
        if (lookup.Status == DnsStatus.Error) return new(DmarcResult.TempError, DmarcPolicy.None, fromDomain, null, null, $"DNS error looking up _dmarc.{fromDomain}");
        var fromOrganization = false;
        if (lookup.Records.Count == 0 && org != fromDomain)
        {
            recordDomain = org;
            fromOrganization = true;
            lookup = await LookupAsync(org, ct);
            if (lookup.Status == DnsStatus.Error) return new(DmarcResult.TempError, DmarcPolicy.None, fromDomain, null, null, $"DNS error looking up _dmarc.{org}");
        }
        if (lookup.Records.Count == 0) return new(DmarcResult.None, DmarcPolicy.None, fromDomain, null, null, "no DMARC record");
        // More than one record: DMARC is not applied (6.6.3 step 5).
        if (lookup.Records.Count > 1) return new(DmarcResult.None, DmarcPolicy.None, fromDomain, recordDomain, null, "more than one DMARC record");
        var record = Parsed(lookup.Records[0]);
        if (record is null) return new(DmarcResult.PermError, DmarcPolicy.None, fromDomain, recordDomain, null, "the DMARC record has no valid p=");

        var policy = fromOrganization && record.SubdomainPolicy is { } sp ? sp : record.Policy;
        var spfAligned = mailFromSpf is { Verdict.Result: SpfResult.Pass } && Aligned(mailFromSpf.Domain, fromDomain, record.StrictSpf);
        var dkimAligned = dkim.FirstOrDefault(d => d.Result == DkimResult.Pass && Aligned(d.Domain, fromDomain, record.StrictDkim));
        if (spfAligned || dkimAligned is not null)
        {
            var why = dkimAligned is not null ? $"DKIM d={dkimAligned.Domain} aligned" : $"SPF {mailFromSpf!.Domain} aligned";
            return new(DmarcResult.Pass, DmarcPolicy.None, fromDomain, recordDomain, policy, why);
        }
        // pct= (6.6.4): outside the sample, the next weaker policy applies (quarantine becomes none, reject quarantine).
        var applied = sample < record.Percent ? policy : policy switch
        {
            DmarcPolicy.Reject => DmarcPolicy.Quarantine,
            _ => DmarcPolicy.None,
        };
        return new(DmarcResult.Fail, applied, fromDomain, recordDomain, policy, "neither SPF nor DKIM aligned with the From domain");

        bool Aligned(string authenticated, string from, bool strict)
        {
            authenticated = authenticated.TrimEnd('.').ToLowerInvariant();
            if (authenticated == from) return true;
            return !strict && (suffixes.OrganizationalDomain(authenticated) ?? authenticated) == org;
        }
    }

    private async Task<DnsAnswer<string>> LookupAsync(string domain, CancellationToken ct)
    {
        var answer = await dns.TxtAsync("_dmarc." + domain, ct);
        // No record (the common answer): the same as the filtered list below would say, without making it.
        if (answer.Status == DnsStatus.Error || answer.Records.Count == 0) return answer;
        // Records are those beginning "v=DMARC1" (6.6.3); others at the name are ignored.
        var records = answer.Records.Where(r => r.TrimStart().StartsWith("v=DMARC1", StringComparison.Ordinal)
            && (r.TrimStart().Length == 8 || r.TrimStart()[8] is ';' or ' ' or '\t')).ToList();
        return DnsAnswer<string>.Of(records);
    }

    // Records parsed, by their text (the resolver caches the answer, not the parse); immutable. Many seen once: start over.
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, DmarcRecord?> _parsed = new(StringComparer.Ordinal);

    private DmarcRecord? Parsed(string text)
    {
        if (_parsed.TryGetValue(text, out var known)) return known;
        var record = Parse(text);
        if (_parsed.Count > 10_000) _parsed.Clear();
        return _parsed[text] = record;
    }

    /// <summary>Parses a record; null when p= is missing or invalid (6.3: then the record is not used unless
    /// rua= makes it p=none; we treat it as a permerror). Unknown tags are ignored.</summary>
    public static DmarcRecord? Parse(string text)
    {
        var tags = TagList.Parse(text);
        if (!tags.TryGetValue("p", out var p) || ParsePolicy(p) is not { } policy) return null;
        var sp = tags.TryGetValue("sp", out var spText) ? ParsePolicy(spText) : null;
        var percent = 100;
        if (tags.TryGetValue("pct", out var pct) && int.TryParse(pct, System.Globalization.CultureInfo.InvariantCulture, out var n)) percent = Math.Clamp(n, 0, 100);
        var adkim = tags.GetValueOrDefault("adkim", "r").Equals("s", StringComparison.OrdinalIgnoreCase);
        var aspf = tags.GetValueOrDefault("aspf", "r").Equals("s", StringComparison.OrdinalIgnoreCase);
        return new DmarcRecord(policy, sp, adkim, aspf, percent);
    }

    private static DmarcPolicy? ParsePolicy(string value) => value.Trim().ToLowerInvariant() switch
    {
        "none" => DmarcPolicy.None,
        "quarantine" => DmarcPolicy.Quarantine,
        "reject" => DmarcPolicy.Reject,
        _ => null,
    };
}

using System.Net;
using System.Net.Sockets;
using GrainMail.Trust.Dns;

namespace GrainMail.Trust.Spf;

/// <summary>check_host() (RFC 7208 4) for the MAIL FROM and HELO identities. One instance serves the
/// node; each check keeps its own counters of DNS-querying terms (at most 10) and void lookups (at most 2).</summary>
public sealed class SpfChecker(ITrustDns dns, string receiver, TimeProvider clock)
{
    /// <summary>Terms that query DNS, per check (4.6.4).</summary>
    public const int MaxDnsTerms = 10;

    /// <summary>Lookups that answer NXDOMAIN or no data, per check (4.6.4).</summary>
    public const int MaxVoidLookups = 2;

    /// <summary>The MAIL FROM identity; an empty reverse path checks postmaster@HELO (2.4).</summary>
    public async Task<SpfCheck> CheckMailFromAsync(IPAddress ip, string mailFrom, string helo, CancellationToken ct)
    {
        var sender = string.IsNullOrEmpty(mailFrom) ? "postmaster@" + helo : mailFrom;
        var at = sender.LastIndexOf('@');
        var domain = at < 0 ? sender : sender[(at + 1)..];
        if (at <= 0) sender = "postmaster@" + domain;
        var verdict = await CheckHostAsync(ip, domain, sender, helo, ct);
        return new SpfCheck(SpfIdentity.MailFrom, domain, sender, verdict);
    }

    /// <summary>The HELO identity (2.3): the sender is postmaster@HELO.</summary>
    public async Task<SpfCheck> CheckHeloAsync(IPAddress ip, string helo, CancellationToken ct)
    {
        var verdict = await CheckHostAsync(ip, helo, "postmaster@" + helo, helo, ct);
        return new SpfCheck(SpfIdentity.Helo, helo, "postmaster@" + helo, verdict);
    }

    /// <summary>check_host(ip, domain, sender) with fresh limits.</summary>
    public async Task<SpfVerdict> CheckHostAsync(IPAddress ip, string domain, string sender, string helo, CancellationToken ct)
    {
        if (ip.IsIPv4MappedToIPv6) ip = ip.MapToIPv4();
        var at = sender.LastIndexOf('@');
        var local = at <= 0 ? "postmaster" : sender[..at];
        var senderDomain = at < 0 ? sender : sender[(at + 1)..];
        var run = new Run(this, ip, local + "@" + senderDomain, local, senderDomain, helo, ct);
        try
        {
            return await run.CheckHostAsync(domain.TrimEnd('.'));
        }
        catch (SpfAbort abort)
        {
            return new SpfVerdict(abort.Result, null, abort.Message);
        }
    }

    // Records parsed, by their text: every message from a sender's domain brings the same record (the resolver caches the
    // answer, not the parse). Immutable once parsed; many records seen once: start over rather than grow.
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, (SpfRecord? Record, string Error)> _parsed = new(StringComparer.Ordinal);

    private (SpfRecord? Record, string Error) Parsed(string text)
    {
        if (_parsed.TryGetValue(text, out var known)) return known;
        var record = SpfRecordParser.TryParse(text, out var error);
        if (_parsed.Count > 10_000) _parsed.Clear();
        return _parsed[text] = (record, error);
    }

    /// <summary>Initial processing (4.3): a name that is not a multi-label domain with labels of 1 to 63
    /// characters gives none.</summary>
    internal static bool IsValidDomain(string domain)
    {
        if (domain.Length == 0 || domain.Length > 253) return false;
        var labels = domain.TrimEnd('.').Split('.');
        return labels.Length >= 2 && labels.All(l => l.Length is > 0 and <= 63 && l.All(c => c > 0x20 && c < 0x7f && c is not '[' and not ']' and not '@'));
    }

    private sealed class SpfAbort(SpfResult result, string message) : Exception(message)
    {
        public SpfResult Result { get; } = result;
    }

    /// <summary>One check: the counters shared by its includes and redirects.</summary>
    private sealed class Run(SpfChecker owner, IPAddress ip, string sender, string local, string senderDomain, string helo, CancellationToken ct)
    {
        private int _dnsTerms;
        private int _voids;
        private string? _validatedName;

        public async Task<SpfVerdict> CheckHostAsync(string domain)
        {
            if (!IsValidDomain(domain)) return new SpfVerdict(SpfResult.None, null, $"{domain} is not a valid domain name");
            var txt = await owner.Dns.TxtAsync(domain, ct);
            if (txt.Status == DnsStatus.Error) return new SpfVerdict(SpfResult.TempError, null, $"DNS error looking up the SPF record of {domain}");
            var records = txt.Records.Where(SpfRecordParser.IsSpf1).ToList();
            if (records.Count == 0) return new SpfVerdict(SpfResult.None, null, $"{domain} publishes no SPF record");
            if (records.Count > 1) return new SpfVerdict(SpfResult.PermError, null, $"{domain} publishes more than one SPF record");
            var (record, error) = owner.Parsed(records[0]);
            if (record is null) return new SpfVerdict(SpfResult.PermError, null, $"{domain}: {error}");

            var ctx = new SpfMacroContext(sender, local, senderDomain, domain, ip, helo, owner.Receiver, owner.Clock.GetUtcNow());
            foreach (var directive in record.Directives)
            {
                if (!await MatchesAsync(directive, ctx)) continue;
                var result = directive.Qualifier switch
                {
                    SpfQualifier.Pass => SpfResult.Pass,
                    SpfQualifier.Fail => SpfResult.Fail,
                    SpfQualifier.SoftFail => SpfResult.SoftFail,
                    _ => SpfResult.Neutral,
                };
                var explanation = result == SpfResult.Fail && record.Explanation is not null ? await ExplainAsync(record.Explanation, ctx) : null;
                return new SpfVerdict(result, explanation, $"{domain} matched {directive.Text}");
            }
            if (record.Redirect is not null)
            {
                // redirect= applies only when no mechanism matched (6.1); a target without a record is a permerror.
                CountDnsTerm();
                var target = await TargetAsync(record.Redirect, ctx);
                if (target is null) return new SpfVerdict(SpfResult.PermError, null, $"{domain}: redirect to an invalid name");
                var redirected = await CheckHostAsync(target);
                return redirected.Result == SpfResult.None
                    ? new SpfVerdict(SpfResult.PermError, null, $"{domain}: redirect to {target}, which has no SPF record")
                    : redirected;
            }
            return new SpfVerdict(SpfResult.Neutral, null, $"{domain}: no mechanism matched");
        }

        private async Task<bool> MatchesAsync(SpfDirective d, SpfMacroContext ctx)
        {
            var v6 = ip.AddressFamily == AddressFamily.InterNetworkV6;
            switch (d.Kind)
            {
                case SpfMechanismKind.All:
                    return true;
                case SpfMechanismKind.Ip4:
                case SpfMechanismKind.Ip6:
                    return d.Network!.AddressFamily == ip.AddressFamily && InNetwork(ip, d.Network, d.Kind == SpfMechanismKind.Ip4 ? d.Cidr4 : d.Cidr6);
                case SpfMechanismKind.Include:
                    {
                        CountDnsTerm();
                        var target = await TargetAsync(d.DomainSpec!, ctx) ?? throw new SpfAbort(SpfResult.PermError, $"include of an invalid name in {ctx.Domain}");
                        var inner = await CheckHostAsync(target);
                        // 5.2: pass matches; fail, softfail and neutral do not; errors and none propagate as errors.
                        return inner.Result switch
                        {
                            SpfResult.Pass => true,
                            SpfResult.Fail or SpfResult.SoftFail or SpfResult.Neutral => false,
                            SpfResult.TempError => throw new SpfAbort(SpfResult.TempError, inner.Reason),
                            SpfResult.None => throw new SpfAbort(SpfResult.PermError, $"include:{target} has no SPF record"),
                            _ => throw new SpfAbort(SpfResult.PermError, inner.Reason),
                        };
                    }
                case SpfMechanismKind.A:
                    {
                        CountDnsTerm();
                        var target = await TargetOrDomainAsync(d, ctx);
                        var answer = await owner.Dns.AddressesAsync(target, v6, ct);
                        CheckAnswer(answer, target);
                        return answer.Records.Any(a => InNetwork(ip, a, v6 ? d.Cidr6 : d.Cidr4));
                    }
                case SpfMechanismKind.Mx:
                    {
                        CountDnsTerm();
                        var target = await TargetOrDomainAsync(d, ctx);
                        var mx = await owner.Dns.MxAsync(target, ct);
                        CheckAnswer(mx, target);
                        // 4.6.4: more than 10 MX names is a permerror.
                        if (mx.Records.Count > 10) throw new SpfAbort(SpfResult.PermError, $"{target} has more than 10 MX records");
                        foreach (var host in mx.Records.OrderBy(m => m.Preference))
                        {
                            var addresses = await owner.Dns.AddressesAsync(host.Host, v6, ct);
                            if (addresses.Status == DnsStatus.Error) throw new SpfAbort(SpfResult.TempError, $"DNS error for {host.Host}");
                            if (addresses.Records.Any(a => InNetwork(ip, a, v6 ? d.Cidr6 : d.Cidr4))) return true;
                        }
                        return false;
                    }
                case SpfMechanismKind.Ptr:
                    {
                        CountDnsTerm();
                        var target = await TargetOrDomainAsync(d, ctx);
                        var names = await ValidatedNamesAsync();
                        return names.Any(n => IsSameOrSubdomain(n, target));
                    }
                case SpfMechanismKind.Exists:
                    {
                        CountDnsTerm();
                        var target = await TargetAsync(d.DomainSpec!, ctx) ?? throw new SpfAbort(SpfResult.PermError, "exists: on an invalid name");
                        // 5.7: an A query whatever the connection's address family.
                        var answer = await owner.Dns.AddressesAsync(target, false, ct);
                        CheckAnswer(answer, target);
                        return answer.Records.Count > 0;
                    }
            }
            return false;
        }

        private void CountDnsTerm()
        {
            if (++_dnsTerms > MaxDnsTerms) throw new SpfAbort(SpfResult.PermError, $"more than {MaxDnsTerms} DNS-querying terms");
        }

        private void CheckAnswer<T>(DnsAnswer<T> answer, string name)
        {
            if (answer.Status == DnsStatus.Error) throw new SpfAbort(SpfResult.TempError, $"DNS error for {name}");
            if (answer.IsVoid && ++_voids > MaxVoidLookups) throw new SpfAbort(SpfResult.PermError, $"more than {MaxVoidLookups} void DNS lookups");
        }

        private async Task<string> TargetOrDomainAsync(SpfDirective d, SpfMacroContext ctx) =>
            d.DomainSpec is null ? ctx.Domain
                : await TargetAsync(d.DomainSpec, ctx) ?? throw new SpfAbort(SpfResult.PermError, $"{d.Text} names an invalid domain");

        /// <summary>Expands a domain-spec; a result over 253 characters loses labels on the left (7.3).</summary>
        private async Task<string?> TargetAsync(string spec, SpfMacroContext ctx)
        {
            var expanded = (await SpfMacro.ExpandAsync(spec, ctx, PtrNameAsync, false)).TrimEnd('.');
            while (expanded.Length > 253)
            {
                var dot = expanded.IndexOf('.');
                if (dot < 0) return null;
                expanded = expanded[(dot + 1)..];
            }
            var labels = expanded.Split('.');
            return labels.All(l => l.Length is > 0 and <= 63) ? expanded : null;
        }

        /// <summary>The exp= text (6.2): one TXT record at the expanded name, macro-expanded; any problem
        /// means no explanation, never a different result.</summary>
        private async Task<string?> ExplainAsync(string spec, SpfMacroContext ctx)
        {
            try
            {
                var name = await TargetAsync(spec, ctx);
                if (name is null) return null;
                var txt = await owner.Dns.TxtAsync(name, ct);
                if (txt.Status != DnsStatus.Ok || txt.Records.Count != 1) return null;
                var text = txt.Records[0];
                if (!SpfMacro.IsValidMacroString(text, true)) return null;
                return await SpfMacro.ExpandAsync(text, ctx, PtrNameAsync, true);
            }
            catch (SpfAbort)
            {
                return null;
            }
        }

        private async Task<string> PtrNameAsync()
        {
            if (_validatedName is not null) return _validatedName;
            var names = await ValidatedNamesAsync();
            return _validatedName = names.FirstOrDefault() ?? "unknown";
        }

        /// <summary>The client's validated names (5.5): PTR names (at most 10) whose A/AAAA holds the address.
        /// A DNS error on either step just means fewer names.</summary>
        private async Task<List<string>> ValidatedNamesAsync()
        {
            var v6 = ip.AddressFamily == AddressFamily.InterNetworkV6;
            var ptr = await owner.Dns.PtrAsync(ip, ct);
            var validated = new List<string>();
            foreach (var name in ptr.Records.Take(10))
            {
                var addresses = await owner.Dns.AddressesAsync(name, v6, ct);
                if (addresses.Records.Any(a => a.Equals(ip))) validated.Add(name.TrimEnd('.'));
            }
            return validated;
        }
    }

    internal ITrustDns Dns => dns;
    internal string Receiver => receiver;
    internal TimeProvider Clock => clock;

    internal static bool IsSameOrSubdomain(string name, string domain)
    {
        name = name.TrimEnd('.');
        domain = domain.TrimEnd('.');
        return name.Equals(domain, StringComparison.OrdinalIgnoreCase)
            || name.EndsWith("." + domain, StringComparison.OrdinalIgnoreCase);
    }

    internal static bool InNetwork(IPAddress ip, IPAddress network, int prefix)
    {
        if (network.IsIPv4MappedToIPv6) network = network.MapToIPv4();
        if (ip.AddressFamily != network.AddressFamily) return false;
        var a = ip.GetAddressBytes();
        var b = network.GetAddressBytes();
        for (var i = 0; i < a.Length && prefix > 0; i++, prefix -= 8)
        {
            var mask = prefix >= 8 ? 0xff : (byte)(0xff << (8 - prefix));
            if ((a[i] & mask) != (b[i] & mask)) return false;
        }
        return true;
    }
}

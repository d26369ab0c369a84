using System.Net;
using DnsClient;
using DnsClient.Protocol;

namespace GrainMail.Dns;

/// <summary>
/// The node's one DNS client for mail: MX, TXT and address look-ups through the configured
/// resolvers (<c>GRAINMAIL_DNS</c>), or the system's. Answers are cached by their TTL (DnsClient's
/// cache), negative answers (NXDOMAIN, no data) by their SOA's negative TTL (RFC 2308, <see cref="NegativeCache"/>);
/// server failures and timeouts are not cached, so a resolver that recovers is used at once. The outbound sender,
/// MTA-STS, the DNS record checks and the inbound trust checks all ask here.
/// </summary>
public sealed class MailDns(DnsOptions options)
{
    private readonly LookupClient _dns = new(Options(options));
    private readonly NegativeCache _negative = new(options.NegativeCacheMaximum);

    private static LookupClientOptions Options(DnsOptions options)
    {
        var o = options.Servers.Count > 0 ? new LookupClientOptions([.. options.Servers]) : new LookupClientOptions();
        o.UseCache = true;
        o.CacheFailedResults = false;
        o.Timeout = options.Timeout;
        o.Retries = 1;
        return o;
    }

    /// <summary>MX hosts to try in order; null when the domain says it takes no mail (null MX) or does not exist.</summary>
    public async Task<(IReadOnlyList<string>? Hosts, string Reason)> MailHostsAsync(string domain, CancellationToken ct)
    {
        var mx = await AskAsync(domain, QueryType.MX, ct);
        if (mx.HasError && mx.Header.ResponseCode == DnsHeaderResponseCode.NotExistentDomain)
            return (null, $"the domain {domain} does not exist (DNS NXDOMAIN)");
        if (mx.HasError) throw new DnsResponseException($"DNS error for {domain}: {mx.ErrorMessage}");
        var records = mx.Answers.MxRecords().ToList();
        if (records.Count == 1 && records[0].Exchange.Value is "." or "")
            return (null, $"{domain} publishes a null MX: it accepts no mail (RFC 7505)");
        if (records.Count > 0)
        {
            // Equal preferences in random order (RFC 5321 5.1), so that load spreads.
            return (records.OrderBy(r => r.Preference).ThenBy(_ => Random.Shared.Next())
                .Select(r => r.Exchange.Value.TrimEnd('.')).ToList(), "");
        }
        return ([domain], "");
    }

    /// <summary>The TXT strings at a name (each record's strings joined).</summary>
    public async Task<IReadOnlyList<string>> TxtAsync(string name, CancellationToken ct = default)
    {
        var r = await AskAsync(name, QueryType.TXT, ct);
        return r.Answers.TxtRecords().Select(t => string.Concat(t.Text)).ToList();
    }

    /// <summary>Any question, answered as the resolver gave it (the inbound checks tell NXDOMAIN, no data and
    /// server failure apart). Throws <see cref="DnsResponseException"/> on timeout.</summary>
    public Task<IDnsQueryResponse> QueryAsync(string name, QueryType type, CancellationToken ct) => AskAsync(name, type, ct);

    private async Task<IDnsQueryResponse> AskAsync(string name, QueryType type, CancellationToken ct)
    {
        if (_negative.TryGet(name, type, Environment.TickCount64, out var cached)) return cached;
        var response = await _dns.QueryAsync(name, type, cancellationToken: ct);
        _negative.Offer(name, type, response, Environment.TickCount64);
        return response;
    }

    /// <summary>A host's IPv4 and IPv6 addresses (an address literal is its own answer).</summary>
    public async Task<IPAddress[]> AddressesAsync(string host, CancellationToken ct)
    {
        if (IPAddress.TryParse(host, out var literal)) return [literal];
        var a = await AskAsync(host, QueryType.A, ct);
        var aaaa = await AskAsync(host, QueryType.AAAA, ct);
        return [.. a.Answers.ARecords().Select(r => r.Address), .. aaaa.Answers.AaaaRecords().Select(r => r.Address)];
    }
}

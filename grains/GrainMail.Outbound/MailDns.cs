using System.Net;
using DnsClient;
using DnsClient.Protocol;

namespace GrainMail.Outbound;

/// <summary>
/// The node's one DNS client for mail: MX, TXT and address look-ups through the configured
/// resolvers (<c>GRAINMAIL_DNS</c>), or the system's. Answers are cached by their TTL by DnsClient.
/// The outbound sender, MTA-STS and the DNS record checks all ask here.
/// </summary>
public sealed class MailDns(OutboundOptions options)
{
    private readonly LookupClient _dns = options.DnsServers.Count > 0
        ? new LookupClient(new LookupClientOptions([.. options.DnsServers]) { UseCache = true, Timeout = TimeSpan.FromSeconds(5), Retries = 1 })
        : new LookupClient(new LookupClientOptions { UseCache = true, Timeout = TimeSpan.FromSeconds(5), Retries = 1 });

    /// <summary>MX hosts to try in order; null when the domain says it takes no mail (null MX) or does not exist.</summary>
    public async Task<(IReadOnlyList<string>? Hosts, string Reason)> MailHostsAsync(string domain, CancellationToken ct)
    {
        var mx = await _dns.QueryAsync(domain, QueryType.MX, cancellationToken: ct);
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
        var r = await _dns.QueryAsync(name, QueryType.TXT, cancellationToken: ct);
        return r.Answers.TxtRecords().Select(t => string.Concat(t.Text)).ToList();
    }

    /// <summary>Any question, answered as the resolver gave it (the inbound checks tell NXDOMAIN, no data and
    /// server failure apart). Throws <see cref="DnsResponseException"/> on timeout.</summary>
    public Task<IDnsQueryResponse> QueryAsync(string name, QueryType type, CancellationToken ct) =>
        _dns.QueryAsync(name, type, cancellationToken: ct);

    /// <summary>A host's IPv4 and IPv6 addresses (an address literal is its own answer).</summary>
    public async Task<IPAddress[]> AddressesAsync(string host, CancellationToken ct)
    {
        if (IPAddress.TryParse(host, out var literal)) return [literal];
        var a = await _dns.QueryAsync(host, QueryType.A, cancellationToken: ct);
        var aaaa = await _dns.QueryAsync(host, QueryType.AAAA, cancellationToken: ct);
        return [.. a.Answers.ARecords().Select(r => r.Address), .. aaaa.Answers.AaaaRecords().Select(r => r.Address)];
    }
}

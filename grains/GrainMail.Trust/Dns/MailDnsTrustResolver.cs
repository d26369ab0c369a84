using GrainMail.Dns;
using System.Net;
using DnsClient;
using DnsClient.Protocol;

namespace GrainMail.Trust.Dns;

/// <summary>The checks' DNS over the node's one mail resolver (<see cref="MailDns"/>): the configured
/// resolvers of GRAINMAIL_DNS, answers cached by their TTL.</summary>
public sealed class MailDnsTrustResolver(MailDns dns) : ITrustDns
{
    public Task<DnsAnswer<string>> TxtAsync(string name, CancellationToken ct) =>
        AskAsync(name, QueryType.TXT, r => r.Answers.TxtRecords().Select(t => string.Concat(t.Text)).ToList(), ct);

    public Task<DnsAnswer<IPAddress>> AddressesAsync(string name, bool ipv6, CancellationToken ct) => ipv6
        ? AskAsync(name, QueryType.AAAA, r => r.Answers.AaaaRecords().Select(a => a.Address).ToList(), ct)
        : AskAsync(name, QueryType.A, r => r.Answers.ARecords().Select(a => a.Address).ToList(), ct);

    public Task<DnsAnswer<MxHost>> MxAsync(string name, CancellationToken ct) =>
        AskAsync(name, QueryType.MX, r => r.Answers.MxRecords().Select(m => new MxHost(m.Preference, m.Exchange.Value.TrimEnd('.'))).ToList(), ct);

    public Task<DnsAnswer<string>> PtrAsync(IPAddress address, CancellationToken ct) =>
        AskAsync(address.GetArpaName(), QueryType.PTR, r => r.Answers.PtrRecords().Select(p => p.PtrDomainName.Value.TrimEnd('.')).ToList(), ct);

    private async Task<DnsAnswer<T>> AskAsync<T>(string name, QueryType type, Func<IDnsQueryResponse, List<T>> pick, CancellationToken ct)
    {
        try
        {
            var response = await dns.QueryAsync(name, type, ct);
            if (response.Header.ResponseCode == DnsHeaderResponseCode.NotExistentDomain) return DnsAnswer<T>.Missing;
            if (response.HasError) return DnsAnswer<T>.Failed;
            return DnsAnswer<T>.Of(pick(response));
        }
        catch (DnsResponseException)
        {
            // Timeouts and unreachable resolvers: a temporary error, never "no record".
            return DnsAnswer<T>.Failed;
        }
    }
}

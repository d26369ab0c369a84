using System.Collections.Concurrent;
using System.Net;
using GrainMail.Dns;
using DnsClient;
using DnsClient.Protocol;

namespace GrainMail.Trust.Dns;

/// <summary>The checks' DNS over the node's one mail resolver (<see cref="MailDns"/>): the configured
/// resolvers of GRAINMAIL_DNS, answers cached by their TTL. A question already on its way to the resolver is not
/// asked again: concurrent askers of the same name and type share the one answer.</summary>
public sealed class MailDnsTrustResolver(MailDns dns) : ITrustDns
{
    // Questions on their way to the resolver. Every message of a busy sender asks the same five or six names; when
    // their cached answers expire together, each concurrent session used to send its own query (session 10: the
    // local DNS server's CPU was a tenth of what filtering cost the machine per message). Not a cache: an entry
    // lives only while its query is in flight, so what the resolver's TTLs say stays what is answered.
    private readonly ConcurrentDictionary<(string Name, QueryType Type), Task<IDnsQueryResponse>> _inFlight = new();

    /// <summary>How many questions were answered by joining one already in flight (for tests and diagnosis).</summary>
    public long Joined => Interlocked.Read(ref _joined);

    private long _joined;

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
            var response = await SharedAsync(name, type, ct);
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

    /// <summary>The resolver's answer to (name, type), from the query in flight for it if there is one. The shared
    /// query is not cancelled by any one asker (it ends by the resolver's own timeout); each asker stops waiting
    /// when its own token is cancelled.</summary>
    private Task<IDnsQueryResponse> SharedAsync(string name, QueryType type, CancellationToken ct)
    {
        var key = (name, type);
        while (true)
        {
            if (_inFlight.TryGetValue(key, out var running))
            {
                Interlocked.Increment(ref _joined);
                return running.WaitAsync(ct);
            }
            var answer = new TaskCompletionSource<IDnsQueryResponse>(TaskCreationOptions.RunContinuationsAsynchronously);
            if (!_inFlight.TryAdd(key, answer.Task)) continue;
            _ = AskAndShareAsync(key, answer);
            return answer.Task.WaitAsync(ct);
        }
    }

    private async Task AskAndShareAsync((string Name, QueryType Type) key, TaskCompletionSource<IDnsQueryResponse> answer)
    {
        IDnsQueryResponse? response = null;
        Exception? failure = null;
        try
        {
            response = await dns.QueryAsync(key.Name, key.Type, CancellationToken.None);
        }
        catch (Exception e)
        {
            failure = e;
        }
        // Out of the map before anyone learns the answer: an asker woken by it may ask again at once (on another
        // thread), and that question must go to the resolver, not join the query that has just been answered.
        _inFlight.TryRemove(new KeyValuePair<(string, QueryType), Task<IDnsQueryResponse>>(key, answer.Task));
        if (failure is not null) answer.SetException(failure);
        else answer.SetResult(response!);
    }
}

using System.Net;

namespace GrainMail.Trust.Dns;

/// <summary>How a DNS question ended. SPF and DMARC treat "no such name" and "no data" alike (a void
/// answer, RFC 7208 4.6.4) but a server failure or timeout differently (temperror).</summary>
public enum DnsStatus { Ok, NoData, NotFound, Error }

/// <summary>One DNS answer: its status and the records of the asked type (empty unless Ok).</summary>
public sealed record DnsAnswer<T>(DnsStatus Status, IReadOnlyList<T> Records)
{
    public static DnsAnswer<T> Of(IReadOnlyList<T> records) => new(records.Count > 0 ? DnsStatus.Ok : DnsStatus.NoData, records);
    public static DnsAnswer<T> Failed { get; } = new(DnsStatus.Error, []);
    public static DnsAnswer<T> Missing { get; } = new(DnsStatus.NotFound, []);
    public bool IsVoid => Status is DnsStatus.NoData or DnsStatus.NotFound;
}

/// <summary>An MX record.</summary>
public sealed record MxHost(int Preference, string Host);

/// <summary>The DNS questions the authentication checks ask. The node answers them through its
/// configured resolvers (<see cref="MailDnsTrustResolver"/>); tests answer from zone data.</summary>
public interface ITrustDns
{
    /// <summary>TXT records at a name, each record's strings joined (RFC 7208 3.3).</summary>
    Task<DnsAnswer<string>> TxtAsync(string name, CancellationToken ct);

    /// <summary>A records (IPv4) or AAAA records (IPv6) at a name.</summary>
    Task<DnsAnswer<IPAddress>> AddressesAsync(string name, bool ipv6, CancellationToken ct);

    Task<DnsAnswer<MxHost>> MxAsync(string name, CancellationToken ct);

    /// <summary>Names in the reverse zone of an address (PTR).</summary>
    Task<DnsAnswer<string>> PtrAsync(IPAddress address, CancellationToken ct);
}

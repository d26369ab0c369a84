using System.Net;
using System.Net.Sockets;
using GrainMail.Contracts.Trust;
using GrainMail.Trust.Dns;

namespace GrainMail.Trust.Blocklists;

/// <summary>How one blocklist answered.</summary>
public enum ListingStatus { NotListed, Listed, Error }

/// <summary>One blocklist's answer for one name: listed (with the 127.0.0.x code), not listed, or an error.</summary>
public sealed record Listing(string Zone, string Query, ListingStatus Status, double Weight, string? Code);

/// <summary>
/// DNS blocklists (RFC 5782): the connecting IP (reversed octets, or nibbles for IPv6) and linked
/// domains are looked up as names under each zone. Only A answers in 127.0.0.0/8 are listings (5782
/// 2.3); 127.255.255.0/24 is what lists answer to resolvers they refuse to serve (a blocked public
/// resolver, a quota): an error, never a listing, as are answers outside 127/8 and DNS failures.
/// </summary>
public sealed class BlocklistChecker(ITrustDns dns)
{
    public Task<Listing[]> CheckIpAsync(IPAddress ip, IEnumerable<SpamZone> zones, CancellationToken ct)
    {
        if (ip.IsIPv4MappedToIPv6) ip = ip.MapToIPv4();
        var reversed = ReversedName(ip);
        return Task.WhenAll(zones.Select(z => AskAsync(z, reversed + "." + z.Zone, ct)));
    }

    public Task<Listing[]> CheckDomainsAsync(IEnumerable<string> domains, IEnumerable<SpamZone> zones, CancellationToken ct)
    {
        var zoneList = zones.ToList();
        return Task.WhenAll(domains.SelectMany(d => zoneList.Select(z => AskAsync(z, d + "." + z.Zone, ct))));
    }

    /// <summary>The name under a zone for an address: 4.3.2.1 for 1.2.3.4; 32 nibbles for IPv6 (RFC 5782 2.1, 2.4).</summary>
    public static string ReversedName(IPAddress ip)
    {
        var bytes = ip.GetAddressBytes();
        if (ip.AddressFamily == AddressFamily.InterNetwork) return string.Join('.', bytes.Reverse());
        return string.Join('.', bytes.Reverse().SelectMany(b => new[] { (b & 0xF).ToString("x"), (b >> 4).ToString("x") }));
    }

    /// <summary>Whether an answer is a listing: 127.0.0.0/8 apart from the 127.255.255.0/24 error codes.</summary>
    public static ListingStatus Classify(IPAddress answer)
    {
        var b = answer.GetAddressBytes();
        if (b.Length != 4 || b[0] != 127) return ListingStatus.Error;
        return b[1] == 255 && b[2] == 255 ? ListingStatus.Error : ListingStatus.Listed;
    }

    private async Task<Listing> AskAsync(SpamZone zone, string name, CancellationToken ct)
    {
        var answer = await dns.AddressesAsync(name, ipv6: false, ct);
        if (answer.Status == DnsStatus.Error) return new Listing(zone.Zone, name, ListingStatus.Error, zone.Weight, null);
        if (answer.Records.Count == 0) return new Listing(zone.Zone, name, ListingStatus.NotListed, zone.Weight, null);
        var statuses = answer.Records.Select(a => (Address: a, Status: Classify(a))).ToList();
        var listed = statuses.FirstOrDefault(s => s.Status == ListingStatus.Listed);
        return listed.Address is not null
            ? new Listing(zone.Zone, name, ListingStatus.Listed, zone.Weight, listed.Address.ToString())
            : new Listing(zone.Zone, name, ListingStatus.Error, zone.Weight, statuses[0].Address.ToString());
    }
}

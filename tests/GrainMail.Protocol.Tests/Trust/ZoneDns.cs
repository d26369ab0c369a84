using System.Net;
using GrainMail.Trust.Dns;

namespace GrainMail.Protocol.Tests.Trust;

/// <summary>DNS answered from a zone written in a test: records per name, "TIMEOUT" entries and CNAMEs.
/// Follows the conventions of the RFC 7208 test suite's zonedata: a name without TXT records serves its
/// SPF records as TXT; "TXT: NONE" means no TXT; a TIMEOUT before any record of the asked type is a
/// timeout (temperror), after one it ends the answer.</summary>
internal sealed class ZoneDns : ITrustDns
{
    public sealed record Entry(string Type, string Value);

    private readonly Dictionary<string, List<Entry>> _zone = new(StringComparer.OrdinalIgnoreCase);

    public ZoneDns Add(string name, string type, string value)
    {
        name = name.TrimEnd('.');
        if (!_zone.TryGetValue(name, out var list)) _zone[name] = list = [];
        list.Add(new Entry(type.ToUpperInvariant(), value));
        return this;
    }

    public ZoneDns Timeout(string name) => Add(name, "TIMEOUT", "");

    /// <summary>Names queried, in order (tests of "no query made").</summary>
    public List<string> Queries { get; } = [];

    public Task<DnsAnswer<string>> TxtAsync(string name, CancellationToken ct) => Task.FromResult(Ask(name, "TXT", v => v));

    public Task<DnsAnswer<IPAddress>> AddressesAsync(string name, bool ipv6, CancellationToken ct) =>
        Task.FromResult(Ask(name, ipv6 ? "AAAA" : "A", IPAddress.Parse));

    public Task<DnsAnswer<MxHost>> MxAsync(string name, CancellationToken ct) => Task.FromResult(Ask(name, "MX", v =>
    {
        var space = v.IndexOf(' ');
        return new MxHost(int.Parse(v[..space], System.Globalization.CultureInfo.InvariantCulture), v[(space + 1)..].TrimEnd('.'));
    }));

    public Task<DnsAnswer<string>> PtrAsync(IPAddress address, CancellationToken ct) =>
        Task.FromResult(Ask(ArpaName(address), "PTR", v => v.TrimEnd('.')));

    public static string ArpaName(IPAddress address)
    {
        var bytes = address.GetAddressBytes();
        if (bytes.Length == 4) return string.Join('.', bytes.Reverse().Select(b => b.ToString(System.Globalization.CultureInfo.InvariantCulture))) + ".in-addr.arpa";
        var hex = Convert.ToHexStringLower(bytes);
        return string.Join('.', hex.Reverse()) + ".ip6.arpa";
    }

    private DnsAnswer<T> Ask<T>(string name, string type, Func<string, T> parse, int depth = 0)
    {
        name = name.TrimEnd('.');
        Queries.Add($"{type} {name}");
        if (depth > 8 || !_zone.TryGetValue(name, out var entries)) return depth > 8 ? DnsAnswer<T>.Failed : DnsAnswer<T>.Missing;
        var hasTxt = entries.Any(e => e.Type == "TXT");
        var found = new List<T>();
        var sawType = false;
        foreach (var e in entries)
        {
            if (e.Type == "TIMEOUT")
            {
                if (!sawType) return DnsAnswer<T>.Failed;
                break;
            }
            var entryType = e.Type == "SPF" && !hasTxt ? "TXT" : e.Type;
            if (entryType == "CNAME" && type != "CNAME") return Ask(e.Value, type, parse, depth + 1);
            if (entryType != type) continue;
            if (type == "TXT" && e.Value == "NONE") continue;
            sawType = true;
            found.Add(parse(e.Value));
        }
        return DnsAnswer<T>.Of(found);
    }
}

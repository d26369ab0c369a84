using System.Net;

namespace GrainMail.Gateways.Http.Integrations;

/// <summary>The addresses an integration may call from: single addresses and CIDR prefixes, IPv4 and IPv6.</summary>
public static class SourceAddresses
{
    public const int MaxEntries = 100;

    /// <summary>The canonical CIDR form of an address or prefix (a single address becomes /32 or /128); null when it is neither.</summary>
    public static string? Normalize(string? text)
    {
        text = text?.Trim();
        if (string.IsNullOrEmpty(text)) return null;
        if (!text.Contains('/')) return IPAddress.TryParse(text, out var a) ? new IPNetwork(Unmap(a), Unmap(a).GetAddressBytes().Length * 8).ToString() : null;
        // Strict: host bits must be zero (203.0.113.7/24 is a typo for something).
        if (!IPNetwork.TryParse(text, out var n) || !IPAddress.TryParse(text[..text.IndexOf('/')], out var given)) return null;
        return n.BaseAddress.Equals(given) ? n.ToString() : null;
    }

    public static bool Allows(IEnumerable<string> sources, IPAddress? remote)
    {
        if (remote is null) return false;
        remote = Unmap(remote);
        foreach (var s in sources)
        {
            if (IPNetwork.TryParse(s, out var n) && n.Contains(remote)) return true;
        }
        return false;
    }

    // A dual-stack listener reports IPv4 peers as ::ffff:a.b.c.d.
    private static IPAddress Unmap(IPAddress a) => a.IsIPv4MappedToIPv6 ? a.MapToIPv4() : a;
}

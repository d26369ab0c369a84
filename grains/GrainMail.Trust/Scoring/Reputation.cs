using System.Net;
using System.Net.Sockets;
using GrainMail.Contracts.Trust;

namespace GrainMail.Trust.Scoring;

/// <summary>
/// Reputation as evidence: the keys a message's sender is known by, the decay of the counts, and the
/// symbols a history gives. A sender is judged only after <see cref="MinVolume"/> messages, so a few
/// messages never build or ruin a reputation.
/// </summary>
public static class Reputation
{
    /// <summary>Counts halve every week.</summary>
    public static readonly TimeSpan HalfLife = TimeSpan.FromDays(7);

    public const double MinVolume = 20;

    /// <summary>The network key: the /24 of an IPv4 address, the /64 of an IPv6 one.</summary>
    public static string NetworkKey(IPAddress ip)
    {
        if (ip.IsIPv4MappedToIPv6) ip = ip.MapToIPv4();
        var b = ip.GetAddressBytes();
        if (ip.AddressFamily == AddressFamily.InterNetwork) return $"net:{b[0]}.{b[1]}.{b[2]}.0/24";
        for (var i = 8; i < 16; i++) b[i] = 0;
        return $"net:{new IPAddress(b)}/64";
    }

    public static string DomainKey(string alignedDomain) => "domain:" + alignedDomain.TrimEnd('.').ToLowerInvariant();

    /// <summary>The factor counts are multiplied by after <paramref name="elapsed"/>.</summary>
    public static double Decay(TimeSpan elapsed) => elapsed <= TimeSpan.Zero ? 1 : Math.Pow(0.5, elapsed / HalfLife);

    /// <summary>The symbol a history gives (prefix REP_NET or REP_DOMAIN): _BAD weighs up to 4 by the share
    /// of spam above a half; _GOOD −1 when under a tenth was spam; nothing for a short or mixed history.</summary>
    public static Symbol? Symbol(string prefix, ReputationSnapshot s)
    {
        if (s.Volume < MinVolume) return null;
        var spamShare = s.Spam / Math.Max(s.Volume, 1);
        if (spamShare >= 0.5) return new Symbol(prefix + "_BAD", Math.Round(4 * (spamShare - 0.5) * 2, 2), $"{spamShare:P0} spam of {s.Volume:0}");
        if (spamShare < 0.1 && s.Ham >= MinVolume / 2) return new Symbol(prefix + "_GOOD", -1, $"{spamShare:P0} spam of {s.Volume:0}");
        return null;
    }
}

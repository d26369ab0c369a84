using System.Security.Cryptography;
using System.Text;

namespace GrainMail.Gateways.Jmap.Session;

/// <summary>
/// The JMAP id of a mailbox account: "A" and 24 hex digits of SHA-256 of the normalised address,
/// in the style of the RFC 8474 object ids, so that every gateway derives the same id with no table.
/// </summary>
public static class JmapAccountIds
{
    public static string Of(string normalisedAddress) =>
        "A" + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(normalisedAddress.ToLowerInvariant())).AsSpan(0, 12));
}

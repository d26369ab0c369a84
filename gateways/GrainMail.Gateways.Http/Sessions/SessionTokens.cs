using System.Security.Cryptography;
using System.Text;

namespace GrainMail.Gateways.Http.Sessions;

/// <summary>
/// Session tokens and sign-on tickets: 256 random bits, base64url, behind a prefix that tells
/// them from the bootstrap token (and from each other) without a lookup. Only their SHA-256
/// leaves the gateway.
/// </summary>
public static class SessionTokens
{
    public const string SessionPrefix = "gms_";
    public const string TicketPrefix = "gmt_";

    public static string NewSession() => SessionPrefix + RandomPart();

    public static string NewTicket() => TicketPrefix + RandomPart();

    public static bool IsSession(string token) => token.StartsWith(SessionPrefix, StringComparison.Ordinal);

    public static byte[] Hash(string token) => SHA256.HashData(Encoding.UTF8.GetBytes(token));

    private static string RandomPart() =>
        Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)).TrimEnd('=').Replace('+', '-').Replace('/', '_');
}

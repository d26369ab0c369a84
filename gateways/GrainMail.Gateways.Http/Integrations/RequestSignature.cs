using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Http;

namespace GrainMail.Gateways.Http.Integrations;

/// <summary>The signature headers of one request, parsed.</summary>
public sealed record SignatureHeaders(Guid IntegrationId, long Timestamp, string Nonce, byte[] Signature);

/// <summary>
/// How an integration signs a request to /api/v1/integration/*. The signed bytes are the UTF-8 of
/// <code>
/// grainmail-integration-v1 LF METHOD LF request-target LF timestamp LF nonce LF hex(SHA-256(body))
/// </code>
/// with the request-target exactly as sent (path and query, RFC 9112 3.2), the timestamp in Unix
/// seconds, and the lower-case hex digest of the body (of nothing when there is none). A request
/// is valid within <see cref="Validity"/> of its timestamp, and each nonce is accepted once.
/// </summary>
public static class RequestSignature
{
    public const string IdHeader = "GrainMail-Integration";
    public const string TimestampHeader = "GrainMail-Timestamp";
    public const string NonceHeader = "GrainMail-Nonce";
    public const string SignatureHeader = "GrainMail-Signature";
    public const string Version = "grainmail-integration-v1";

    public static readonly TimeSpan Validity = TimeSpan.FromMinutes(5);

    public static byte[] SigningInput(string method, string requestTarget, long timestamp, string nonce, ReadOnlySpan<byte> body) =>
        Encoding.UTF8.GetBytes(string.Join('\n', Version, method.ToUpperInvariant(), requestTarget,
            timestamp.ToString(CultureInfo.InvariantCulture), nonce, Convert.ToHexStringLower(SHA256.HashData(body))));

    /// <summary>Reads the four headers; false with the reason when one is missing or malformed.</summary>
    public static bool TryRead(IHeaderDictionary headers, out SignatureHeaders parsed, out string problem)
    {
        parsed = null!;
        problem = "";
        string Single(string name) => headers.TryGetValue(name, out var v) && v.Count == 1 ? v[0] ?? "" : "";
        var id = Single(IdHeader);
        var ts = Single(TimestampHeader);
        var nonce = Single(NonceHeader);
        var sig = Single(SignatureHeader);
        if (id.Length == 0 || ts.Length == 0 || nonce.Length == 0 || sig.Length == 0)
        {
            problem = $"Signed requests carry exactly one each of {IdHeader}, {TimestampHeader}, {NonceHeader} and {SignatureHeader}";
            return false;
        }
        if (!Guid.TryParse(id, out var guid))
        {
            problem = $"{IdHeader} is not an integration id";
            return false;
        }
        if (ts.Length > 12 || !long.TryParse(ts, NumberStyles.None, CultureInfo.InvariantCulture, out var timestamp))
        {
            problem = $"{TimestampHeader} must be Unix seconds";
            return false;
        }
        if (!ValidNonce(nonce))
        {
            problem = $"{NonceHeader} must be 16 to 128 characters of A-Z a-z 0-9 - _ . ~";
            return false;
        }
        byte[] signature;
        try
        {
            signature = Convert.FromBase64String(sig);
        }
        catch (FormatException)
        {
            problem = $"{SignatureHeader} is not base64";
            return false;
        }
        parsed = new SignatureHeaders(guid, timestamp, nonce, signature);
        return true;
    }

    /// <summary>Whether <paramref name="timestamp"/> is within the validity window around <paramref name="now"/> (either side: clocks drift).</summary>
    public static bool Fresh(long timestamp, DateTimeOffset now) =>
        Math.Abs(now.ToUnixTimeSeconds() - timestamp) <= (long)Validity.TotalSeconds;

    public static bool ValidNonce(string nonce) =>
        nonce.Length is >= 16 and <= 128 && nonce.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.' or '~');
}

using System.Text;

namespace GrainMail.Gateways.Common.Sasl;

/// <summary>What a SASL exchange yields: who logs in, for whom (empty: themselves), and the secret.</summary>
public sealed record SaslCredentials(string AuthorizationId, string AuthenticationId, string Password);

/// <summary>Why a client's SASL response could not be read; each protocol turns it into its own reply.</summary>
public enum SaslError
{
    None,

    /// <summary>The client sent <c>*</c> (RFC 4954 4, RFC 3501 6.2.2, RFC 5034 4).</summary>
    Cancelled,

    /// <summary>Not base64, not UTF-8, the wrong number of fields, or a field too long.</summary>
    Malformed,
}

/// <summary>
/// The one SASL decoder of every gateway (SMTP AUTH, IMAP AUTHENTICATE, POP3 AUTH). Strict:
/// base64 with padding (RFC 4648), UTF-8 without replacement characters, and for PLAIN exactly
/// <c>authzid NUL authcid NUL passwd</c> with a non-empty authcid and password (RFC 4616 2).
/// LOGIN (the old draft mechanism Outlook still uses) is two base64 strings, user then password.
/// </summary>
public static class SaslDecoder
{
    /// <summary>RFC 4616 2: each field up to 255 octets; a little more for long addresses and app passwords.</summary>
    public const int MaxField = 1024;

    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    /// <summary>Mechanisms offered, in the order offered.</summary>
    public static readonly IReadOnlyList<string> Mechanisms = ["PLAIN", "LOGIN"];

    public static bool IsCancel(string response) => response.Trim() == "*";

    /// <summary>Decodes a PLAIN response (base64, or <c>=</c> for an empty initial response).</summary>
    public static (SaslCredentials? Credentials, SaslError Error) DecodePlain(string response)
    {
        if (IsCancel(response)) return (null, SaslError.Cancelled);
        if (DecodeText(response) is not { } text) return (null, SaslError.Malformed);
        var fields = text.Split('\0');
        if (fields.Length != 3 || fields[1].Length == 0 || fields[2].Length == 0) return (null, SaslError.Malformed);
        if (fields.Any(f => Encoding.UTF8.GetByteCount(f) > MaxField)) return (null, SaslError.Malformed);
        return (new SaslCredentials(fields[0], fields[1], fields[2]), SaslError.None);
    }

    /// <summary>Decodes one LOGIN answer (the user name or the password).</summary>
    public static (string? Value, SaslError Error) DecodeLoginField(string response)
    {
        if (IsCancel(response)) return (null, SaslError.Cancelled);
        if (DecodeText(response) is not { } text || text.Length == 0 || text.Contains('\0') || Encoding.UTF8.GetByteCount(text) > MaxField)
            return (null, SaslError.Malformed);
        return (text, SaslError.None);
    }

    /// <summary>Base64 (RFC 4648, canonical) to strict UTF-8; null when either step fails.</summary>
    public static string? DecodeText(string base64)
    {
        var s = base64.Trim();
        if (s == "=") return "";
        if (s.Length == 0 || s.Length % 4 != 0 || s.Length > 4 * MaxField) return null;
        var bytes = new byte[s.Length / 4 * 3];
        if (!Convert.TryFromBase64String(s, bytes, out var written)) return null;
        try
        {
            return StrictUtf8.GetString(bytes, 0, written);
        }
        catch (DecoderFallbackException)
        {
            return null;
        }
    }

    /// <summary>The base64 challenges of LOGIN: "Username:" and "Password:".</summary>
    public const string LoginUserChallenge = "VXNlcm5hbWU6";
    public const string LoginPasswordChallenge = "UGFzc3dvcmQ6";
}

/// <summary>
/// Runs one SASL mechanism for any protocol: the protocol supplies the initial response (if the
/// client sent one) and a way to send a base64 challenge and read the answer (null when the
/// connection ended). Unknown mechanisms are the caller's to refuse before calling.
/// </summary>
public static class SaslExchange
{
    public static bool IsSupported(string mechanism) =>
        SaslDecoder.Mechanisms.Contains(mechanism.ToUpperInvariant());

    public static async Task<(SaslCredentials? Credentials, SaslError Error)> RunAsync(string mechanism, string? initial,
        Func<string, Task<string?>> challenge)
    {
        switch (mechanism.ToUpperInvariant())
        {
            case "PLAIN":
                {
                    var response = initial ?? await challenge("");
                    return response is null ? (null, SaslError.Cancelled) : SaslDecoder.DecodePlain(response);
                }
            case "LOGIN":
                {
                    var userResponse = initial ?? await challenge(SaslDecoder.LoginUserChallenge);
                    if (userResponse is null) return (null, SaslError.Cancelled);
                    var (user, userError) = SaslDecoder.DecodeLoginField(userResponse);
                    if (user is null) return (null, userError);
                    var passwordResponse = await challenge(SaslDecoder.LoginPasswordChallenge);
                    if (passwordResponse is null) return (null, SaslError.Cancelled);
                    var (password, passwordError) = SaslDecoder.DecodeLoginField(passwordResponse);
                    return password is null ? (null, passwordError) : (new SaslCredentials("", user, password), SaslError.None);
                }
            default:
                throw new ArgumentException($"SASL mechanism {mechanism} is not supported", nameof(mechanism));
        }
    }
}

using System.Security.Cryptography;
using System.Text;

namespace GrainMail.Contracts.Accounts;

/// <summary>Reset tokens: <c>gmr_</c> + the account's address (base64url) + "." + 256 random bits (base64url).</summary>
public static class ResetTokens
{
    public const string Prefix = "gmr_";

    public static string New(string address) => Prefix + B64(Encoding.UTF8.GetBytes(address)) + "." + B64(RandomNumberGenerator.GetBytes(32));

    /// <summary>The account a token names, or null for anything that is not a reset token.</summary>
    public static string? AccountOf(string? token)
    {
        if (token is null || !token.StartsWith(Prefix, StringComparison.Ordinal)) return null;
        var dot = token.IndexOf('.', Prefix.Length);
        if (dot < 0) return null;
        try
        {
            var s = token[Prefix.Length..dot].Replace('-', '+').Replace('_', '/');
            s += new string('=', (4 - s.Length % 4) % 4);
            return MailAddress.Normalize(Encoding.UTF8.GetString(Convert.FromBase64String(s)));
        }
        catch (FormatException)
        {
            return null;
        }
    }

    private static string B64(byte[] b) => Convert.ToBase64String(b).TrimEnd('=').Replace('+', '-').Replace('/', '_');
}

using System.Security.Cryptography;
using System.Text;
using GrainMail.Operations;

namespace GrainMail.Gateways.Http;

/// <summary>The token that guards the admin API and the dashboard.</summary>
public sealed class AdminToken(string value)
{
    private readonly byte[] _value = Encoding.UTF8.GetBytes(value);

    /// <summary>Reads the token from <paramref name="path"/>, creating a random one (mode 0600) on first start.</summary>
    public static AdminToken LoadOrCreate(string path) => new(SecretFile.ReadOrCreate(path, () =>
        Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)).TrimEnd('=').Replace('+', '-').Replace('/', '_')));

    public bool Matches(string candidate) =>
        CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(candidate), _value);
}

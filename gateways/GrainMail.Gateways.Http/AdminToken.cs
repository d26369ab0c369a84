using GrainMail.Operations;
using System.Security.Cryptography;
using System.Text;

namespace GrainMail.Gateways.Http;

/// <summary>The bearer token that guards the admin API.</summary>
public sealed class AdminToken(string value)
{
    private readonly byte[] _value = Encoding.UTF8.GetBytes(value);

    /// <summary>Reads the token from <paramref name="path"/>, creating a random one (mode 0600) on first start.</summary>
    public static AdminToken LoadOrCreate(string path) => new(SecretFile.ReadOrCreate(path, () =>
        Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)).TrimEnd('=').Replace('+', '-').Replace('/', '_')));

    public bool Matches(string candidate) =>
        CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(candidate), _value);
}

/// <summary>What /readyz asks: is this process part of a working cluster?</summary>
public interface IReadinessCheck
{
    Task<(bool Ready, string Detail)> CheckAsync(CancellationToken ct);
}

using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;

namespace GrainMail.Gateways.Http.UserAuth;

/// <summary>
/// Credentials the account grain accepted in the last minute, so that a client sending Basic
/// authentication on every request (CardDAV sync, autocomplete at each keystroke) does not pay a
/// password hash per request. Only successes are kept, as an HMAC under a per-process key (never
/// the password); every failure goes to the grain and counts towards its lockout. A password
/// change, revoked app password or disabled account takes effect here within <see cref="Lifetime"/>.
/// </summary>
public sealed class VerifiedCredentials(TimeProvider clock)
{
    public static readonly TimeSpan Lifetime = TimeSpan.FromSeconds(60);
    private const int MaxEntries = 100_000;

    private readonly byte[] _key = RandomNumberGenerator.GetBytes(32);
    private readonly ConcurrentDictionary<string, DateTimeOffset> _verified = new(StringComparer.Ordinal);

    public bool IsVerified(string address, string secret) =>
        _verified.TryGetValue(Key(address, secret), out var until) && until > clock.GetUtcNow();

    public void Remember(string address, string secret)
    {
        // Bounded: past the cap everything is forgotten at once (the next requests re-verify).
        if (_verified.Count >= MaxEntries) _verified.Clear();
        _verified[Key(address, secret)] = clock.GetUtcNow() + Lifetime;
    }

    private string Key(string address, string secret) =>
        Convert.ToBase64String(HMACSHA256.HashData(_key, Encoding.UTF8.GetBytes(address + "\0" + secret)));
}

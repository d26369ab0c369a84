using System.Security.Cryptography;
using System.Text;
using Konscious.Security.Cryptography;

namespace GrainMail.Grains.Accounts;

/// <summary>Argon2id cost settings. The defaults are OWASP's minimum for Argon2id (19 MiB, t=2, p=1).</summary>
public sealed class PasswordHashOptions
{
    public int MemoryKiB { get; set; } = 19 * 1024;
    public int Iterations { get; set; } = 2;
    public int Parallelism { get; set; } = 1;
}

/// <summary>
/// Argon2id password hashes in the PHC string format
/// (<c>$argon2id$v=19$m=…,t=…,p=…$salt$hash</c>), so that a hash made under older cost
/// settings still verifies after the settings change. Verification compares in constant time.
/// </summary>
public sealed class PasswordHasher(PasswordHashOptions options)
{
    private const int SaltBytes = 16;
    private const int HashBytes = 32;

    // Each hash takes MemoryKiB of memory and a core for tens of milliseconds: a burst of logins
    // (or an attacker's) waits its turn here instead of allocating hundreds of MiB at once.
    private readonly SemaphoreSlim _gate = new(Math.Max(1, Environment.ProcessorCount));

    public async Task<string> HashAsync(string password)
    {
        await _gate.WaitAsync();
        try
        {
            return Hash(password);
        }
        finally
        {
            _gate.Release();
        }
    }

    public async Task<bool> VerifyAsync(string password, string phc)
    {
        await _gate.WaitAsync();
        try
        {
            return Verify(password, phc);
        }
        finally
        {
            _gate.Release();
        }
    }

    public string Hash(string password)
    {
        var salt = RandomNumberGenerator.GetBytes(SaltBytes);
        var hash = Compute(password, salt, options.MemoryKiB, options.Iterations, options.Parallelism, HashBytes);
        return $"$argon2id$v=19$m={options.MemoryKiB},t={options.Iterations},p={options.Parallelism}${B64(salt)}${B64(hash)}";
    }

    public bool Verify(string password, string phc)
    {
        var parts = phc.Split('$');
        // "", "argon2id", "v=19", "m=..,t=..,p=..", salt, hash
        if (parts.Length != 6 || parts[1] != "argon2id" || parts[2] != "v=19") return false;
        int m = 0, t = 0, p = 0;
        foreach (var kv in parts[3].Split(','))
        {
            var eq = kv.IndexOf('=');
            if (eq < 0 || !int.TryParse(kv[(eq + 1)..], out var v)) return false;
            switch (kv[..eq])
            {
                case "m": m = v; break;
                case "t": t = v; break;
                case "p": p = v; break;
            }
        }
        if (m <= 0 || t <= 0 || p <= 0) return false;
        byte[] salt, expected;
        try
        {
            salt = FromB64(parts[4]);
            expected = FromB64(parts[5]);
        }
        catch (FormatException)
        {
            return false;
        }
        var actual = Compute(password, salt, m, t, p, expected.Length);
        return CryptographicOperations.FixedTimeEquals(actual, expected);
    }

    private static byte[] Compute(string password, byte[] salt, int memoryKiB, int iterations, int parallelism, int length)
    {
        using var argon = new Argon2id(Encoding.UTF8.GetBytes(password))
        {
            Salt = salt,
            MemorySize = memoryKiB,
            Iterations = iterations,
            DegreeOfParallelism = parallelism,
        };
        return argon.GetBytes(length);
    }

    private static string B64(byte[] b) => Convert.ToBase64String(b).TrimEnd('=');

    private static byte[] FromB64(string s) => Convert.FromBase64String(s.PadRight(s.Length + (4 - s.Length % 4) % 4, '='));
}

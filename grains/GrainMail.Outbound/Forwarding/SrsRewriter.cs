using System.Security.Cryptography;
using System.Text;

namespace GrainMail.Outbound.Forwarding;

public enum SrsStatus { NotSrs, Valid, Forged, Expired, Keyed }

/// <summary>What an address we handed out as an envelope sender turns back into (<see cref="SrsStatus.Keyed"/>: a
/// stored key, <see cref="SrsRewriter.KeyPrefix"/>, which only the key table can turn back).</summary>
public sealed record SrsReversal(SrsStatus Status, string? Original);

/// <summary>
/// The Sender Rewriting Scheme for mail we forward to another domain (aliases to external targets,
/// later Sieve redirect): the receiver checks SPF against the envelope sender, which must then be
/// ours, yet a bounce must still reach the original sender. The rewritten sender is a local part
/// of the forwarding domain that encodes the original, keyed so nobody else can make one:
///
///   SRS0=HHHHHH=TT=orig.example=user@forwarder.example        (a first forward)
///   SRS1=HHHHHH=hop1.example==HHHH=TT=orig.example=user@forwarder.example  (forwarding an SRS0 again)
///
/// HHHHHH: the first 30 bits of HMAC-SHA256(secret, the rest, lower-cased) in base32; lower-casing
/// because SMTP servers (this one too) may change a local part's case. TT: the day (mod 1024) in two
/// base32 characters; a bounce to an SRS0 older than <see cref="MaxAge"/> is refused, so a leaked
/// address stops working. An SRS1 carries no time of its own: the first forwarder's SRS0 in it does.
/// Pure code: no DNS, no storage.
/// </summary>
public sealed class SrsRewriter(byte[] secret, TimeProvider clock, TimeSpan maxAge)
{
    private const string Base32 = "abcdefghijklmnopqrstuvwxyz234567";
    private const int HashLength = 6;

    public TimeSpan MaxAge => maxAge;

    /// <summary>RFC 5321 4.5.3.1.1: a local part is at most 64 octets. An SRS0 of a long address (or an SRS1 of a
    /// long SRS0) would pass it, and receivers may refuse such a sender; those leave as a stored key instead.</summary>
    public const int MaxLocalPartOctets = 64;

    /// <summary>The local part of a stored key: this prefix and <see cref="KeyLength"/> random base32 characters (80 bits).</summary>
    public const string KeyPrefix = "SRSK=";

    public const int KeyLength = 16;

    /// <summary>Whether <paramref name="address"/>'s local part is longer than SMTP allows.</summary>
    public static bool LocalPartTooLong(string address)
    {
        var at = address.LastIndexOf('@');
        return Encoding.UTF8.GetByteCount(at < 0 ? address : address[..at]) > MaxLocalPartOctets;
    }

    /// <summary>A new stored key's local part (lower case: servers may change its case, ours does).</summary>
    public static string NewKey()
    {
        var chars = new char[KeyLength];
        Span<byte> random = stackalloc byte[KeyLength];
        RandomNumberGenerator.Fill(random);
        for (var i = 0; i < KeyLength; i++) chars[i] = Base32[random[i] & 31];
        return KeyPrefix.ToLowerInvariant() + new string(chars);
    }

    /// <summary>The envelope sender to forward with: null stays null (a bounce is never rewritten); our own domain's senders stay as they are.</summary>
    public string? Forward(string? sender, string forwardingDomain)
    {
        if (string.IsNullOrEmpty(sender)) return null;
        var at = sender.LastIndexOf('@');
        if (at <= 0 || at == sender.Length - 1) return sender;
        var local = sender[..at];
        var domain = sender[(at + 1)..];
        if (domain.Equals(forwardingDomain, StringComparison.OrdinalIgnoreCase)) return sender;
        if (local.StartsWith("SRS0=", StringComparison.OrdinalIgnoreCase))
        {
            // Forwarding an SRS0 address of another forwarder: keep its (hop, tail), vouch for them ourselves.
            var tail = local[4..]; // "=HHHH=TT=orig=user"
            return $"SRS1={Hash(domain, tail)}={domain}={tail}@{forwardingDomain}";
        }
        if (local.StartsWith("SRS1=", StringComparison.OrdinalIgnoreCase) && SplitSrs1(local) is var (_, hop, srs0Tail))
            return $"SRS1={Hash(hop, srs0Tail)}={hop}={srs0Tail}@{forwardingDomain}";
        var stamp = Stamp(Today());
        return $"SRS0={Hash(stamp, domain, local)}={stamp}={domain}={local}@{forwardingDomain}";
    }

    /// <summary>Reads a local part of ours: not SRS, or the address it stands for, or forged or expired.</summary>
    public SrsReversal Reverse(string localPart)
    {
        if (localPart.StartsWith("SRS0=", StringComparison.OrdinalIgnoreCase))
        {
            // SRS0=HASH=TT=domain=local (the original local part may itself contain '=').
            var parts = localPart[5..].Split('=', 4);
            if (parts.Length != 4 || parts[2].Length == 0 || parts[3].Length == 0 || parts[1].Length != 2) return new(SrsStatus.Forged, null);
            if (!SameHash(parts[0], Hash(parts[1], parts[2], parts[3]))) return new(SrsStatus.Forged, null);
            if (DayOf(parts[1]) is not { } day) return new(SrsStatus.Forged, null);
            var age = ((Today() - day) % 1024 + 1024) % 1024;
            if (age > maxAge.TotalDays) return new(SrsStatus.Expired, null);
            return new(SrsStatus.Valid, $"{parts[3]}@{parts[2]}");
        }
        if (localPart.StartsWith("SRS1=", StringComparison.OrdinalIgnoreCase))
        {
            if (SplitSrs1(localPart) is not var (hash, hop, tail) || !SameHash(hash, Hash(hop, tail))) return new(SrsStatus.Forged, null);
            // Back to the forwarder before us, which checks its own SRS0.
            return new(SrsStatus.Valid, $"SRS0{tail}@{hop}");
        }
        if (localPart.StartsWith(KeyPrefix, StringComparison.OrdinalIgnoreCase))
        {
            var key = localPart[KeyPrefix.Length..];
            return key.Length == KeyLength && key.All(c => Base32.Contains(char.ToLowerInvariant(c)))
                ? new(SrsStatus.Keyed, null) : new(SrsStatus.Forged, null);
        }
        return new(SrsStatus.NotSrs, null);
    }

    /// <summary>SRS1=HASH=hop==rest → (HASH, hop, "=rest").</summary>
    private static (string Hash, string Hop, string Tail)? SplitSrs1(string local)
    {
        var body = local[5..];
        var first = body.IndexOf('=');
        if (first <= 0) return null;
        var split = body.IndexOf("==", first + 1, StringComparison.Ordinal);
        if (split <= first + 1) return null;
        var tail = body[(split + 1)..];
        return tail.Length > 1 ? (body[..first], body[(first + 1)..split], tail) : null;
    }

    private long Today() => clock.GetUtcNow().ToUnixTimeSeconds() / 86400;

    private static string Stamp(long day) => new([Base32[(int)(day >> 5 & 31)], Base32[(int)(day & 31)]]);

    private static long? DayOf(string stamp)
    {
        var hi = Base32.IndexOf(char.ToLowerInvariant(stamp[0]));
        var lo = Base32.IndexOf(char.ToLowerInvariant(stamp[1]));
        return hi < 0 || lo < 0 ? null : hi << 5 | lo;
    }

    private string Hash(params string[] fields)
    {
        var mac = HMACSHA256.HashData(secret, Encoding.UTF8.GetBytes(string.Join("|", fields).ToLowerInvariant()));
        var chars = new char[HashLength];
        ulong bits = 0;
        for (var i = 0; i < 5; i++) bits = bits << 8 | mac[i];
        for (var i = 0; i < HashLength; i++) chars[i] = Base32[(int)(bits >> (35 - 5 * i) & 31)];
        return new string(chars);
    }

    private static bool SameHash(string given, string expected) =>
        CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(given.ToLowerInvariant()), Encoding.ASCII.GetBytes(expected));
}

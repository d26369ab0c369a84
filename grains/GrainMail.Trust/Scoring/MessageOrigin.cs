using System.Security.Cryptography;
using System.Text;

namespace GrainMail.Trust.Scoring;

/// <summary>
/// Where an MX message came from, as reputation knows it: the sending network's key and, when DMARC
/// authenticated the From: domain, that domain's key; and whether the intake counted it as spam. The
/// accepted copy carries it, so that a user's later verdict (a move into or out of Junk) can correct the
/// very counts the message went into. <paramref name="Id"/> names the stamp itself (random, one per accepted
/// message): feedback is recorded once per id, so a genuine header copied into other messages (users can see
/// it, and append what they like) corrects the counts once in all, not once per copy.
/// </summary>
public sealed record MessageOrigin(string? NetworkKey, string? DomainKey, bool CountedSpam, string? Id = null)
{
    public IEnumerable<string> Keys => new[] { NetworkKey, DomainKey }.OfType<string>();

    /// <summary>A new stamp id: 16 random bytes, hex.</summary>
    public static string NewId() => Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16));
}

/// <summary>
/// The <c>X-Spam-Origin</c> header that remembers a <see cref="MessageOrigin"/> in the stored message. It is
/// MACed with a node key (HMAC-SHA256, first 16 bytes): anyone can write such a header into mail they send,
/// and a forged one must not let a user's Junk move charge someone else's network or domain. Ours goes in
/// front of the message bytes, so the first such header is the one to read; a header that fails the MAC is
/// ignored. Pure code.
/// </summary>
public sealed class OriginStamp(byte[] key)
{
    public const string HeaderName = "X-Spam-Origin";

    /// <summary>The header line, CRLF-terminated.</summary>
    public string Header(MessageOrigin origin)
    {
        var value = Value(origin);
        return $"{HeaderName}: {value}; mac={Mac(value)}\r\n";
    }

    /// <summary>The origin the first <c>X-Spam-Origin</c> value names, or null when there is none or its MAC is wrong.</summary>
    public MessageOrigin? Read(string? headerValue)
    {
        if (headerValue is null) return null;
        var text = headerValue.Replace("\r", "").Replace("\n", "").Replace("\t", " ").Trim();
        var macAt = text.LastIndexOf("; mac=", StringComparison.Ordinal);
        if (macAt < 0) return null;
        var value = text[..macAt];
        var mac = text[(macAt + "; mac=".Length)..].Trim();
        if (!CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(mac), Encoding.ASCII.GetBytes(Mac(value)))) return null;
        string? net = null, domain = null, id = null;
        bool? spam = null;
        foreach (var field in value.Split(';', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
        {
            var eq = field.IndexOf('=');
            if (eq <= 0) return null;
            var (name, v) = (field[..eq], field[(eq + 1)..]);
            switch (name)
            {
                case "net": net = v; break;
                case "domain": domain = v; break;
                case "id": id = v; break;
                case "counted": spam = v == "spam" ? true : v == "ham" ? false : null; break;
            }
        }
        return spam is null ? null : new MessageOrigin(net, domain, spam.Value, id);
    }

    private static string Value(MessageOrigin o)
    {
        // The fields joined by "; " in this order, written into one builder (every accepted MX message has a stamp).
        var b = new StringBuilder(128);
        if (o.NetworkKey is { } n) b.Append("net=").Append(n).Append("; ");
        if (o.DomainKey is { } d) b.Append("domain=").Append(d).Append("; ");
        b.Append("counted=").Append(o.CountedSpam ? "spam" : "ham");
        if (o.Id is { } id) b.Append("; id=").Append(id);
        return b.ToString();
    }

    private string Mac(string value)
    {
        // The value's bytes and the MAC on the stack (values are short); one-shot HMAC, no instance per call.
        var length = Encoding.UTF8.GetByteCount(value);
        var rented = length > 512 ? System.Buffers.ArrayPool<byte>.Shared.Rent(length) : null;
        try
        {
            var bytes = rented is null ? stackalloc byte[length] : rented.AsSpan(0, length);
            Encoding.UTF8.GetBytes(value, bytes);
            Span<byte> mac = stackalloc byte[HMACSHA256.HashSizeInBytes];
            HMACSHA256.HashData(key, bytes, mac);
            return Convert.ToHexStringLower(mac[..16]);
        }
        finally
        {
            if (rented is not null) System.Buffers.ArrayPool<byte>.Shared.Return(rented);
        }
    }
}

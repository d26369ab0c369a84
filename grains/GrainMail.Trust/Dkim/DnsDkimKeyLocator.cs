using System.Collections.Concurrent;
using GrainMail.Trust.Dns;
using MimeKit;
using MimeKit.Cryptography;
using Org.BouncyCastle.Crypto;

namespace GrainMail.Trust.Dkim;

/// <summary>A DKIM key record could not be fetched because DNS failed (RFC 6376 6.1.2: TEMPFAIL).</summary>
public sealed class DkimKeyTemporaryException(string message) : Exception(message);

/// <summary>There is no usable key record at selector._domainkey.domain (RFC 6376 6.1.2: PERMFAIL).</summary>
public sealed class DkimKeyMissingException(string message) : Exception(message);

/// <summary>MimeKit's public-key locator over <see cref="ITrustDns"/>: the key record is the TXT at
/// selector._domainkey.domain (RFC 6376 3.6.2.1). Used by DKIM and ARC verification alike.
/// The record is asked for every time (its TTL decides, through the resolver's cache), but the key parsed from
/// a given record text is kept: BouncyCastle checks an RSA modulus for primality when it makes a key from it,
/// which cost ~15 ms per message, 93 % of the whole check pipeline (measured with the pipeline profile, see
/// docs/benchmarks.md). The same text always gives the same key, so reusing it changes no verdict.</summary>
public sealed class DnsDkimKeyLocator(ITrustDns dns) : DkimPublicKeyLocatorBase
{
    /// <summary>Distinct key records kept; past it the cache starts over (a new record only costs one parse).</summary>
    public const int KeyCacheCapacity = 10_000;

    private readonly ConcurrentDictionary<string, AsymmetricKeyParameter> _keys = new(StringComparer.Ordinal);

    public override AsymmetricKeyParameter LocatePublicKey(string methods, string domain, string selector, CancellationToken cancellationToken = default) =>
        LocatePublicKeyAsync(methods, domain, selector, cancellationToken).GetAwaiter().GetResult();

    public override async Task<AsymmetricKeyParameter> LocatePublicKeyAsync(string methods, string domain, string selector, CancellationToken cancellationToken = default)
    {
        // q= lists query methods; dns/txt is the only one defined (3.5) and the default.
        if (!string.IsNullOrEmpty(methods) && !methods.Split(':').Any(m => m.Trim().Equals("dns/txt", StringComparison.OrdinalIgnoreCase)))
            throw new DkimKeyMissingException($"no supported key query method in q={methods}");
        var name = $"{selector}._domainkey.{domain}";
        var answer = await dns.TxtAsync(name, cancellationToken);
        if (answer.Status == DnsStatus.Error) throw new DkimKeyTemporaryException($"DNS error looking up {name}");
        if (answer.Records.Count == 0) throw new DkimKeyMissingException($"no key record at {name}");
        Exception? last = null;
        foreach (var txt in answer.Records)
        {
            try
            {
                if (_keys.TryGetValue(txt, out var known)) return known;
                var key = GetPublicKey(txt);
                if (_keys.Count >= KeyCacheCapacity) _keys.Clear();
                _keys[txt] = key;
                return key;
            }
            catch (Exception e) when (e is FormatException or ParseException or ArgumentException or InvalidOperationException)
            {
                last = e;
            }
        }
        throw new DkimKeyMissingException($"the key record at {name} is not usable: {last?.Message}");
    }
}

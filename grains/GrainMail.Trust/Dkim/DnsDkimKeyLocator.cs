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
/// selector._domainkey.domain (RFC 6376 3.6.2.1). Used by DKIM and ARC verification alike.</summary>
public sealed class DnsDkimKeyLocator(ITrustDns dns) : DkimPublicKeyLocatorBase
{
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
                return GetPublicKey(txt);
            }
            catch (Exception e) when (e is FormatException or ParseException or ArgumentException or InvalidOperationException)
            {
                last = e;
            }
        }
        throw new DkimKeyMissingException($"the key record at {name} is not usable: {last?.Message}");
    }
}

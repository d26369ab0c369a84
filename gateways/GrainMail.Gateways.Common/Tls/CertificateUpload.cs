using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using GrainMail.Contracts.Tls;

namespace GrainMail.Gateways.Common.Tls;

/// <summary>The outcome of checking an uploaded certificate: the record to store, or why not (a 400's detail).</summary>
public sealed record CertificateCheck(DomainCertificateInfo? Info, string? Error)
{
    public bool Ok => Error is null;
}

/// <summary>
/// Checks an operator's certificate for a mail domain before it is stored (pure: no I/O). A chain
/// (PEM, leaf first, intermediates after, each issued by the next) and an unencrypted private key
/// (PKCS#8, PKCS#1 or SEC1 PEM) that belongs to the leaf; the leaf valid now, usable for TLS
/// servers (RFC 5280 4.2.1.12: if it restricts its use, serverAuth is among them), and naming the
/// domain or a host in it (example.com, mail.example.com, *.example.com) — a certificate for
/// another domain would be served to that domain's clients, which reject it.
/// </summary>
public static class CertificateUpload
{
    public const int MaxChainPemChars = 64 * 1024;
    public const int MaxKeyPemChars = 16 * 1024;
    private const string ServerAuth = "1.3.6.1.5.5.7.3.1";

    public static CertificateCheck Check(string domain, string? chainPem, string? keyPem, DateTimeOffset now)
    {
        if (string.IsNullOrWhiteSpace(chainPem)) return Fail("certificatePem is required");
        if (string.IsNullOrWhiteSpace(keyPem)) return Fail("keyPem is required");
        if (chainPem.Length > MaxChainPemChars) return Fail($"certificatePem is longer than {MaxChainPemChars} characters");
        if (keyPem.Length > MaxKeyPemChars) return Fail($"keyPem is longer than {MaxKeyPemChars} characters");
        if (keyPem.Contains("ENCRYPTED", StringComparison.Ordinal)) return Fail("the private key is encrypted; upload it without a passphrase");

        var chain = new X509Certificate2Collection();
        try
        {
            chain.ImportFromPem(chainPem);
        }
        catch (CryptographicException)
        {
            return Fail("certificatePem is not a PEM certificate chain");
        }
        if (chain.Count == 0) return Fail("certificatePem holds no certificate");
        try
        {
            var leaf = chain[0];
            // The order first: with an issuer first, the key would be checked against the wrong certificate.
            for (var i = 1; i < chain.Count; i++)
            {
                if (chain[i - 1].IssuerName.RawData.AsSpan().SequenceEqual(chain[i].SubjectName.RawData)) continue;
                return Fail($"certificate {i + 1} of the chain did not issue certificate {i}: put the leaf first, then each issuer");
            }
            using (var withKey = LoadWithKey(chainPem, keyPem, out var keyError))
            {
                if (withKey is null) return Fail(keyError!);
            }
            var notBefore = new DateTimeOffset(leaf.NotBefore.ToUniversalTime());
            var notAfter = new DateTimeOffset(leaf.NotAfter.ToUniversalTime());
            if (notAfter <= now) return Fail($"the certificate expired on {notAfter:yyyy-MM-dd HH:mm} UTC");
            if (notBefore > now) return Fail($"the certificate is not valid before {notBefore:yyyy-MM-dd HH:mm} UTC");
            if (leaf.Extensions.OfType<X509EnhancedKeyUsageExtension>().FirstOrDefault() is { } eku
                && !eku.EnhancedKeyUsages.Cast<Oid>().Any(o => o.Value == ServerAuth))
                return Fail("the certificate is not for TLS servers (its extended key usage lacks serverAuth)");
            var names = DnsNames(leaf);
            if (!names.Any(n => Covers(n, domain)))
                return Fail($"the certificate does not cover {domain}: it names {(names.Count == 0 ? "no host" : string.Join(", ", names))}");
            return new CertificateCheck(new DomainCertificateInfo(domain, leaf.Subject, names, notBefore, notAfter,
                leaf.GetCertHashString(HashAlgorithmName.SHA256).ToLowerInvariant(), now, chain.Count), null);
        }
        finally
        {
            foreach (var c in chain) c.Dispose();
        }
    }

    /// <summary>The leaf with its private key, ready for SslStream; null (and why) when the key is unreadable or not the leaf's.</summary>
    public static X509Certificate2? LoadWithKey(string chainPem, string keyPem, out string? error)
    {
        try
        {
            using var pem = X509Certificate2.CreateFromPem(chainPem, keyPem);
            error = null;
            // Re-imported as PKCS#12, as TlsCertificate does, so the key is usable by SslStream on every platform.
            return X509CertificateLoader.LoadPkcs12(pem.Export(X509ContentType.Pkcs12), null);
        }
        catch (CryptographicException e) when (e.Message.Contains("match", StringComparison.OrdinalIgnoreCase))
        {
            error = "the private key does not belong to the certificate";
        }
        catch (CryptographicException)
        {
            error = "keyPem is not a readable private key (PKCS#8, RSA or EC PEM)";
        }
        catch (ArgumentException)
        {
            error = "keyPem holds no private key";
        }
        return null;
    }

    /// <summary>The DNS names of a certificate: its subjectAltName entries (RFC 6125 6.4.4: the CN only without them).</summary>
    public static IReadOnlyList<string> DnsNames(X509Certificate2 cert)
    {
        var san = cert.Extensions.OfType<X509SubjectAlternativeNameExtension>().FirstOrDefault();
        if (san is not null) return san.EnumerateDnsNames().Select(n => n.ToLowerInvariant()).Distinct().ToList();
        var cn = cert.GetNameInfo(X509NameType.DnsName, forIssuer: false);
        return string.IsNullOrEmpty(cn) ? [] : [cn.ToLowerInvariant()];
    }

    /// <summary>Whether a certificate name is the domain or a host in it (a wildcard counts for the hosts it stands for).</summary>
    public static bool Covers(string certificateName, string domain)
    {
        var name = certificateName.TrimEnd('.').ToLowerInvariant();
        if (name.StartsWith("*.", StringComparison.Ordinal)) name = name[2..];
        return name == domain || name.EndsWith("." + domain, StringComparison.Ordinal);
    }

    private static CertificateCheck Fail(string error) => new(null, error);
}

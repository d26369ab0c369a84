using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace GrainMail.Gateways.Common.Tls;

/// <summary>
/// What every TLS listener (HTTPS, SMTP, IMAP, POP3, ManageSieve) presents: the certificate of the
/// domain the client names in SNI when an operator uploaded one (<see cref="Domains"/>), else the
/// node's own (configured, or the embedded default's self-signed one).
/// </summary>
public sealed record ServerTls(X509Certificate2 Certificate)
{
    private readonly Lazy<SslStreamCertificateContext> _default = new(() => SslStreamCertificateContext.Create(Certificate, null, offline: true));

    /// <summary>The per-domain certificates; null where none are served (tests of one listener).</summary>
    public DomainCertificates? Domains { get; init; }

    /// <summary>The certificate for a handshake that asked for <paramref name="serverName"/> (null: no SNI).</summary>
    public SslStreamCertificateContext For(string? serverName) => Domains?.Find(serverName) ?? _default.Value;

    /// <summary>Server options of a handshake, TLS 1.2 or 1.3, with the certificate picked by SNI.</summary>
    public SslServerAuthenticationOptions OptionsFor(string? serverName, List<SslApplicationProtocol>? alpn = null) => new()
    {
        ServerCertificateContext = For(serverName),
        EnabledSslProtocols = System.Security.Authentication.SslProtocols.Tls12 | System.Security.Authentication.SslProtocols.Tls13,
        ClientCertificateRequired = false,
        ApplicationProtocols = alpn,
    };
}

/// <summary>The server certificate: configured PEM files, or a self-signed one made once into the data directory.</summary>
public static class TlsCertificate
{
    public static X509Certificate2 Load(string? certPem, string? keyPem, string dataDir, string hostName)
    {
        if (!string.IsNullOrEmpty(certPem) && !string.IsNullOrEmpty(keyPem)) return FromPem(certPem, keyPem);
        var dir = Path.Combine(dataDir, "tls");
        var cert = Path.Combine(dir, "cert.pem");
        var key = Path.Combine(dir, "key.pem");
        if (!File.Exists(cert) || !File.Exists(key))
        {
            Directory.CreateDirectory(dir);
            using var ecdsa = ECDsa.Create(ECCurve.NamedCurves.nistP256);
            var req = new CertificateRequest($"CN={hostName}", ecdsa, HashAlgorithmName.SHA256);
            var san = new SubjectAlternativeNameBuilder();
            san.AddDnsName(hostName);
            san.AddDnsName("localhost");
            san.AddIpAddress(System.Net.IPAddress.Loopback);
            req.CertificateExtensions.Add(san.Build());
            req.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, critical: true));
            req.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1")], critical: false));
            using var made = req.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddYears(5));
            GrainMail.Operations.SecretFile.Write(key, ecdsa.ExportPkcs8PrivateKeyPem());
            File.WriteAllText(cert, made.ExportCertificatePem() + "\n");
        }
        return FromPem(cert, key);
    }

    // Each setting is a PEM file's path or the PEM text itself: a Kubernetes secret handed over as
    // an environment variable (k8s/base) is the text, a mounted file or the embedded default a path.
    // Re-imported as PKCS#12 so that the private key is usable by SslStream on every platform.
    private static X509Certificate2 FromPem(string certPem, string keyPem)
    {
        using var pem = X509Certificate2.CreateFromPem(PemText(certPem), PemText(keyPem));
        return X509CertificateLoader.LoadPkcs12(pem.Export(X509ContentType.Pkcs12), null);
    }

    private static string PemText(string pathOrPem) =>
        pathOrPem.TrimStart().StartsWith("-----BEGIN ", StringComparison.Ordinal) ? pathOrPem : File.ReadAllText(pathOrPem);
}

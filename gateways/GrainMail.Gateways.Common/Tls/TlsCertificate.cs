using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace GrainMail.Gateways.Common.Tls;

/// <summary>The certificate every TLS listener (SMTP, IMAP, POP3) presents.</summary>
public sealed record ServerTls(X509Certificate2 Certificate);

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

    // Re-imported as PKCS#12 so that the private key is usable by SslStream on every platform.
    private static X509Certificate2 FromPem(string certPem, string keyPem)
    {
        using var pem = X509Certificate2.CreateFromPemFile(certPem, keyPem);
        return X509CertificateLoader.LoadPkcs12(pem.Export(X509ContentType.Pkcs12), null);
    }
}

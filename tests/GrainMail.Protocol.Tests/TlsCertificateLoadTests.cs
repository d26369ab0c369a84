using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using GrainMail.Gateways.Common.Tls;

namespace GrainMail.Protocol.Tests;

/// <summary>
/// The node's certificate setting takes a PEM file's path (a mounted secret, the embedded default)
/// or the PEM text itself (k8s/base hands the secret over as an environment variable).
/// </summary>
public sealed class TlsCertificateLoadTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("grainmail-tls-").FullName;

    private static (string Cert, string Key) MakePem(string name)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var req = new CertificateRequest($"CN={name}", key, HashAlgorithmName.SHA256);
        using var cert = req.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(1));
        return (cert.ExportCertificatePem(), key.ExportPkcs8PrivateKeyPem());
    }

    [Fact]
    public void Pem_text_in_the_setting_is_the_certificate_with_its_key()
    {
        var (cert, key) = MakePem("text.example");
        using var loaded = TlsCertificate.Load("\n" + cert, key, _dir, "node.example");
        Assert.Equal("CN=text.example", loaded.Subject);
        Assert.True(loaded.HasPrivateKey);
        Assert.False(Directory.Exists(Path.Combine(_dir, "tls")), "no self-signed pair is made when one is configured");
    }

    [Fact]
    public void Paths_in_the_setting_are_read_as_files()
    {
        var (cert, key) = MakePem("file.example");
        File.WriteAllText(Path.Combine(_dir, "c.pem"), cert);
        File.WriteAllText(Path.Combine(_dir, "k.pem"), key);
        using var loaded = TlsCertificate.Load(Path.Combine(_dir, "c.pem"), Path.Combine(_dir, "k.pem"), _dir, "node.example");
        Assert.Equal("CN=file.example", loaded.Subject);
        Assert.True(loaded.HasPrivateKey);
    }

    [Fact]
    public void A_key_that_is_not_the_certificates_is_refused()
    {
        var (cert, _) = MakePem("a.example");
        var (_, otherKey) = MakePem("b.example");
        // .NET says ArgumentException for a key of another certificate, CryptographicException for one it cannot read.
        var refused = Record.Exception(() => TlsCertificate.Load(cert, otherKey, _dir, "node.example"));
        Assert.True(refused is ArgumentException or CryptographicException, refused?.ToString() ?? "no exception");
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);
}

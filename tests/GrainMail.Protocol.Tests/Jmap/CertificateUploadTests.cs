using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using GrainMail.Contracts.Tls;
using GrainMail.Gateways.Common.Tls;
using Microsoft.Extensions.Logging.Abstractions;

namespace GrainMail.Protocol.Tests.Jmap;

/// <summary>The checks of an uploaded domain certificate, and the choice by SNI over a real TLS handshake (TlsLayer).</summary>
public sealed class CertificateUploadTests : IDisposable
{
    private readonly RSA _caKey = RSA.Create(2048);
    private readonly X509Certificate2 _ca;
    private static readonly DateTimeOffset Now = DateTimeOffset.UtcNow;

    public CertificateUploadTests()
    {
        var req = new CertificateRequest("CN=Upload Test CA", _caKey, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        req.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        _ca = req.CreateSelfSigned(Now.AddDays(-365), Now.AddYears(1));
    }

    public void Dispose()
    {
        _ca.Dispose();
        _caKey.Dispose();
    }

    private (string Chain, string Key) Issue(string[] names, DateTimeOffset? from = null, DateTimeOffset? to = null, string? eku = "1.3.6.1.5.5.7.3.1")
    {
        // RSA like the CA: CertificateRequest.Create signs with the issuer's key type.
        using var key = RSA.Create(2048);
        var req = new CertificateRequest($"CN={names.FirstOrDefault() ?? "nobody"}", key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        if (names.Length > 0)
        {
            var san = new SubjectAlternativeNameBuilder();
            foreach (var n in names) san.AddDnsName(n);
            req.CertificateExtensions.Add(san.Build());
        }
        if (eku is not null) req.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid(eku)], false));
        using var cert = req.Create(_ca, from ?? Now.AddDays(-1), to ?? Now.AddDays(90), RandomNumberGenerator.GetBytes(8));
        return (cert.ExportCertificatePem() + "\n" + _ca.ExportCertificatePem(), key.ExportPkcs8PrivateKeyPem());
    }

    [Theory]
    [InlineData("example.com", true)]
    [InlineData("mail.example.com", true)]
    [InlineData("*.example.com", true)]
    [InlineData("a.b.example.com", true)]
    [InlineData("EXAMPLE.COM.", true)]
    [InlineData("badexample.com", false)]
    [InlineData("example.com.cn", false)]
    [InlineData("*.com", false)]
    public void A_name_covers_its_domain_and_hosts_in_it(string name, bool covers) =>
        Assert.Equal(covers, CertificateUpload.Covers(name, "example.com"));

    [Fact]
    public void A_good_chain_is_accepted_with_its_names_dates_and_fingerprint()
    {
        var (chain, key) = Issue(["mail.example.com", "example.com"]);
        var check = CertificateUpload.Check("example.com", chain, key, Now);
        Assert.True(check.Ok, check.Error);
        Assert.Equal(["mail.example.com", "example.com"], check.Info!.Names);
        Assert.Equal(2, check.Info.ChainLength);
        Assert.Equal(64, check.Info.Sha256.Length);
    }

    [Fact]
    public void Bad_uploads_are_refused_with_the_reason()
    {
        var (chain, key) = Issue(["mail.example.com"]);
        var (_, otherKey) = Issue(["mail.example.com"]);
        var expired = Issue(["example.com"], Now.AddDays(-60), Now.AddDays(-1));
        Assert.Contains("expired", CertificateUpload.Check("example.com", expired.Chain, expired.Key, Now).Error);
        var future = Issue(["example.com"], Now.AddDays(2), Now.AddDays(60));
        Assert.Contains("not valid before", CertificateUpload.Check("example.com", future.Chain, future.Key, Now).Error);
        Assert.Contains("does not belong", CertificateUpload.Check("example.com", chain, otherKey, Now).Error);
        Assert.Contains("does not cover example.org", CertificateUpload.Check("example.org", chain, key, Now).Error);
        var client = Issue(["example.com"], eku: "1.3.6.1.5.5.7.3.2");
        Assert.Contains("serverAuth", CertificateUpload.Check("example.com", client.Chain, client.Key, Now).Error);
        Assert.Contains("required", CertificateUpload.Check("example.com", null, key, Now).Error);
        Assert.Contains("required", CertificateUpload.Check("example.com", chain, " ", Now).Error);
        Assert.Contains("encrypted", CertificateUpload.Check("example.com", chain, "-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----", Now).Error);
        Assert.Contains("no certificate", CertificateUpload.Check("example.com", "-----BEGIN CERTIFICATE-----\n!!\n-----END CERTIFICATE-----", key, Now).Error);
        Assert.Contains("no certificate", CertificateUpload.Check("example.com", "just text", key, Now).Error);
        Assert.Contains("readable private key", CertificateUpload.Check("example.com", chain, "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----", Now).Error);
        var leafOnly = chain[..(chain.IndexOf("-----END CERTIFICATE-----", StringComparison.Ordinal) + 25)];
        Assert.Contains("did not issue", CertificateUpload.Check("example.com", _ca.ExportCertificatePem() + "\n" + leafOnly, key, Now).Error);
        Assert.Contains("longer than", CertificateUpload.Check("example.com", chain + new string(' ', CertificateUpload.MaxChainPemChars), key, Now).Error);
    }

    [Fact]
    public async Task The_handshake_presents_the_certificate_of_the_name_asked_for()
    {
        var a = Issue(["mail.a.test", "a.test"]);
        var b = Issue(["*.b.test"]);
        var domains = new DomainCertificates(null!, NullLogger<DomainCertificates>.Instance);
        domains.Use([new DomainCertificate("a.test", a.Chain, a.Key), new DomainCertificate("b.test", b.Chain, b.Key)]);
        using var fallbackKey = ECDsa.Create();
        using var fallback = new CertificateRequest("CN=node", fallbackKey, HashAlgorithmName.SHA256).CreateSelfSigned(Now.AddDays(-1), Now.AddDays(1));
        var tls = new ServerTls(X509CertificateLoader.LoadPkcs12(fallback.Export(X509ContentType.Pkcs12), null)) { Domains = domains };

        Assert.Equal("CN=mail.a.test", (await Handshake(tls, "mail.a.test")).Subject);
        Assert.Equal("CN=mail.a.test", (await Handshake(tls, "A.TEST")).Subject);
        Assert.Equal("CN=*.b.test", (await Handshake(tls, "imap.b.test")).Subject);
        Assert.Equal("CN=node", (await Handshake(tls, "b.test")).Subject); // *.b.test does not cover b.test itself
        Assert.Equal("CN=node", (await Handshake(tls, "smtp.a.test")).Subject);
        Assert.Equal("CN=node", (await Handshake(tls, "c.test")).Subject);
        Assert.Equal("CN=node", (await Handshake(tls, null)).Subject);
    }

    private static async Task<X509Certificate2> Handshake(ServerTls tls, string? name)
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        using var client = new TcpClient();
        var connect = client.ConnectAsync(IPAddress.Loopback, ((IPEndPoint)listener.LocalEndpoint).Port);
        using var server = await listener.AcceptTcpClientAsync();
        await connect;
        var serverSide = TlsLayer.StartAsync(server.GetStream(), tls, CancellationToken.None);
        X509Certificate2? seen = null;
        await using var ssl = new SslStream(client.GetStream());
        await ssl.AuthenticateAsClientAsync(new SslClientAuthenticationOptions
        {
            TargetHost = name ?? "",
            RemoteCertificateValidationCallback = (_, cert, _, _) =>
            {
                seen = X509CertificateLoader.LoadCertificate(cert!.GetRawCertData());
                return true;
            },
        });
        await using var layer = await serverSide;
        return seen!;
    }
}

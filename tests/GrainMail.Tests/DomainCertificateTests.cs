using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;
using GrainMail.Tests.Infrastructure;
using MailKit.Net.Imap;
using MailKit.Security;

namespace GrainMail.Tests;

/// <summary>
/// Per-domain certificates (seed 4.2.19): uploaded through the admin API, kept with the key sealed,
/// and presented by SNI on every TLS listener — HTTPS, SMTP (465 and STARTTLS), IMAP (993 and
/// STARTTLS), POP3 (995 and STLS), ManageSieve — by real TLS clients (SslStream, MailKit, openssl
/// s_client), also after the host restarts; the node's own certificate otherwise.
/// </summary>
public sealed class DomainCertificateTests(JmapExtrasHost fixture) : IClassFixture<JmapExtrasHost>, IDisposable
{
    private readonly TestPki _pki = new();

    public void Dispose() => _pki.Dispose();

    private static object Upload(X509Certificate2 cert, X509Certificate2? keyOf = null, string extraChain = "") => new
    {
        certificatePem = cert.ExportCertificatePem() + "\n" + extraChain,
        keyPem = (keyOf ?? cert).GetRSAPrivateKey()!.ExportPkcs8PrivateKeyPem(),
    };

    private (int Port, TlsStart Start, string Listener)[] Listeners() =>
    [
        (fixture.HttpsPort, TlsStart.Implicit, "HTTPS"),
        (fixture.Ports.Submissions, TlsStart.Implicit, "SMTP 465"),
        (fixture.Ports.Submission, TlsStart.Smtp, "SMTP STARTTLS"),
        (fixture.Ports.Mx, TlsStart.Smtp, "SMTP MX STARTTLS"),
        (fixture.Ports.Imaps, TlsStart.Implicit, "IMAP 993"),
        (fixture.Ports.Imap, TlsStart.Imap, "IMAP STARTTLS"),
        (fixture.Ports.Pop3s, TlsStart.Implicit, "POP3 995"),
        (fixture.Ports.Pop3, TlsStart.Pop3, "POP3 STLS"),
        (fixture.ManageSievePort, TlsStart.ManageSieve, "ManageSieve STARTTLS"),
    ];

    [Fact]
    public async Task Every_TLS_listener_presents_the_certificate_of_the_domain_asked_for_by_SNI_also_after_a_restart()
    {
        var d1 = await fixture.NewDomain("c");
        var d2 = await fixture.NewDomain("c");
        using var c1 = _pki.Issue("mail." + d1, d1);
        using var c2 = _pki.Issue("*." + d2);
        var r1 = await fixture.Super.PutAsJsonAsync($"/api/v1/domains/{d1}/certificate", Upload(c1, extraChain: _pki.Ca.ExportCertificatePem()));
        Assert.True(r1.StatusCode == HttpStatusCode.OK, await r1.Content.ReadAsStringAsync());
        var shown = await r1.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal(c1.GetCertHashString(HashAlgorithmName.SHA256).ToLowerInvariant(), shown.GetProperty("sha256").GetString());
        Assert.Equal(2, shown.GetProperty("chainLength").GetInt32());
        Assert.Equal(HttpStatusCode.OK, (await fixture.Super.PutAsJsonAsync($"/api/v1/domains/{d2}/certificate", Upload(c2))).StatusCode);
        var defaultCert = fixture.DefaultCertificate;

        async Task AllListeners()
        {
            foreach (var (port, start, listener) in Listeners())
            {
                Assert.True(Same(c1, await TlsProbe.PresentedAsync(port, "mail." + d1, start)), $"{listener}: mail.{d1}");
                Assert.True(Same(c1, await TlsProbe.PresentedAsync(port, d1, start)), $"{listener}: {d1}");
                Assert.True(Same(c2, await TlsProbe.PresentedAsync(port, "imap." + d2, start)), $"{listener}: imap.{d2}");
                // A name the domain's certificate does not cover, an unknown domain, no SNI: the node's own.
                Assert.True(Same(defaultCert, await TlsProbe.PresentedAsync(port, "other." + d1, start)), $"{listener}: other.{d1}");
                Assert.True(Same(defaultCert, await TlsProbe.PresentedAsync(port, "nobody.test", start)), $"{listener}: nobody.test");
                Assert.True(Same(defaultCert, await TlsProbe.PresentedAsync(port, null, start)), $"{listener}: no SNI");
            }
        }
        await AllListeners();

        // A client that verifies: trusting the test CA, HTTPS by name validates without any callback leniency.
        using (var handler = new SocketsHttpHandler
        {
            ConnectCallback = async (_, ct) =>
            {
                var s = new Socket(SocketType.Stream, ProtocolType.Tcp);
                await s.ConnectAsync(IPAddress.Loopback, fixture.HttpsPort, ct);
                return new NetworkStream(s, ownsSocket: true);
            },
            SslOptions =
            {
                RemoteCertificateValidationCallback = (_, cert, _, errors) =>
                {
                    using var chain = new X509Chain();
                    chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
                    chain.ChainPolicy.CustomTrustStore.Add(_pki.Ca);
                    chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
                    return (errors & ~SslPolicyErrors.RemoteCertificateChainErrors) == SslPolicyErrors.None && chain.Build(X509CertificateLoader.LoadCertificate(cert!.GetRawCertData()));
                },
            },
        })
        using (var verified = new HttpClient(handler))
        {
            Assert.Equal(HttpStatusCode.OK, (await verified.GetAsync($"https://mail.{d1}:{fixture.HttpsPort}/healthz")).StatusCode);
        }

        // MailKit over IMAP 993, asking for mail.d1 (connected by address, named by SNI).
        X509Certificate2? mailkitSaw = null;
        using (var imap = new ImapClient { ServerCertificateValidationCallback = (_, cert, _, _) => { mailkitSaw = X509CertificateLoader.LoadCertificate(cert!.GetRawCertData()); return true; } })
        {
            var socket = new Socket(SocketType.Stream, ProtocolType.Tcp);
            await socket.ConnectAsync(IPAddress.Loopback, fixture.Ports.Imaps);
            await imap.ConnectAsync(socket, "mail." + d1, fixture.Ports.Imaps, SecureSocketOptions.SslOnConnect);
            await imap.DisconnectAsync(true);
        }
        Assert.Equal(c1.Thumbprint, mailkitSaw!.Thumbprint);

        // openssl s_client, SMTP STARTTLS, asking for the wildcard's domain.
        Assert.Equal(c2.GetCertHashString(HashAlgorithmName.SHA256), OpensslFingerprint(fixture.Ports.Submission, "smtp." + d2, "smtp"));

        // The key is sealed: nothing of the PEM key is in the database.
        await using (var conn = new Npgsql.NpgsqlConnection(fixture.ConnectionString))
        {
            await conn.OpenAsync();
            await using var cmd = new Npgsql.NpgsqlCommand("SELECT sealed_key FROM domain_certificate WHERE domain = @d", conn);
            cmd.Parameters.AddWithValue("d", d1);
            var stored = (byte[])(await cmd.ExecuteScalarAsync())!;
            Assert.DoesNotContain("PRIVATE KEY", System.Text.Encoding.Latin1.GetString(stored));
        }

        await fixture.RestartAsync();
        // After the restart the listeners load the certificates from the silo as soon as it answers.
        await Eventually.Until(async () => Same(c1, await TlsProbe.PresentedAsync(fixture.Ports.Imaps, "mail." + d1, TlsStart.Implicit)),
            TimeSpan.FromSeconds(30), "the domain certificate after the restart");
        await AllListeners();

        // Removed: back to the node's own.
        Assert.Equal(HttpStatusCode.NoContent, (await fixture.Super.DeleteAsync($"/api/v1/domains/{d1}/certificate")).StatusCode);
        Assert.True(Same(defaultCert, await TlsProbe.PresentedAsync(fixture.Ports.Pop3s, "mail." + d1, TlsStart.Implicit)));
        Assert.Equal(HttpStatusCode.NotFound, (await fixture.Super.GetAsync($"/api/v1/domains/{d1}/certificate")).StatusCode);
    }

    [Fact]
    public async Task Expired_mismatched_and_foreign_certificates_are_refused_with_a_clear_400_and_every_upload_is_audited()
    {
        var d = await fixture.NewDomain("r");
        async Task<string> Refused(object body)
        {
            var r = await fixture.Super.PutAsJsonAsync($"/api/v1/domains/{d}/certificate", body);
            Assert.Equal(HttpStatusCode.BadRequest, r.StatusCode);
            return (await r.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("detail").GetString()!;
        }

        using var expired = SelfSigned(d, DateTimeOffset.UtcNow.AddDays(-30), DateTimeOffset.UtcNow.AddDays(-1));
        Assert.Contains("expired", await Refused(Upload(expired)));
        using var good = _pki.Issue("mail." + d);
        using var other = _pki.Issue("mail." + d);
        Assert.Contains("does not belong", await Refused(Upload(good, keyOf: other)));
        using var foreign = _pki.Issue("mail.elsewhere.test");
        Assert.Contains($"does not cover {d}", await Refused(Upload(foreign)));
        Assert.Contains("not a PEM", await Refused(new { certificatePem = "-----BEGIN CERTIFICATE-----\nnope\n-----END CERTIFICATE-----", keyPem = "x" }));
        Assert.Contains("required", await Refused(new { keyPem = "x" }));
        // Chain in the wrong order (the issuer first).
        Assert.Contains("did not issue", await Refused(new { certificatePem = _pki.Ca.ExportCertificatePem() + "\n" + good.ExportCertificatePem(), keyPem = good.GetRSAPrivateKey()!.ExportPkcs8PrivateKeyPem() }));
        Assert.Equal(HttpStatusCode.NotFound, (await fixture.Super.PutAsJsonAsync("/api/v1/domains/nosuch.test/certificate", Upload(good))).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await fixture.Super.PutAsJsonAsync($"/api/v1/domains/{d}/certificate", Upload(good))).StatusCode);

        var audit = await fixture.Super.GetFromJsonAsync<JsonElement>($"/api/v1/audit?action=domain.certificate&target={d}");
        var results = audit.GetProperty("items").EnumerateArray().Select(e => (e.GetProperty("action").GetString(), e.GetProperty("result").GetString())).ToList();
        Assert.Contains(("domain.certificate.set", "ok"), results);
        Assert.Contains(("domain.certificate.set", "failed"), results);
    }

    private static bool Same(X509Certificate2 a, X509Certificate2 b) => a.RawData.AsSpan().SequenceEqual(b.RawData);

    private static X509Certificate2 SelfSigned(string name, DateTimeOffset from, DateTimeOffset to)
    {
        using var key = RSA.Create(2048);
        var req = new CertificateRequest($"CN={name}", key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        var san = new SubjectAlternativeNameBuilder();
        san.AddDnsName(name);
        req.CertificateExtensions.Add(san.Build());
        using var made = req.CreateSelfSigned(from, to);
        return X509CertificateLoader.LoadPkcs12(made.Export(X509ContentType.Pkcs12), null);
    }

    private static string OpensslFingerprint(int port, string serverName, string starttls)
    {
        var psi = new ProcessStartInfo("sh", ["-c",
            $"openssl s_client -connect 127.0.0.1:{port} -servername {serverName} -starttls {starttls} </dev/null 2>/dev/null | openssl x509 -noout -fingerprint -sha256"])
        {
            RedirectStandardOutput = true,
        };
        using var p = Process.Start(psi)!;
        var output = p.StandardOutput.ReadToEnd();
        p.WaitForExit(30_000);
        // "sha256 Fingerprint=AB:CD:..."
        return output.Split('=', 2) is [_, var hex] ? hex.Trim().Replace(":", "") : "no certificate: " + output;
    }
}

using System.Security.Cryptography;
using GrainMail.Trust.Dkim;
using GrainMail.Trust.Dns;
using Org.BouncyCastle.Crypto.Parameters;

namespace GrainMail.Protocol.Tests.Trust;

/// <summary>The DKIM key locator parses a key record once, yet still asks DNS every time, so a rotated key is used at once.</summary>
public sealed class DkimKeyCacheTests
{
    private static string Record(RSA rsa) => "v=DKIM1; k=rsa; p=" + Convert.ToBase64String(rsa.ExportSubjectPublicKeyInfo());

    [Fact]
    public async Task The_same_record_gives_the_same_parsed_key_and_a_rotated_record_its_new_key()
    {
        using var first = RSA.Create(2048);
        using var second = RSA.Create(2048);
        var zone = new RotatingZone { Record = Record(first) };
        var locator = new DnsDkimKeyLocator(zone);
        var ct = TestContext.Current.CancellationToken;

        var a = await locator.LocatePublicKeyAsync("dns/txt", "example.org", "sel", ct);
        var b = await locator.LocatePublicKeyAsync("dns/txt", "example.org", "sel", ct);
        Assert.Same(a, b);
        Assert.Equal(2, zone.Queries);

        // The domain rotates its key under the same selector: the new record's key, not the cached one.
        zone.Record = Record(second);
        var c = await locator.LocatePublicKeyAsync("dns/txt", "example.org", "sel", ct);
        Assert.NotEqual(((RsaKeyParameters)a).Modulus, ((RsaKeyParameters)c).Modulus);
        Assert.Equal(new Org.BouncyCastle.Math.BigInteger(1, second.ExportParameters(false).Modulus), ((RsaKeyParameters)c).Modulus);
    }

    /// <summary>One TXT record at any name, replaceable; counts the questions.</summary>
    private sealed class RotatingZone : ITrustDns
    {
        public string Record { get; set; } = "";

        public int Queries { get; private set; }

        public Task<DnsAnswer<string>> TxtAsync(string name, CancellationToken ct)
        {
            Queries++;
            return Task.FromResult(DnsAnswer<string>.Of([Record]));
        }

        public Task<DnsAnswer<System.Net.IPAddress>> AddressesAsync(string name, bool ipv6, CancellationToken ct) => Task.FromResult(DnsAnswer<System.Net.IPAddress>.Missing);

        public Task<DnsAnswer<MxHost>> MxAsync(string name, CancellationToken ct) => Task.FromResult(DnsAnswer<MxHost>.Missing);

        public Task<DnsAnswer<string>> PtrAsync(System.Net.IPAddress address, CancellationToken ct) => Task.FromResult(DnsAnswer<string>.Missing);
    }
}

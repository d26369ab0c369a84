using System.Security.Cryptography;
using GrainMail.Contracts.Admin;
using GrainMail.Gateways.Http.Integrations;
using Microsoft.AspNetCore.Http;
using Org.BouncyCastle.Crypto.Generators;
using Org.BouncyCastle.Crypto.Parameters;
using Org.BouncyCastle.Crypto.Signers;
using Org.BouncyCastle.Security;
using Org.BouncyCastle.X509;

namespace GrainMail.Protocol.Tests;

/// <summary>The pieces of the integration API's signature check, without a server: keys, signed text, headers, source addresses.</summary>
public sealed class IntegrationSignatureTests
{
    private static string Pem(byte[] spki) => PemEncoding.WriteString("PUBLIC KEY", spki);

    [Fact]
    public void Rsa_keys_below_2048_bits_are_refused_and_2048_verifies()
    {
        using var weak = RSA.Create(1024);
        Assert.False(IntegrationKeys.TryParse(Pem(weak.ExportSubjectPublicKeyInfo()), out _, out var problem));
        Assert.Contains("2048", problem);

        using var rsa = RSA.Create(2048);
        Assert.True(IntegrationKeys.TryParse(Pem(rsa.ExportSubjectPublicKeyInfo()), out var key, out _));
        Assert.Equal(IntegrationKeyAlgorithm.Rsa, key.Algorithm);
        var text = RequestSignature.SigningInput("get", "/api/v1/integration/accounts/a%40b.test/unread?x=1", 1700000000, "nonce-nonce-nonce", []);
        var sig = rsa.SignData(text, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        Assert.True(IntegrationKeys.Verify(key.Algorithm, key.Spki, text, sig));
        text[^1] ^= 1;
        Assert.False(IntegrationKeys.Verify(key.Algorithm, key.Spki, text, sig));
        // PSS is another scheme: refused, not guessed.
        Assert.False(IntegrationKeys.Verify(key.Algorithm, key.Spki, text, rsa.SignData(text, HashAlgorithmName.SHA256, RSASignaturePadding.Pss)));
    }

    [Fact]
    public void Ed25519_keys_verify_their_signatures_only()
    {
        var generator = new Ed25519KeyPairGenerator();
        generator.Init(new Ed25519KeyGenerationParameters(new SecureRandom()));
        var pair = generator.GenerateKeyPair();
        var spki = SubjectPublicKeyInfoFactory.CreateSubjectPublicKeyInfo(pair.Public).GetDerEncoded();
        Assert.True(IntegrationKeys.TryParse(Pem(spki), out var key, out _));
        Assert.Equal(IntegrationKeyAlgorithm.Ed25519, key.Algorithm);
        // The bare base64 of the DER is taken too.
        Assert.True(IntegrationKeys.TryParse(Convert.ToBase64String(spki), out _, out _));

        var text = RequestSignature.SigningInput("POST", "/api/v1/integration/sso", 1700000000, "0123456789abcdef", "{\"address\":\"a@b.test\"}"u8);
        var signer = new Ed25519Signer();
        signer.Init(true, (Ed25519PrivateKeyParameters)pair.Private);
        signer.BlockUpdate(text, 0, text.Length);
        var sig = signer.GenerateSignature();
        Assert.True(IntegrationKeys.Verify(key.Algorithm, key.Spki, text, sig));
        Assert.False(IntegrationKeys.Verify(key.Algorithm, key.Spki, text, sig[..63]));
        var other = RequestSignature.SigningInput("POST", "/api/v1/integration/sso", 1700000000, "0123456789abcdef", "{\"address\":\"c@b.test\"}"u8);
        Assert.False(IntegrationKeys.Verify(key.Algorithm, key.Spki, other, sig));
    }

    [Theory]
    [InlineData("")]
    [InlineData("not a key")]
    [InlineData("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----")]
    [InlineData("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----")]
    public void Malformed_keys_are_refused_with_a_reason(string text)
    {
        Assert.False(IntegrationKeys.TryParse(text, out _, out var problem));
        Assert.NotEmpty(problem);
    }

    [Fact]
    public void The_signed_text_is_the_documented_one()
    {
        var text = System.Text.Encoding.UTF8.GetString(RequestSignature.SigningInput("get", "/p?q=1", 42, "n", "abc"u8));
        Assert.Equal("grainmail-integration-v1\nGET\n/p?q=1\n42\nn\nba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", text);
    }

    public static TheoryData<string?, string?, string?, string?, bool> HeaderCases() => new()
    {
        { Guid.Empty.ToString(), "1700000000", "0123456789abcdef", "AAAA", true },
        { null, "1700000000", "0123456789abcdef", "AAAA", false },
        { "not-a-guid", "1700000000", "0123456789abcdef", "AAAA", false },
        { Guid.Empty.ToString(), "-5", "0123456789abcdef", "AAAA", false },
        { Guid.Empty.ToString(), "17000000000000000", "0123456789abcdef", "AAAA", false },
        { Guid.Empty.ToString(), "1700000000", "short", "AAAA", false },
        { Guid.Empty.ToString(), "1700000000", "0123456789abcdef/", "AAAA", false },
        { Guid.Empty.ToString(), "1700000000", new string('n', 129), "AAAA", false },
        { Guid.Empty.ToString(), "1700000000", "0123456789abcdef", "!!", false },
    };

    [Theory]
    [MemberData(nameof(HeaderCases))]
    public void Signature_headers_are_read_strictly(string? id, string? ts, string? nonce, string? sig, bool valid)
    {
        var headers = new HeaderDictionary();
        if (id is not null) headers[RequestSignature.IdHeader] = id;
        if (ts is not null) headers[RequestSignature.TimestampHeader] = ts;
        if (nonce is not null) headers[RequestSignature.NonceHeader] = nonce;
        if (sig is not null) headers[RequestSignature.SignatureHeader] = sig;
        Assert.Equal(valid, RequestSignature.TryRead(headers, out _, out var problem));
        Assert.Equal(valid, problem.Length == 0);
    }

    [Fact]
    public void Signature_headers_survive_random_input()
    {
        var random = new Random(1515);
        string[] seeds = [Guid.NewGuid().ToString(), "1700000000", "0123456789abcdef", "QUJDRA=="];
        for (var i = 0; i < 3000; i++)
        {
            var headers = new HeaderDictionary();
            string[] names = [RequestSignature.IdHeader, RequestSignature.TimestampHeader, RequestSignature.NonceHeader, RequestSignature.SignatureHeader];
            for (var h = 0; h < names.Length; h++)
            {
                var bytes = random.Next(3) == 0 ? Fuzz.RandomBytes(random, 64) : Fuzz.Mutate(random, System.Text.Encoding.ASCII.GetBytes(seeds[h]));
                headers[names[h]] = System.Text.Encoding.Latin1.GetString(bytes);
            }
            var ok = RequestSignature.TryRead(headers, out var parsed, out var problem);
            Assert.True(ok ? parsed is not null && problem.Length == 0 : problem.Length > 0);
        }
        for (var i = 0; i < 2000; i++)
        {
            var text = System.Text.Encoding.Latin1.GetString(Fuzz.RandomBytes(random, 200));
            // Random text is never a key, and the refusal always says why.
            Assert.False(IntegrationKeys.TryParse(text, out _, out var problem));
            Assert.NotEmpty(problem);
        }
    }

    [Theory]
    [InlineData(0, true)]
    [InlineData(299, true)]
    [InlineData(300, true)]
    [InlineData(301, false)]
    [InlineData(-301, false)]
    [InlineData(-300, true)]
    public void A_request_is_valid_five_minutes_either_side(long offset, bool fresh)
    {
        var now = DateTimeOffset.FromUnixTimeSeconds(1_700_000_000);
        Assert.Equal(fresh, RequestSignature.Fresh(now.ToUnixTimeSeconds() + offset, now));
    }

    [Theory]
    [InlineData("127.0.0.1", "127.0.0.1/32")]
    [InlineData(" 203.0.113.0/24 ", "203.0.113.0/24")]
    [InlineData("2001:db8::/32", "2001:db8::/32")]
    [InlineData("::1", "::1/128")]
    [InlineData("::ffff:192.0.2.1", "192.0.2.1/32")]
    [InlineData("203.0.113.7/24", null)]
    [InlineData("203.0.113.0/33", null)]
    [InlineData("example.org", null)]
    [InlineData("", null)]
    public void Source_addresses_are_canonical_prefixes(string text, string? expected) =>
        Assert.Equal(expected, SourceAddresses.Normalize(text));

    [Fact]
    public void A_source_is_allowed_inside_a_registered_prefix_only()
    {
        string[] sources = ["203.0.113.0/24", "2001:db8::/32"];
        Assert.True(SourceAddresses.Allows(sources, System.Net.IPAddress.Parse("203.0.113.200")));
        Assert.True(SourceAddresses.Allows(sources, System.Net.IPAddress.Parse("::ffff:203.0.113.9")));
        Assert.True(SourceAddresses.Allows(sources, System.Net.IPAddress.Parse("2001:db8::5")));
        Assert.False(SourceAddresses.Allows(sources, System.Net.IPAddress.Parse("203.0.114.1")));
        Assert.False(SourceAddresses.Allows(sources, null));
        Assert.False(SourceAddresses.Allows([], System.Net.IPAddress.Loopback));
    }
}

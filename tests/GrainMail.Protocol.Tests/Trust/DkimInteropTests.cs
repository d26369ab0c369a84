using System.Text;
using GrainMail.Trust.Dkim;
using MimeKit;
using GrainMail.TestSupport;

namespace GrainMail.Protocol.Tests.Trust;

/// <summary>DKIM and ARC verification cross-checked with an independent implementation: Debian's python3-dkim
/// (dknewkey, dkimsign, arcsign) signs and seals; our checkers verify with the key served by a test zone.
/// The tools are required (tests/run-tests.sh installs them): a missing tool fails the test.</summary>
public sealed class DkimInteropTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("grainmail-dkim-").FullName;

    private const string Message =
        "Authentication-Results: relay.example.org; spf=pass smtp.mailfrom=alice@example.org\r\n" +
        "From: Alice <alice@example.org>\r\nTo: bob@example.net\r\nSubject: interop\r\n" +
        "Date: Tue, 01 Dec 2026 06:00:00 +0000\r\nMessage-ID: <interop-1@example.org>\r\n\r\n" +
        "Hello Bob,\r\nthis body is signed.\r\n";

    public void Dispose() => Directory.Delete(_dir, true);

    private string Run(string tool, string args, string? stdin = null) => DebianTool.Run(tool, args, "python3-dkim", _dir, stdin);

    /// <summary>A fresh key made by dknewkey, its record served at sel._domainkey.example.org.</summary>
    private (string KeyFile, ZoneDns Dns) NewKey(string type)
    {
        Run("dknewkey", $"--ktype {type} key-{type}");
        var record = File.ReadAllText(Path.Combine(_dir, $"key-{type}.dns")).Trim();
        return (Path.Combine(_dir, $"key-{type}.key"), new ZoneDns().Add("sel._domainkey.example.org", "TXT", record));
    }

    private static MimeMessage Parse(string text) => MimeMessage.Load(new MemoryStream(Encoding.UTF8.GetBytes(text)));

    private static string ChangeOneBodyByte(string signed)
    {
        var at = signed.IndexOf("Hello Bob", StringComparison.Ordinal);
        Assert.True(at > 0);
        return signed[..at] + "J" + signed[(at + 1)..];
    }

    [Theory]
    [InlineData("rsa", "rsa-sha256", "relaxed")]
    [InlineData("rsa", "rsa-sha256", "simple")]
    [InlineData("ed25519", "ed25519-sha256", "relaxed")]
    public async Task A_message_signed_by_dkimsign_verifies_and_one_changed_body_byte_fails(string keyType, string algorithm, string headerCanon)
    {
        var (key, dns) = NewKey(keyType);
        var signed = Run("dkimsign", $"--signalg {algorithm} --hcanon {headerCanon} sel example.org {key}", Message);
        var checker = new DkimChecker(dns);

        var good = Assert.Single(await checker.VerifyAsync(Parse(signed), TestContext.Current.CancellationToken));
        Assert.Equal(DkimResult.Pass, good.Result);
        Assert.Equal("example.org", good.Domain);
        Assert.Equal(algorithm, good.Algorithm);

        var bad = Assert.Single(await checker.VerifyAsync(Parse(ChangeOneBodyByte(signed)), TestContext.Current.CancellationToken));
        Assert.Equal(DkimResult.Fail, bad.Result);
    }

    [Fact]
    public async Task A_signature_whose_key_is_not_published_is_a_permerror_and_a_dns_failure_a_temperror()
    {
        var (key, _) = NewKey("rsa");
        var signed = Parse(Run("dkimsign", $"sel example.org {key}", Message));
        var missing = Assert.Single(await new DkimChecker(new ZoneDns()).VerifyAsync(signed, TestContext.Current.CancellationToken));
        Assert.Equal(DkimResult.PermError, missing.Result);
        var timeout = Assert.Single(await new DkimChecker(new ZoneDns().Timeout("sel._domainkey.example.org")).VerifyAsync(signed, TestContext.Current.CancellationToken));
        Assert.Equal(DkimResult.TempError, timeout.Result);
    }

    // arcsign seals with rsa-sha256 only (its script takes no algorithm), so the ARC cross-check is RSA.
    [Fact]
    public async Task A_message_sealed_by_arcsign_verifies_and_one_changed_body_byte_fails()
    {
        var (key, dns) = NewKey("rsa");
        var sealedText = Run("arcsign", $"sel example.org {key} relay.example.org", Message);
        Assert.Contains("ARC-Seal:", sealedText, StringComparison.Ordinal);
        var checker = new ArcChecker(dns);

        var good = await checker.VerifyAsync(Parse(sealedText), TestContext.Current.CancellationToken);
        Assert.Equal(ArcResult.Pass, good.Result);
        Assert.Equal(1, good.Instances);

        var bad = await checker.VerifyAsync(Parse(ChangeOneBodyByte(sealedText)), TestContext.Current.CancellationToken);
        Assert.Equal(ArcResult.Fail, bad.Result);
    }

    [Fact]
    public async Task A_message_without_arc_sets_is_arc_none()
    {
        var verdict = await new ArcChecker(new ZoneDns()).VerifyAsync(Parse(Message), TestContext.Current.CancellationToken);
        Assert.Equal(ArcResult.None, verdict.Result);
    }
}

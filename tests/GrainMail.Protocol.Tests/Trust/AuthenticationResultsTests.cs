using GrainMail.Trust.Dkim;
using GrainMail.Trust.Dmarc;
using GrainMail.Trust.Results;
using GrainMail.Trust.Spf;
using MimeKit;

namespace GrainMail.Protocol.Tests.Trust;

/// <summary>The Authentication-Results header we write (RFC 8601) and the removal of headers forging our authserv-id.</summary>
public sealed class AuthenticationResultsTests
{
    private static readonly InboundVerdicts Verdicts = new(
        new SpfCheck(SpfIdentity.MailFrom, "example.org", "bounce@example.org", new SpfVerdict(SpfResult.Pass, null, "")),
        null,
        [
            new DkimSignatureVerdict(DkimResult.Pass, "example.org", "s1", "rsa-sha256", "AbCdEfGh", ""),
            new DkimSignatureVerdict(DkimResult.Fail, "list.example", "s2", "ed25519-sha256", "12345678", ""),
        ],
        new DmarcVerdict(DmarcResult.Pass, DmarcPolicy.None, "example.org", "example.org", DmarcPolicy.Reject, ""),
        new ArcVerdict(ArcResult.None, 0, ""));

    [Fact]
    public void The_header_names_every_method_and_each_signature()
    {
        var value = AuthenticationResults.Format("mx.grainmail.test", Verdicts);
        var flat = value.Replace("\r\n\t", " ", StringComparison.Ordinal);
        Assert.Equal("mx.grainmail.test; spf=pass smtp.mailfrom=bounce@example.org; " +
            "dkim=pass header.d=example.org header.s=s1 header.a=rsa-sha256 header.b=AbCdEfGh; " +
            "dkim=fail header.d=list.example header.s=s2 header.a=ed25519-sha256 header.b=12345678; " +
            "dmarc=pass policy.dmarc=reject header.from=example.org; arc=none", flat);
    }

    [Fact]
    public void Prepend_puts_our_header_first_and_mimekit_reads_it_back()
    {
        var message = MimeMessage.Load(new MemoryStream("From: a@example.org\r\nSubject: x\r\n\r\nbody\r\n"u8.ToArray()));
        AuthenticationResults.Prepend(message, "mx.grainmail.test", Verdicts);
        var first = message.Headers[0];
        Assert.Equal(HeaderId.AuthenticationResults, first.Id);
        var parsed = AuthenticationResults.ClaimsId(first.Value, "mx.grainmail.test");
        Assert.True(parsed);
        Assert.True(MimeKit.Cryptography.AuthenticationResults.TryParse(System.Text.Encoding.ASCII.GetBytes(first.Value), out var ar));
        Assert.Equal("mx.grainmail.test", ar.AuthenticationServiceIdentifier);
        Assert.Equal(["spf", "dkim", "dkim", "dmarc", "arc"], ar.Results.Select(r => r.Method).ToArray());
    }

    [Theory]
    [InlineData("mx.grainmail.test; spf=pass smtp.mailfrom=a@b.example", true)]
    [InlineData("MX.GrainMail.Test; dkim=pass header.d=b.example", true)]
    [InlineData("(forged) mx.grainmail.test 1; none", true)]
    [InlineData("mx.grainmail.test.evil; spf=pass", false)]
    [InlineData("relay.example.org; spf=pass smtp.mailfrom=a@b.example", false)]
    public void Forged_headers_are_those_claiming_our_authserv_id(string value, bool ours) =>
        Assert.Equal(ours, AuthenticationResults.ClaimsId(value, "mx.grainmail.test"));

    [Fact]
    public void RemoveForged_removes_only_headers_claiming_our_id()
    {
        var message = MimeMessage.Load(new MemoryStream((
            "Authentication-Results: mx.grainmail.test; dmarc=pass header.from=bank.example\r\n" +
            "Authentication-Results: relay.example.org; spf=pass smtp.mailfrom=a@relay.example.org\r\n" +
            "Authentication-Results: mx.grainmail.test;\r\n\tdkim=pass header.d=bank.example\r\n" +
            "From: a@bank.example\r\n\r\nbody\r\n").Select(c => (byte)c).ToArray()));
        Assert.Equal(2, AuthenticationResults.RemoveForged(message, "mx.grainmail.test"));
        var left = Assert.Single(message.Headers, h => h.Id == HeaderId.AuthenticationResults);
        Assert.StartsWith("relay.example.org", left.Value.Trim(), StringComparison.Ordinal);
    }
}

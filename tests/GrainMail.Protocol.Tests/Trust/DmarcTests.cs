using System.Net;
using GrainMail.Trust.Dkim;
using GrainMail.Trust.Dmarc;
using GrainMail.Trust.Spf;

namespace GrainMail.Protocol.Tests.Trust;

/// <summary>DMARC: record discovery and organisational-domain fallback (with the real public suffix list,
/// private section included), strict and relaxed alignment, p=, sp= and pct=.</summary>
public sealed class DmarcTests
{
    private static readonly PublicSuffixList Psl = LoadPsl();

    private static PublicSuffixList LoadPsl()
    {
        Assert.True(File.Exists(PublicSuffixList.DefaultPath), $"{PublicSuffixList.DefaultPath} is missing: install Debian's publicsuffix (tests/run-tests.sh does)");
        return PublicSuffixList.Load();
    }

    private static ZoneDns Zone() => new ZoneDns()
        .Add("_dmarc.reject.example", "TXT", "v=DMARC1; p=reject")
        .Add("_dmarc.quarantine.example", "TXT", "v=DMARC1; p=quarantine; adkim=s; aspf=s")
        .Add("_dmarc.none.example", "TXT", "v=DMARC1; p=none")
        .Add("_dmarc.sub.example", "TXT", "v=DMARC1; p=reject; sp=quarantine")
        .Add("_dmarc.half.example", "TXT", "v=DMARC1; p=reject; pct=50")
        .Add("_dmarc.bad.example", "TXT", "v=DMARC1; p=maybe")
        .Add("_dmarc.two.example", "TXT", "v=DMARC1; p=reject").Add("_dmarc.two.example", "TXT", "v=DMARC1; p=none")
        .Timeout("_dmarc.slow.example")
        // github.io is in the PSL's private section: alice.github.io is an organisational domain of its own.
        .Add("_dmarc.alice.github.io", "TXT", "v=DMARC1; p=reject")
        .Add("_dmarc.github.io", "TXT", "v=DMARC1; p=none");

    private static SpfCheck Spf(string domain, SpfResult result) =>
        new(SpfIdentity.MailFrom, domain, "bounce@" + domain, new SpfVerdict(result, null, "test"));

    private static DkimSignatureVerdict Dkim(string domain, DkimResult result) => new(result, domain, "sel", "rsa-sha256", "abcdefgh", "test");

    public static TheoryData<string, string?, string?, int, DmarcResult, DmarcPolicy> Matrix() => new()
    {
        // from, SPF-pass domain, DKIM-pass domain, sample, result, policy to apply
        { "reject.example", null, null, 0, DmarcResult.Fail, DmarcPolicy.Reject },
        { "reject.example", "reject.example", null, 0, DmarcResult.Pass, DmarcPolicy.None },
        { "reject.example", null, "reject.example", 0, DmarcResult.Pass, DmarcPolicy.None },
        { "reject.example", null, "other.example", 0, DmarcResult.Fail, DmarcPolicy.Reject },
        // relaxed (default): a subdomain of the organisational domain aligns
        { "reject.example", "mail.reject.example", null, 0, DmarcResult.Pass, DmarcPolicy.None },
        { "reject.example", null, "mail.reject.example", 0, DmarcResult.Pass, DmarcPolicy.None },
        // strict: only the exact domain aligns
        { "quarantine.example", "mail.quarantine.example", "mail.quarantine.example", 0, DmarcResult.Fail, DmarcPolicy.Quarantine },
        { "quarantine.example", "quarantine.example", null, 0, DmarcResult.Pass, DmarcPolicy.None },
        { "none.example", null, null, 0, DmarcResult.Fail, DmarcPolicy.None },
        // subdomain without a record: the organisational domain's, p= when it has no sp=, sp= when it has
        { "news.reject.example", null, null, 0, DmarcResult.Fail, DmarcPolicy.Reject },
        { "news.reject.example", null, "reject.example", 0, DmarcResult.Pass, DmarcPolicy.None },
        { "news.sub.example", null, null, 0, DmarcResult.Fail, DmarcPolicy.Quarantine },
        { "sub.example", null, null, 0, DmarcResult.Fail, DmarcPolicy.Reject },
        // pct=50: inside the sample the policy, outside it the next weaker one
        { "half.example", null, null, 10, DmarcResult.Fail, DmarcPolicy.Reject },
        { "half.example", null, null, 70, DmarcResult.Fail, DmarcPolicy.Quarantine },
        // private section of the PSL: github.io is a public suffix
        { "alice.github.io", null, null, 0, DmarcResult.Fail, DmarcPolicy.Reject },
        { "www.alice.github.io", null, null, 0, DmarcResult.Fail, DmarcPolicy.Reject },
        { "alice.github.io", null, "bob.github.io", 0, DmarcResult.Fail, DmarcPolicy.Reject },
        { "bob.github.io", null, null, 0, DmarcResult.None, DmarcPolicy.None },
        { "unknown.example", null, null, 0, DmarcResult.None, DmarcPolicy.None },
        { "bad.example", null, null, 0, DmarcResult.PermError, DmarcPolicy.None },
        { "two.example", null, null, 0, DmarcResult.None, DmarcPolicy.None },
        { "slow.example", null, null, 0, DmarcResult.TempError, DmarcPolicy.None },
    };

    [Theory]
    [MemberData(nameof(Matrix))]
    public async Task Dmarc_verdict_and_policy(string from, string? spfPass, string? dkimPass, int sample, DmarcResult result, DmarcPolicy policy)
    {
        var checker = new DmarcChecker(Zone(), Psl);
        var verdict = await checker.CheckAsync(from, spfPass is null ? Spf("elsewhere.example", SpfResult.Fail) : Spf(spfPass, SpfResult.Pass),
            dkimPass is null ? [Dkim(from, DkimResult.Fail)] : [Dkim(dkimPass, DkimResult.Pass)], sample, TestContext.Current.CancellationToken);
        Assert.Equal(result, verdict.Result);
        Assert.Equal(policy, verdict.Policy);
    }

    [Theory]
    [InlineData("example.com", "example.com")]
    [InlineData("a.b.example.com", "example.com")]
    [InlineData("mail.example.co.uk", "example.co.uk")]
    [InlineData("co.uk", null)]
    [InlineData("alice.github.io", "alice.github.io")]
    [InlineData("x.alice.github.io", "alice.github.io")]
    [InlineData("github.io", null)]
    [InlineData("a.b.unlisted-tld", "b.unlisted-tld")]
    public void Organisational_domain_from_the_public_suffix_list(string domain, string? expected) =>
        Assert.Equal(expected, Psl.OrganizationalDomain(domain));

    [Fact]
    public void Wildcard_and_exception_rules()
    {
        var psl = new PublicSuffixList(["// comment", "*.ck", "!www.ck", "com"]);
        Assert.Equal("shop.foo.ck", psl.OrganizationalDomain("a.shop.foo.ck"));
        Assert.Equal("www.ck", psl.OrganizationalDomain("x.www.ck"));
        Assert.Null(psl.OrganizationalDomain("foo.ck"));
    }

    [Fact]
    public async Task Spf_and_dkim_of_the_session_feed_dmarc_end_to_end()
    {
        var dns = Zone().Add("reject.example", "TXT", "v=spf1 ip4:192.0.2.0/24 -all");
        var spf = await new SpfChecker(dns, "mx.test", TimeProvider.System)
            .CheckMailFromAsync(IPAddress.Parse("192.0.2.7"), "bounce@reject.example", "relay.reject.example", TestContext.Current.CancellationToken);
        Assert.Equal(SpfResult.Pass, spf.Verdict.Result);
        var pass = await new DmarcChecker(dns, Psl).CheckAsync("reject.example", spf, [], 0, TestContext.Current.CancellationToken);
        Assert.Equal(DmarcResult.Pass, pass.Result);
        var spoof = await new SpfChecker(dns, "mx.test", TimeProvider.System)
            .CheckMailFromAsync(IPAddress.Parse("203.0.113.9"), "bounce@reject.example", "evil.test", TestContext.Current.CancellationToken);
        Assert.Equal(SpfResult.Fail, spoof.Verdict.Result);
        var fail = await new DmarcChecker(dns, Psl).CheckAsync("reject.example", spoof, [], 0, TestContext.Current.CancellationToken);
        Assert.Equal((DmarcResult.Fail, DmarcPolicy.Reject), (fail.Result, fail.Policy));
    }
}

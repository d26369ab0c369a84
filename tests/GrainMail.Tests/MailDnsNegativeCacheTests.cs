using GrainMail.Dns;
using GrainMail.Tests.Infrastructure;
using DnsClient;

namespace GrainMail.Tests;

/// <summary>The node's resolver keeps NXDOMAIN and no-data answers for their SOA's negative TTL (RFC 2308),
/// and without an SOA asks again every time. Against the tests' own DNS server over UDP; no database.</summary>
public sealed class MailDnsNegativeCacheTests
{
    [Fact]
    public async Task An_nxdomain_with_an_soa_is_answered_from_the_cache_until_its_ttl_ends()
    {
        using var server = new TestDnsServer { NegativeTtl = 2 };
        var dns = new MailDns(new DnsOptions { Resolvers = $"127.0.0.1:{server.Port}" });
        var first = await dns.QueryAsync("2.0.0.127.bl.example", QueryType.A, CancellationToken.None);
        Assert.Equal(DnsHeaderResponseCode.NotExistentDomain, first.Header.ResponseCode);
        // Listed now, but the negative answer is still valid: the cache answers and the listing is not seen.
        server.A["2.0.0.127.bl.example"] = System.Net.IPAddress.Parse("127.0.0.2");
        var second = await dns.QueryAsync("2.0.0.127.bl.example", QueryType.A, CancellationToken.None);
        Assert.Same(first, second);
        // Once the 2 s have passed the server is asked again.
        await Eventually.Until(async () => (await dns.QueryAsync("2.0.0.127.bl.example", QueryType.A, CancellationToken.None)).Answers.Count == 1,
            TimeSpan.FromSeconds(10), "the listing seen once the negative TTL ended");
    }

    [Fact]
    public async Task Without_an_soa_or_with_the_cache_off_every_question_goes_to_the_server()
    {
        using var server = new TestDnsServer();
        var dns = new MailDns(new DnsOptions { Resolvers = $"127.0.0.1:{server.Port}" });
        Assert.Empty((await dns.TxtAsync("spf.example")));
        server.Txt["spf.example"] = ["v=spf1 -all"];
        Assert.Equal(["v=spf1 -all"], await dns.TxtAsync("spf.example"));

        using var withSoa = new TestDnsServer { NegativeTtl = 300 };
        var off = new MailDns(new DnsOptions { Resolvers = $"127.0.0.1:{withSoa.Port}", NegativeCacheMaximum = TimeSpan.Zero });
        Assert.Empty(await off.TxtAsync("late.example"));
        withSoa.Txt["late.example"] = ["v=spf1 -all"];
        Assert.Equal(["v=spf1 -all"], await off.TxtAsync("late.example"));
    }
}

using GrainMail.Dns;

namespace GrainMail.Protocol.Tests.Trust;

/// <summary>How long a negative DNS answer may be kept (RFC 2308 5).</summary>
public sealed class NegativeCacheTests
{
    private static readonly TimeSpan Hour = TimeSpan.FromHours(1);

    [Theory]
    // NXDOMAIN: the lesser of the SOA's own TTL and its MINIMUM field.
    [InlineData(true, false, 0, 300u, 900u, 300)]
    [InlineData(true, false, 0, 3600u, 60u, 60)]
    // No data (no error, no answer of the type): cached the same way.
    [InlineData(false, false, 0, 120u, 120u, 120)]
    // Never past the cap, however long the zone asks for.
    [InlineData(true, false, 0, 86400u, 86400u, 3600)]
    public void Negative_answers_with_an_soa_are_kept_for_its_negative_ttl(bool nameError, bool serverError, int answers, uint ttl, uint minimum, int expectedSeconds)
    {
        Assert.Equal(TimeSpan.FromSeconds(expectedSeconds), NegativeCache.Lifetime(nameError, serverError, answers, [(ttl, minimum)], Hour));
    }

    [Fact]
    public void Answers_server_failures_soa_less_and_zero_ttl_negatives_are_not_kept()
    {
        Assert.Null(NegativeCache.Lifetime(false, false, 1, [(300u, 300u)], Hour));
        Assert.Null(NegativeCache.Lifetime(false, true, 0, [(300u, 300u)], Hour));
        Assert.Null(NegativeCache.Lifetime(true, false, 0, [], Hour));
        Assert.Null(NegativeCache.Lifetime(true, false, 0, [(0u, 300u)], Hour));
        // A cap of zero turns the cache off.
        Assert.Null(NegativeCache.Lifetime(true, false, 0, [(300u, 300u)], TimeSpan.Zero));
    }
}

using System.Net;
using System.Text;
using GrainMail.Contracts.Trust;
using GrainMail.Dns;
using GrainMail.Trust.Blocklists;
using GrainMail.Trust.Dmarc;
using GrainMail.Trust.Inbound;
using GrainMail.Trust.Results;
using GrainMail.Trust.Scoring;
using MimeKit;

namespace GrainMail.Protocol.Tests.Trust;

/// <summary>Blocklist answers, the scorer's decisions under a policy, the header rewrite and the whole
/// check pipeline over a zone.</summary>
public sealed class ScoringTests
{
    private static readonly SpamZone[] Node = [new("bl1.test", 7), new("bl2.test", 7)];

    [Theory]
    [InlineData("127.0.0.2", ListingStatus.Listed)]
    [InlineData("127.0.0.10", ListingStatus.Listed)]
    [InlineData("127.1.0.1", ListingStatus.Listed)]
    [InlineData("127.255.255.254", ListingStatus.Error)]   // "your resolver is blocked"
    [InlineData("127.255.255.252", ListingStatus.Error)]
    [InlineData("10.0.0.1", ListingStatus.Error)]          // outside 127/8: a broken or hijacked answer
    [InlineData("192.0.2.1", ListingStatus.Error)]
    public void Only_127_8_outside_127_255_255_counts_as_a_listing(string answer, ListingStatus expected) =>
        Assert.Equal(expected, BlocklistChecker.Classify(IPAddress.Parse(answer)));

    [Theory]
    [InlineData("192.0.2.99", "99.2.0.192")]
    [InlineData("2001:db8::1", "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2")]
    public void Addresses_are_reversed_as_RFC_5782_says(string ip, string name) =>
        Assert.Equal(name, BlocklistChecker.ReversedName(IPAddress.Parse(ip)));

    [Theory]
    [InlineData("bl.example", true, 1)]
    [InlineData("bl.example:2.5, other.example", true, 2)]
    [InlineData("bl.example:heavy", false, 0)]
    [InlineData("nodot", false, 0)]
    [InlineData("", true, 0)]
    public void GRAINMAIL_DNSBL_takes_zone_or_zone_colon_weight(string text, bool valid, int count)
    {
        var zones = DnsOptions.ParseBlocklists(text, out var bad);
        Assert.Equal(valid, bad is null);
        Assert.Equal(count, zones.Count);
        if (text.StartsWith("bl.example:2.5", StringComparison.Ordinal)) Assert.Equal(new BlocklistZone("bl.example", 2.5), zones[0]);
        if (text == "bl.example") Assert.Equal(DnsOptions.DefaultBlocklistWeight, zones[0].Weight);
    }

    private static ZoneDns Zone() => new ZoneDns()
        .Add("plain.example", "TXT", "v=spf1 ip4:192.0.2.0/24 -all")
        .Add("_dmarc.strict.example", "TXT", "v=DMARC1; p=reject")
        .Add("strict.example", "TXT", "v=spf1 ip4:198.51.100.1 -all")
        .Add("_dmarc.soft.example", "TXT", "v=DMARC1; p=quarantine")
        .Add("soft.example", "TXT", "v=spf1 -all")
        .Add("_dmarc.slow.example", "TXT", "v=DMARC1; p=reject")
        .Timeout("slow.example")
        .Add("1.2.0.192.bl1.test", "A", "127.0.0.2")
        .Add("1.2.0.192.bl2.test", "A", "127.255.255.254")
        .Add("2.2.0.192.bl1.test", "A", "127.0.0.2")
        .Add("2.2.0.192.bl2.test", "A", "127.0.0.3")
        .Add("spammy.example.uribl.test", "A", "127.0.0.2");

    private static async Task<InboundReport> Check(string ip, string mailFrom, string from, string body = "Hello.", IReadOnlyList<SpamZone>? uri = null)
    {
        var suffixes = new PublicSuffixList(["com", "example", "test"]);
        var checker = new InboundChecker(Zone(), suffixes, new TrustOptions(), TimeProvider.System, "mx.test");
        var message = MimeMessage.Load(new MemoryStream(Encoding.UTF8.GetBytes($"From: <{from}>\r\nTo: <a@b.test>\r\nSubject: s\r\n\r\n{body}\r\n")));
        return await checker.CheckAsync(new InboundEvidence(ip, "client.example"), mailFrom, message, Node, uri ?? [], 0, TestContext.Current.CancellationToken);
    }

    [Fact]
    public async Task One_listing_is_junk_at_most_an_error_answer_adds_nothing_and_two_listings_reject()
    {
        var one = SpamScorer.Decide(await Check("192.0.2.1", "a@plain.example", "a@plain.example"), SpamPolicy.Default, Node);
        Assert.Equal(TrustAction.Junk, one.Action);
        Assert.Contains(one.Symbols, s => s is { Name: "RBL_BL1_TEST", Weight: 7 });
        Assert.Contains(one.Symbols, s => s is { Name: "RBL_BL2_TEST_ERROR", Weight: 0 });

        var two = SpamScorer.Decide(await Check("192.0.2.2", "a@plain.example", "a@plain.example"), SpamPolicy.Default, Node);
        Assert.Equal(TrustAction.Reject, two.Action);
        Assert.StartsWith("550 5.7.1 ", two.Reply);

        var clean = SpamScorer.Decide(await Check("192.0.2.3", "a@plain.example", "a@plain.example"), SpamPolicy.Default, Node);
        Assert.Equal(TrustAction.Deliver, clean.Action);
        Assert.DoesNotContain(clean.Symbols, s => s.Name.StartsWith("RBL_", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_domain_weight_and_thresholds_change_the_decision()
    {
        var report = await Check("192.0.2.1", "a@plain.example", "a@plain.example");
        var lenient = SpamPolicy.Default with { Weights = new Dictionary<string, double> { ["RBL_BL1_TEST"] = 1 } };
        Assert.Equal(TrustAction.Deliver, SpamScorer.Decide(report, lenient, Node).Action);
        var strict = SpamPolicy.Default with { JunkAt = 1, QuarantineAt = 2, RejectAt = 20 };
        Assert.Equal(TrustAction.Quarantine, SpamScorer.Decide(report, strict, Node).Action);
    }

    [Fact]
    public async Task Dmarc_reject_is_550_unless_the_domain_softens_it_and_quarantine_is_junk()
    {
        var report = await Check("192.0.2.9", "a@strict.example", "a@strict.example");
        var refused = SpamScorer.Decide(report, SpamPolicy.Default, Node);
        Assert.Equal(TrustAction.Reject, refused.Action);
        Assert.StartsWith("550 5.7.1 Rejected by the DMARC policy of strict.example", refused.Reply);
        var softened = SpamScorer.Decide(report, SpamPolicy.Default with { DmarcRejectAsJunk = true, JunkAt = 50, QuarantineAt = 60, RejectAt = 70 }, Node);
        Assert.Equal(TrustAction.Junk, softened.Action);

        var quarantine = SpamScorer.Decide(await Check("192.0.2.9", "a@soft.example", "a@soft.example"),
            SpamPolicy.Default with { JunkAt = 50, QuarantineAt = 60, RejectAt = 70 }, Node);
        Assert.Equal(TrustAction.Junk, quarantine.Action);
    }

    [Fact]
    public async Task A_dns_error_under_a_dmarc_policy_is_a_temporary_failure()
    {
        var d = SpamScorer.Decide(await Check("192.0.2.9", "a@slow.example", "a@slow.example"), SpamPolicy.Default, Node);
        Assert.Equal(TrustAction.TempFail, d.Action);
        Assert.StartsWith("451 4.7.1 ", d.Reply);
    }

    [Fact]
    public async Task Linked_domains_are_looked_up_in_the_domain_uri_blocklists()
    {
        SpamZone[] uri = [new("uribl.test", 4)];
        var report = await Check("192.0.2.3", "a@plain.example", "a@plain.example", "Visit https://www.spammy.example/offer and http://fine.example/", uri);
        var policy = SpamPolicy.Default with { UriBlocklists = uri };
        var d = SpamScorer.Decide(report, policy, Node);
        Assert.Contains(d.Symbols, s => s is { Name: "URIBL_URIBL_TEST", Weight: 4 });
        // The node's policy without the zone does not count it.
        Assert.DoesNotContain(SpamScorer.Decide(report, SpamPolicy.Default, Node).Symbols, s => s.Name.StartsWith("URIBL_", StringComparison.Ordinal));
    }

    [Fact]
    public void The_status_header_lists_every_symbol_with_its_weight()
    {
        var d = new TrustDecision(TrustAction.Junk, 6.5, [new Symbol("SPF_PASS", -0.5), new Symbol("RBL_BL1_TEST", 7)], 5, null, "score");
        var header = SpamScorer.StatusHeader(d);
        Assert.StartsWith("Yes, score=6.5 required=5.0 action=junk", header);
        Assert.Contains("SPF_PASS(-0.5)", header);
        Assert.Contains("RBL_BL1_TEST(7.0)", header);
    }

    [Fact]
    public void Forged_results_under_our_id_are_removed_and_others_kept_byte_for_byte()
    {
        var raw = "Received: from x\r\n\tby y; Tue, 1 Dec 2026 00:00:00 +0000\r\n"
            + "Authentication-Results: MX.TEST;\r\n\tdkim=pass header.d=bank.example\r\n"
            + "authentication-results: (comment) mx.test; spf=pass\r\n"
            + "Authentication-Results: relay.example; spf=pass\r\n"
            + "Subject: hi\r\n\r\nAuthentication-Results: mx.test; body text stays\r\n";
        var bytes = Encoding.UTF8.GetBytes(raw);
        var found = ForgedResults.Find(bytes, "mx.test");
        Assert.Equal(2, found.Count);
        var result = Encoding.UTF8.GetString(ForgedResults.Rewrite(bytes, "Authentication-Results: mx.test; none\r\n", found));
        Assert.Equal("Authentication-Results: mx.test; none\r\n"
            + "Received: from x\r\n\tby y; Tue, 1 Dec 2026 00:00:00 +0000\r\n"
            + "Authentication-Results: relay.example; spf=pass\r\n"
            + "Subject: hi\r\n\r\nAuthentication-Results: mx.test; body text stays\r\n", result);
    }

    [Fact]
    public void The_header_scan_survives_random_and_mutated_input()
    {
        var random = new Random(1408);
        var valid = Encoding.UTF8.GetBytes("Authentication-Results: mx.test; spf=pass\r\n\tdkim=none\r\nFrom: a@b\r\n\r\nbody\r\n");
        for (var i = 0; i < 3000; i++)
        {
            byte[] input;
            if (i % 2 == 0)
            {
                input = new byte[random.Next(0, 200)];
                random.NextBytes(input);
            }
            else
            {
                input = (byte[])valid.Clone();
                for (var m = random.Next(1, 6); m > 0; m--) input[random.Next(input.Length)] = (byte)"\r\n \t:;(a"[random.Next(8)];
            }
            var found = ForgedResults.Find(input, "mx.test");
            var rewritten = ForgedResults.Rewrite(input, "X: y\r\n", found);
            Assert.Equal(input.Length + 6 - found.Sum(f => f.Length), rewritten.Length);
        }
    }
}

/// <summary>Reputation keys, decay and the symbols a history gives.</summary>
public sealed class ReputationTests
{
    [Theory]
    [InlineData("192.0.2.77", "net:192.0.2.0/24")]
    [InlineData("::ffff:192.0.2.77", "net:192.0.2.0/24")]
    [InlineData("2001:db8:1:2:3:4:5:6", "net:2001:db8:1:2::/64")]
    public void Networks_are_keyed_by_slash_24_and_slash_64(string ip, string key) =>
        Assert.Equal(key, GrainMail.Trust.Scoring.Reputation.NetworkKey(IPAddress.Parse(ip)));

    [Fact]
    public void Counts_halve_every_week()
    {
        Assert.Equal(1, GrainMail.Trust.Scoring.Reputation.Decay(TimeSpan.Zero));
        Assert.Equal(0.5, GrainMail.Trust.Scoring.Reputation.Decay(TimeSpan.FromDays(7)), 6);
        Assert.Equal(0.25, GrainMail.Trust.Scoring.Reputation.Decay(TimeSpan.FromDays(14)), 6);
    }

    [Fact]
    public void A_short_history_says_nothing_a_spammy_one_weighs_and_a_clean_one_helps()
    {
        Assert.Null(GrainMail.Trust.Scoring.Reputation.Symbol("REP_NET", new ReputationSnapshot(10, 10, 0)));
        var bad = GrainMail.Trust.Scoring.Reputation.Symbol("REP_NET", new ReputationSnapshot(40, 40, 0));
        Assert.Equal("REP_NET_BAD", bad!.Name);
        Assert.Equal(4, bad.Weight);
        Assert.Equal(2, GrainMail.Trust.Scoring.Reputation.Symbol("REP_NET", new ReputationSnapshot(40, 30, 10))!.Weight);
        Assert.Null(GrainMail.Trust.Scoring.Reputation.Symbol("REP_NET", new ReputationSnapshot(40, 10, 30)));
        Assert.Equal(-1, GrainMail.Trust.Scoring.Reputation.Symbol("REP_DOMAIN", new ReputationSnapshot(40, 1, 39))!.Weight);
    }
}

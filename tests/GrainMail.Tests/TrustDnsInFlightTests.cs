using GrainMail.Dns;
using GrainMail.Tests.Infrastructure;
using GrainMail.Trust.Dns;

namespace GrainMail.Tests;

/// <summary>
/// The inbound checks' resolver sends one query for concurrent askers of the same name and type, and keeps nothing
/// once it is answered: the next question goes to the server again (only the resolver's TTL caching applies).
/// Against the tests' own DNS server over UDP, which holds its answers back so that questions are in flight.
/// </summary>
public sealed class TrustDnsInFlightTests
{
    private static MailDnsTrustResolver Resolver(TestDnsServer server) =>
        new(new MailDns(new DnsOptions { Resolvers = $"127.0.0.1:{server.Port}" }));

    [Fact]
    public async Task Concurrent_questions_for_one_name_and_type_send_one_query_and_all_get_its_answer()
    {
        // No SOA with the negative answers: nothing is cached, every question not joined would reach the server.
        using var server = new TestDnsServer { Delay = TimeSpan.FromMilliseconds(300) };
        var dns = Resolver(server);

        var answers = await Task.WhenAll(Enumerable.Range(0, 20).Select(_ => dns.TxtAsync("nothing.example", CancellationToken.None)));

        Assert.All(answers, a => Assert.Equal(DnsStatus.NotFound, a.Status));
        Assert.Equal(1, server.Queries);
        Assert.Equal(19, dns.Joined);
    }

    [Fact]
    public async Task Once_answered_the_next_question_asks_the_server_again()
    {
        using var server = new TestDnsServer { Delay = TimeSpan.FromMilliseconds(100) };
        var dns = Resolver(server);
        await Task.WhenAll(Enumerable.Range(0, 5).Select(_ => dns.TxtAsync("late.example", CancellationToken.None)));
        Assert.Equal(1, server.Queries);

        // A record published after that answer is seen by the next question: the shared query was not kept.
        server.Txt["late.example"] = ["v=spf1 -all"];
        var next = await dns.TxtAsync("late.example", CancellationToken.None);

        Assert.Equal(DnsStatus.Ok, next.Status);
        Assert.Equal(["v=spf1 -all"], next.Records);
        Assert.Equal(2, server.Queries);
    }

    [Fact]
    public async Task Questions_of_different_types_or_names_are_not_joined()
    {
        using var server = new TestDnsServer { Delay = TimeSpan.FromMilliseconds(100) };
        server.A["host.example"] = System.Net.IPAddress.Parse("192.0.2.1");
        var dns = Resolver(server);

        var a = dns.AddressesAsync("host.example", ipv6: false, CancellationToken.None);
        var txt = dns.TxtAsync("host.example", CancellationToken.None);
        var other = dns.AddressesAsync("other.example", ipv6: false, CancellationToken.None);

        Assert.Equal(["192.0.2.1"], (await a).Records.Select(r => r.ToString()));
        Assert.Equal(DnsStatus.NoData, (await txt).Status);
        Assert.Equal(DnsStatus.NotFound, (await other).Status);
        Assert.Equal(3, server.Queries);
        Assert.Equal(0, dns.Joined);
    }

    [Fact]
    public async Task An_asker_that_gives_up_does_not_cancel_the_others()
    {
        using var server = new TestDnsServer { Delay = TimeSpan.FromMilliseconds(300) };
        server.Txt["shared.example"] = ["v=spf1 ip4:192.0.2.0/24 -all"];
        var dns = Resolver(server);
        using var giveUp = new CancellationTokenSource();

        var impatient = dns.TxtAsync("shared.example", giveUp.Token);
        var patient = dns.TxtAsync("shared.example", CancellationToken.None);
        await giveUp.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => impatient);
        var answer = await patient;
        Assert.Equal(DnsStatus.Ok, answer.Status);
        Assert.Equal(["v=spf1 ip4:192.0.2.0/24 -all"], answer.Records);
        Assert.Equal(1, server.Queries);
    }
}

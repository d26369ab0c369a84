using GrainMail.Contracts.Domains;
using GrainMail.Contracts.Mailboxes;
using GrainMail.Storage.Delivery;
using GrainMail.Tests.Infrastructure;
using Orleans.TestingHost;

namespace GrainMail.Tests;

/// <summary>
/// Durable stream delivery on real PostgreSQL: 1,000 messages to 100 mailboxes arrive exactly
/// once each, with strictly increasing UIDs, also when a silo dies in the middle.
/// </summary>
public sealed class DeliveryTests(PostgresServer pg)
{
    private const int MailboxCount = 100;
    private const int MessageCount = 1000;

    [Fact]
    public async Task Thousand_messages_to_hundred_mailboxes_arrive_exactly_once()
    {
        await using var cluster = await TestSilos.StartAsync(await pg.NewDatabaseAsync("dlv"));
        await RunAsync(cluster, killAfter: null);
    }

    [Fact]
    public async Task A_silo_killed_mid_run_loses_and_duplicates_nothing()
    {
        await using var cluster = await TestSilos.StartAsync(await pg.NewDatabaseAsync("dlvkill"), silos: 3);
        await RunAsync(cluster, killAfter: MessageCount / 3);
    }

    private static async Task RunAsync(InProcessTestCluster cluster, int? killAfter)
    {
        var ct = TestContext.Current.CancellationToken;
        var domain = cluster.Client.GetGrain<IDomainGrain>("bulk.test");
        await domain.Create(DomainSettings.Default("local"));
        var mailboxes = Enumerable.Range(0, MailboxCount).Select(i => $"m{i:D3}@bulk.test").ToList();
        await Parallel.ForEachAsync(mailboxes, new ParallelOptions { MaxDegreeOfParallelism = 8, CancellationToken = ct }, async (a, _) =>
            Assert.Equal(DomainOpStatus.Ok, (await domain.CreateAccount(new NewAccount(a.Split('@')[0], "password1", null, null))).Status));

        var submitter = cluster.Service<MessageSubmitter>();
        var expected = mailboxes.ToDictionary(m => m, _ => new List<string>());
        var rnd = new Random(42);
        var plan = Enumerable.Range(0, MessageCount).Select(i =>
        {
            var n = 1 + rnd.Next(3);
            var to = Enumerable.Range(0, n).Select(_ => mailboxes[rnd.Next(MailboxCount)]).Distinct().ToList();
            return (Raw: Messages.OfSize("sender@else.where", string.Join(", ", to), 4096, i), To: to);
        }).ToList();
        foreach (var (raw, to) in plan)
        {
            foreach (var m in to) expected[m].Add(Convert.ToHexString(GrainMail.Storage.Blobs.BlobStore.Hash(raw)));
        }

        var submitted = 0;
        var killed = false;
        await Parallel.ForEachAsync(plan, new ParallelOptions { MaxDegreeOfParallelism = 8, CancellationToken = ct }, async (p, token) =>
        {
            await submitter.SubmitAsync(new Submission("sender@else.where", p.To, p.Raw), token);
            if (Interlocked.Increment(ref submitted) == killAfter && !killed)
            {
                killed = true;
                // The first silo hosts the test's own services; kill another one.
                await cluster.KillSiloAsync(cluster.Silos[^1]);
            }
        });
        Assert.Equal(killAfter is not null, killed);

        var total = expected.Values.Sum(v => v.Count);
        async Task<long> Delivered()
        {
            long sum = 0;
            foreach (var m in mailboxes) sum += (await cluster.Client.GetGrain<IMailboxGrain>(m).GetQuota()).Messages;
            return sum;
        }
        // One check is a hundred grain calls: every 500 ms is often enough and leaves the silos to deliver.
        var delivered = await Eventually.Value(Delivered, d => d >= total, TimeSpan.FromMinutes(3), $"{total} deliveries", ct, poll: TimeSpan.FromMilliseconds(500));
        Assert.Equal(total, delivered);

        foreach (var m in mailboxes)
        {
            var inbox = await cluster.Client.GetGrain<IMailboxGrain>(m).GetMessages("INBOX", 1, long.MaxValue);
            var got = inbox.Select(x => Convert.ToHexString(x.Blob.Hash)).Order().ToList();
            Assert.Equal(expected[m].Order().ToList(), got);
            for (var i = 1; i < inbox.Count; i++) Assert.True(inbox[i].Uid > inbox[i - 1].Uid);
        }
    }
}

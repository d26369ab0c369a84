using GrainMail.Contracts.Domains;
using GrainMail.Contracts.Mailboxes;
using GrainMail.Storage.Delivery;
using GrainMail.Storage.Streams;
using GrainMail.Tests.Infrastructure;
using Npgsql;

namespace GrainMail.Tests;

/// <summary>Events that cannot be delivered end in a dead letter at once: no endless retry, no stuck partition.</summary>
public sealed class DeadLetterTests(PostgresServer pg)
{
    [Fact]
    public async Task Deleted_mailbox_over_quota_and_unreadable_payload_are_dead_lettered_and_the_queue_moves_on()
    {
        var cs = await pg.NewDatabaseAsync("dead");
        await using var cluster = await TestSilos.StartAsync(cs);
        var domain = cluster.Client.GetGrain<IDomainGrain>("dl.test");
        await domain.Create(DomainSettings.Default("local"));
        await domain.CreateAccount(new NewAccount("gone", "password1", null, null));
        await domain.CreateAccount(new NewAccount("tiny", "password1", null, 1000));
        await domain.CreateAccount(new NewAccount("fine", "password1", null, null));
        Assert.Equal(DomainOpStatus.Ok, await domain.DeleteAccount("gone"));

        var submitter = cluster.Service<MessageSubmitter>();
        var mapper = cluster.Service<PgStreamQueueMapper>();
        await submitter.SubmitAsync(new Submission("s@x.org", ["gone@dl.test"], Messages.Simple("s@x.org", "gone@dl.test", "1", "to a deleted mailbox")));
        await submitter.SubmitAsync(new Submission("s@x.org", ["tiny@dl.test"], Messages.OfSize("s@x.org", "tiny@dl.test", 5000, 1)));
        // Garbage straight into the partition that serves fine@dl.test.
        var partition = mapper.PartitionOf(Orleans.Runtime.StreamId.Create("inbound", "fine@dl.test"));
        await cluster.Service<StreamQueueStore>().EnqueueAsync([new OutgoingEvent(partition, "inbound", "fine@dl.test", "{not json"u8.ToArray())]);
        // A good message behind the bad one must still arrive.
        await submitter.SubmitAsync(new Submission("s@x.org", ["fine@dl.test"], Messages.Simple("s@x.org", "fine@dl.test", "2", "fine")));

        await using var ds = NpgsqlDataSource.Create(cs);
        async Task<List<(string Key, string Reason)>> DeadLetters()
        {
            var rows = new List<(string Key, string Reason)>();
            await using var cmd = ds.CreateCommand("SELECT stream_key, reason FROM stream_dead_letter ORDER BY id");
            await using var r = await cmd.ExecuteReaderAsync();
            while (await r.ReadAsync()) rows.Add((r.GetString(0), r.GetString(1)));
            return rows;
        }
        var dead = await Eventually.Value(DeadLetters, d => d.Count >= 3, TimeSpan.FromSeconds(60), "three dead letters");
        Assert.Contains(("gone@dl.test", "5.1.1 The recipient's mailbox no longer exists"), dead);
        Assert.Contains(("tiny@dl.test", "5.2.2 The recipient's mailbox is full"), dead);
        Assert.Contains(dead, d => d.Key == "fine@dl.test" && d.Reason.StartsWith("unreadable payload"));
        Assert.Equal(3, dead.Count);

        await Eventually.Until(async () => (await cluster.Client.GetGrain<IMailboxGrain>("fine@dl.test").GetQuota()).Messages >= 1,
            TimeSpan.FromSeconds(60), "the good message behind the bad one");
        Assert.Equal(0, (await cluster.Client.GetGrain<IMailboxGrain>("tiny@dl.test").GetQuota()).Messages);
        // The two refused deliveries were reported to their (external) sender: two DSNs queued to leave.
        async Task<long> Count(string sql)
        {
            await using var cmd = ds.CreateCommand(sql);
            return (long)(await cmd.ExecuteScalarAsync())!;
        }
        await Eventually.Until(async () => await Count("SELECT count(*) FROM stream_queue") == 0, TimeSpan.FromSeconds(30), "an empty stream queue");
        // Queued to leave, or already tried (x.org does not resolve here): either way committed, twice.
        await Eventually.Until(async () => await Count(
            """
            SELECT count(*) FROM (
                SELECT id FROM outbound_message WHERE destination = 'x.org' AND sender IS NULL AND recipients = ARRAY['s@x.org']
                UNION SELECT message_id FROM outbound_attempt WHERE recipient = 's@x.org' AND sender IS NULL) m
            """) == 2, TimeSpan.FromSeconds(30), "two DSNs to s@x.org");
    }
}

using GrainMail.Contracts.Domains;
using GrainMail.Contracts.Mailboxes;
using GrainMail.Storage.Delivery;
using GrainMail.Storage.Blobs;
using GrainMail.Storage.Mailboxes;
using GrainMail.Tests.Infrastructure;
using Npgsql;

namespace GrainMail.Tests;

/// <summary>
/// A mailbox activation whose picture of the database fell behind: a commit of its that landed although it never heard
/// so (the database died with the COMMIT in flight and its synchronous standby, which had it, was promoted). Simulated
/// here by a commit made behind the activation's back at the database's version, with the next UID. The activation's
/// next deliveries then collide on that UID; it must step down so that a fresh one, read from the database, places the
/// redelivered event. Before, it kept its stale picture and every redelivery collided again: the mailbox stalled.
/// </summary>
public sealed class MailboxStaleActivationTests(PostgresServer pg)
{
    [Fact]
    public async Task An_activation_behind_the_database_steps_down_and_the_next_delivery_arrives()
    {
        var ct = TestContext.Current.CancellationToken;
        var db = await pg.NewDatabaseAsync("stalebox");
        await using var cluster = await TestSilos.StartAsync(db);
        var domain = cluster.Client.GetGrain<IDomainGrain>("stale.test");
        await domain.Create(DomainSettings.Default("local"));
        Assert.Equal(DomainOpStatus.Ok, (await domain.CreateAccount(new NewAccount("u", "password1", null, null))).Status);
        const string to = "u@stale.test";
        var submitter = cluster.Service<MessageSubmitter>();
        await submitter.SubmitAsync(new Submission("a@else.where", [to], Messages.Simple("a@else.where", to, "one", "first")), ct);
        var mailbox = cluster.Client.GetGrain<IMailboxGrain>(to);
        await Eventually.Value(async () => (await mailbox.GetQuota()).Messages, n => n == 1, TimeSpan.FromMinutes(1), "the first message placed", ct);

        // Behind the activation's back: a commit at the database's version taking INBOX's next UID, for the first
        // message's blob (one more reference to it), as the unseen commit would have.
        await using var ds = NpgsqlDataSource.Create(db);
        var store = new MailboxStore(ds, new BlobStore(ds, new KeyRing(ds, new MasterKey(new byte[32]))));
        var (row, folders) = (await store.LoadAsync(to, ct))!.Value;
        var inbox = folders.Single(f => f.SpecialUse == SpecialUse.Inbox);
        var first = (await mailbox.GetMessages("INBOX", 1, long.MaxValue)).Single();
        await using (var refs = ds.CreateCommand("UPDATE blob SET refcount = refcount + 1 WHERE hash = @h"))
        {
            refs.Parameters.AddWithValue("h", first.Blob.Hash);
            Assert.Equal(1, await refs.ExecuteNonQueryAsync(ct));
        }
        var unseen = new MailboxChange { UsedBytes = row.UsedBytes + first.Blob.Size, Messages = row.Messages + 1 };
        unseen.Inserted.Add(new MessageRow(inbox.Id, inbox.UidNext, first.Blob.Domain, first.Blob.Hash, first.Blob.Size, DateTimeOffset.UtcNow,
            MessageFlags.None, [], inbox.HighestModSeq + 1, Guid.NewGuid()));
        unseen.FolderUpdates.Add(inbox with { UidNext = inbox.UidNext + 1, HighestModSeq = inbox.HighestModSeq + 1, Messages = inbox.Messages + 1, Bytes = inbox.Bytes + first.Blob.Size });
        Assert.Equal(CommitOutcome.Committed, await store.CommitAsync(to, row.Version, unseen, ct));

        // The stale activation meets the next deliveries, several at once so that they also arrive together (one
        // transaction for a batch, where the UID collides before the version fence is checked): it fails, steps down,
        // and the redelivered events are placed after the unseen message.
        const int next = 40;
        await Parallel.ForEachAsync(Enumerable.Range(0, next), new ParallelOptions { MaxDegreeOfParallelism = 16, CancellationToken = ct },
            async (i, token) => await submitter.SubmitAsync(new Submission("b@else.where", [to], Messages.OfSize("b@else.where", to, 2048, i)), token));
        await Eventually.Value(async () =>
        {
            await using var count = ds.CreateCommand("SELECT count(*) FROM mailbox_message WHERE mailbox = @a");
            count.Parameters.AddWithValue("a", to);
            return Convert.ToInt64(await count.ExecuteScalarAsync(ct));
        }, n => n == next + 2, TimeSpan.FromMinutes(2), "the messages after the unseen commit placed", ct);
        var uids = (await mailbox.GetMessages("INBOX", 1, long.MaxValue)).Select(m => m.Uid).ToList();
        Assert.Equal(Enumerable.Range(1, next + 2).Select(i => (long)i), uids);
    }
}

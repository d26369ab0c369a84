using GrainMail.Contracts.Domains;
using GrainMail.Contracts.Mailboxes;
using GrainMail.Tests.Infrastructure;
using Orleans.TestingHost;

namespace GrainMail.Tests;

/// <summary>
/// The mailbox grain runs its read-only calls while a write waits on PostgreSQL (issue 13). These
/// tests fire reads and writes at one mailbox together and check that every answer is one whole
/// state (counters agree with the message list), that nothing is lost or doubled by the lazy
/// message-list load, and that the final state is what the writes made.
/// </summary>
public sealed class MailboxInterleavingTests(PostgresServer pg) : IAsyncLifetime
{
    private InProcessTestCluster _cluster = null!;

    public async ValueTask InitializeAsync()
    {
        _cluster = await TestSilos.StartAsync(await pg.NewDatabaseAsync("mbxi"));
        await _cluster.Client.GetGrain<IDomainGrain>("example.com").Create(DomainSettings.Default("local"));
    }

    public async ValueTask DisposeAsync() => await _cluster.DisposeAsync();

    private async Task<IMailboxGrain> NewMailbox()
    {
        var local = "i" + Guid.NewGuid().ToString("N")[..10];
        var created = await _cluster.Client.GetGrain<IDomainGrain>("example.com").CreateAccount(new NewAccount(local, "password1", null, 100_000_000));
        Assert.Equal(DomainOpStatus.Ok, created.Status);
        return _cluster.Client.GetGrain<IMailboxGrain>($"{local}@example.com");
    }

    private static byte[] Mail(int n) => Messages.Simple("a@x.org", "u@example.com", "m" + n, "body " + n);

    /// <summary>A snapshot is one state: its counters describe exactly the messages it lists.</summary>
    private static void AssertWhole(FolderSnapshot s)
    {
        Assert.Equal(s.Info.Messages, s.Messages.Count);
        Assert.Equal(s.Info.Unseen, s.Messages.Count(m => (m.Flags & MessageFlags.Seen) == 0));
        Assert.Equal(s.Messages.Count, s.Messages.Select(m => m.Uid).Distinct().Count());
        if (s.Messages.Count == 0) return;
        Assert.True(s.Info.UidNext > s.Messages.Max(m => m.Uid), "UIDNEXT below a listed UID");
        Assert.True(s.Info.HighestModSeq >= s.Messages.Max(m => m.ModSeq), "HIGHESTMODSEQ below a listed MODSEQ");
    }

    [Fact]
    public async Task Reads_during_appends_to_a_folder_not_yet_loaded_neither_lose_nor_double_a_message()
    {
        for (var round = 0; round < 5; round++)
        {
            // A new mailbox: its folders' message lists are loaded on first use, so the first
            // Open races the appends that are on their way to PostgreSQL.
            var box = await NewMailbox();
            var writes = Enumerable.Range(0, 20).Select(i => box.Append("INBOX", Mail(i), MessageFlags.None, [], null)).ToList();
            var reads = Enumerable.Range(0, 20).Select(_ => box.Open("INBOX", claimRecent: false)).ToList();
            await Task.WhenAll(writes);
            foreach (var s in await Task.WhenAll(reads)) AssertWhole(s!);
            var final = (await box.Open("INBOX", claimRecent: false))!;
            AssertWhole(final);
            Assert.Equal(Enumerable.Range(1, 20).Select(i => (long)i), final.Messages.Select(m => m.Uid));
        }
    }

    [Fact]
    public async Task Reads_while_flags_change_and_messages_go_see_whole_states_and_the_changes_add_up()
    {
        var box = await NewMailbox();
        for (var i = 0; i < 40; i++) await box.Append("INBOX", Mail(i), MessageFlags.None, [], null);
        var start = (await box.Open("INBOX", claimRecent: false))!;

        var writer = Task.Run(async () =>
        {
            for (var i = 1; i <= 40; i++)
            {
                await box.StoreFlags("INBOX", [i], new FlagChange(FlagChangeMode.Add, i % 3 == 0 ? MessageFlags.Deleted | MessageFlags.Seen : MessageFlags.Seen, []));
                if (i % 6 == 0) await box.Expunge("INBOX", null);
                if (i % 10 == 0) await box.Append("INBOX", Mail(100 + i), MessageFlags.None, [], null);
            }
            await box.Expunge("INBOX", null);
        });
        var readers = Enumerable.Range(0, 3).Select(_ => Task.Run(async () =>
        {
            var seen = start.Info.HighestModSeq;
            var view = start.Messages.ToDictionary(m => m.Uid);
            while (!writer.IsCompleted)
            {
                AssertWhole((await box.Open("INBOX", claimRecent: false))!);
                var info = (await box.GetFolder("INBOX"))!;
                Assert.True(info.HighestModSeq >= seen, "HIGHESTMODSEQ went back");
                // A session's way of keeping up: what changed since the MODSEQ it stands at.
                var changes = (await box.GetChanges("INBOX", seen))!;
                Assert.True(changes.HighestModSeq >= seen);
                foreach (var uid in changes.Expunged ?? view.Keys.Except(changes.AllUids!).ToList()) view.Remove(uid);
                foreach (var m in changes.Changed) view[m.Uid] = m;
                seen = changes.HighestModSeq;
                Assert.All(changes.Changed, m => Assert.True(m.ModSeq <= changes.HighestModSeq, "a change newer than the MODSEQ it came with"));
            }
            return (seen, view);
        })).ToList();
        await writer;
        var final = (await box.Open("INBOX", claimRecent: false))!;
        AssertWhole(final);
        Assert.Equal(40 - 13 + 4, final.Messages.Count);
        Assert.All(final.Messages, m => Assert.Equal(0, (int)(m.Flags & MessageFlags.Deleted)));
        foreach (var (seen, view) in await Task.WhenAll(readers))
        {
            // Catching up from where each reader stood gives exactly the final state.
            var rest = (await box.GetChanges("INBOX", seen))!;
            foreach (var uid in rest.Expunged ?? view.Keys.Except(rest.AllUids!).ToList()) view.Remove(uid);
            foreach (var m in rest.Changed) view[m.Uid] = m;
            Assert.Equal(final.Messages.Select(m => (m.Uid, m.Flags)), view.Values.OrderBy(m => m.Uid).Select(m => (m.Uid, m.Flags)));
        }
    }
}

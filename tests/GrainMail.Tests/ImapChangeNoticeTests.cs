using System.Text;
using GrainMail.Tests.Infrastructure;
using MailKit;
using MailKit.Net.Imap;
using MailKit.Security;

namespace GrainMail.Tests;

/// <summary>
/// Change notices that carry the change (the grain's FolderChangedWith): two MailKit sessions on one
/// mailbox, one in IDLE and one polling with UID FETCH, follow a third session that appends, flags and
/// expunges. Each must end with exactly the server's messages and flags, having been told of every
/// expunge of a message it knew exactly once (RFC 3501 7.4.1: an EXPUNGE told twice removes a second message).
/// </summary>
public sealed class ImapChangeNoticeTests(SmtpHostFixture host) : IClassFixture<SmtpHostFixture>
{
    private const string Pw = SmtpHostFixture.Password;
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(20);

    private async Task<ImapClient> Connect(string user)
    {
        var c = new ImapClient { ServerCertificateValidationCallback = (_, _, _, _) => true, Timeout = 30_000 };
        await c.ConnectAsync("127.0.0.1", host.Imaps, SecureSocketOptions.SslOnConnect);
        await c.AuthenticateAsync(user, Pw);
        return c;
    }

    private static async Task<List<long>> AppendAsync(RawImap writer, int count, string subject)
    {
        var uids = new List<long>();
        for (var i = 0; i < count; i++)
        {
            var bytes = Encoding.UTF8.GetBytes($"From: w@example.org\r\nSubject: {subject} {i}\r\n\r\nbody {i}\r\n");
            var tag = writer.NextTag();
            await writer.SendRawAsync($"{tag} APPEND INBOX {{{bytes.Length}+}}\r\n");
            await writer.SendRawAsync([.. bytes, .. "\r\n"u8]);
            var r = await writer.ReadTaggedAsync(tag);
            Assert.True(r.Ok, r.Text);
            uids.Add(long.Parse(r.Tagged.Split(' ')[3].TrimEnd(']'), System.Globalization.CultureInfo.InvariantCulture));
        }
        return uids;
    }

    private static async Task ExpungeAsync(RawImap writer, IEnumerable<long> uids)
    {
        var set = string.Join(',', uids);
        Assert.True((await writer.CommandAsync($"UID STORE {set} +FLAGS.SILENT (\\Deleted)")).Ok);
        Assert.True((await writer.CommandAsync($"UID EXPUNGE {set}")).Ok);
    }

    /// <summary>The server's UIDs and flags of INBOX, as the writing session reads them.</summary>
    private static async Task<List<(long Uid, bool Flagged)>> ServerStateAsync(RawImap writer)
    {
        var r = await writer.CommandAsync("UID FETCH 1:* (FLAGS)");
        return r.Untagged.Where(l => l.Contains(" FETCH (", StringComparison.Ordinal))
            .Select(l => (long.Parse(System.Text.RegularExpressions.Regex.Match(l, @"UID (\d+)").Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture),
                l.Contains("\\Flagged", StringComparison.Ordinal)))
            .OrderBy(x => x.Item1).ToList();
    }

    private static async Task<List<(long Uid, bool Flagged)>> ClientStateAsync(IMailFolder folder)
    {
        var summaries = await folder.FetchAsync(UniqueIdRange.All, MessageSummaryItems.UniqueId | MessageSummaryItems.Flags);
        return summaries.Select(s => ((long)s.UniqueId.Id, s.Flags!.Value.HasFlag(MessageFlags.Flagged))).OrderBy(x => x.Item1).ToList();
    }

    [Fact]
    public async Task Two_sessions_follow_a_third_that_appends_flags_and_expunges_with_every_expunge_told_once()
    {
        var local = "n" + Guid.NewGuid().ToString("N")[..10];
        await host.NewAccount(local);
        var user = $"{local}@{SmtpHostFixture.Domain}";
        using var idler = await Connect(user);
        using var poller = await Connect(user);
        var idleInbox = idler.Inbox;
        var pollInbox = poller.Inbox;
        await idleInbox.OpenAsync(FolderAccess.ReadWrite);
        await pollInbox.OpenAsync(FolderAccess.ReadWrite);
        var idleExpunges = 0;
        var pollExpunges = 0;
        idleInbox.MessageExpunged += (_, _) => Interlocked.Increment(ref idleExpunges);
        pollInbox.MessageExpunged += (_, _) => Interlocked.Increment(ref pollExpunges);
        await using var writer = await RawImap.LoginAsync(host.Imaps, user, Pw);
        Assert.True((await writer.CommandAsync("SELECT INBOX")).Ok);

        var syncsBefore = await ViewSyncsAsync();
        using var done = new CancellationTokenSource();
        var idling = idler.IdleAsync(done.Token);
        async Task PollUntil(int count) =>
            await Eventually.Until(async () => (await pollInbox.FetchAsync(UniqueIdRange.All, MessageSummaryItems.UniqueId)).Count == count && pollInbox.Count == count,
                Wait, $"the polling session to hold {count} messages");

        // Rounds where both sessions know every message before it is expunged: each expunge is told exactly once.
        var expected = 0;
        var expunged = 0;
        for (var round = 0; round < 4; round++)
        {
            var uids = await AppendAsync(writer, 5, $"round {round}");
            expected += 5;
            await Eventually.Until(() => idleInbox.Count == expected, Wait, $"the idling session to hold {expected} messages");
            await PollUntil(expected);
            Assert.True((await writer.CommandAsync($"UID STORE {uids[0]} +FLAGS (\\Flagged)")).Ok);
            await ExpungeAsync(writer, [uids[1], uids[3]]);
            expected -= 2;
            expunged += 2;
            await Eventually.Until(() => idleInbox.Count == expected, Wait, $"the idling session to hold {expected} messages");
            await PollUntil(expected);
            Assert.Equal(expunged, Volatile.Read(ref idleExpunges));
            Assert.Equal(expunged, Volatile.Read(ref pollExpunges));
        }

        // A burst with no waiting: appends, flags and expunges chain notices faster than the sessions sync.
        var burst = await AppendAsync(writer, 30, "burst");
        Assert.True((await writer.CommandAsync($"UID STORE {burst[2]}:{burst[9]} +FLAGS (\\Flagged)")).Ok);
        await ExpungeAsync(writer, burst.Where((_, i) => i % 3 == 0));
        var moreUids = await AppendAsync(writer, 3, "after");
        await ExpungeAsync(writer, [moreUids[1]]);
        var server = await ServerStateAsync(writer);

        await Eventually.Until(() => idleInbox.Count == server.Count, Wait, $"the idling session to hold {server.Count} messages");
        await done.CancelAsync();
        await idling;
        await PollUntil(server.Count);
        Assert.Equal(server, await ClientStateAsync(pollInbox));
        Assert.Equal(server, await ClientStateAsync(idleInbox));
        // MailKit's count goes down once per EXPUNGE: a count equal to the server's means none was told twice.
        Assert.Equal(server.Count, idleInbox.Count);
        Assert.Equal(server.Count, pollInbox.Count);
        await idler.DisconnectAsync(true);
        await poller.DisconnectAsync(true);

        // The idling and polling MailKit sessions took changes from their notices, not only from GetChanges.
        (double Notice, double Grain) syncs = default;
        await Eventually.Until(async () => (syncs = await ViewSyncsAsync()).Notice > syncsBefore.Notice, Wait, "view updates taken from notices");
        TestContext.Current.TestOutputHelper?.WriteLine(
            $"view syncs during the MailKit run: notice {syncs.Notice - syncsBefore.Notice}, grain {syncs.Grain - syncsBefore.Grain}");
    }

    private async Task<(double Notice, double Grain)> ViewSyncsAsync()
    {
        var text = await host.Host.Http.GetStringAsync("/metrics");
        return (Prometheus.Values(text, "grainmail_imap_view_syncs_total", ("source", "notice")).Sum(),
            Prometheus.Values(text, "grainmail_imap_view_syncs_total", ("source", "grain")).Sum());
    }

    /// <summary>
    /// The point of carrying the change in the notice: a session in IDLE that is told of another
    /// session's flag changes one at a time takes each from its notice, not with a GetChanges call
    /// to the mailbox grain. Fails if notices are never applied (both counts are the node's own).
    /// </summary>
    [Fact]
    public async Task An_idling_session_takes_small_changes_from_their_notices_without_asking_the_grain()
    {
        var local = "v" + Guid.NewGuid().ToString("N")[..10];
        await host.NewAccount(local);
        var user = $"{local}@{SmtpHostFixture.Domain}";
        await using var writer = await RawImap.LoginAsync(host.Imaps, user, Pw);
        var uids = await AppendAsync(writer, 3, "flagged in turn");
        Assert.True((await writer.CommandAsync("SELECT INBOX")).Ok);
        await using var idler = await RawImap.LoginAsync(host.Imaps, user, Pw);
        Assert.True((await idler.CommandAsync("SELECT INBOX")).Ok);
        await idler.SendRawAsync("i1 IDLE\r\n");
        Assert.StartsWith("+", await idler.ReadLineAsync());

        const int Changes = 12;
        var before = await ViewSyncsAsync();
        for (var i = 0; i < Changes; i++)
        {
            // Each message flagged, then unflagged: every STORE is a change (a new MODSEQ).
            var flag = i % 2 == 0 ? "+FLAGS" : "-FLAGS";
            var uid = uids[i / 2 % 3];
            Assert.True((await writer.CommandAsync($"UID STORE {uid} {flag}.SILENT (\\Flagged)")).Ok);
            // The idler tells its client of exactly this change before the next one is made.
            string? line;
            do line = await idler.ReadLineAsync();
            while (line is not null && !line.Contains(" FETCH (", StringComparison.Ordinal));
            Assert.NotNull(line);
            Assert.Contains($"UID {uid}", line, StringComparison.Ordinal);
            Assert.Equal(i % 2 == 0, line.Contains("\\Flagged", StringComparison.Ordinal));
        }
        await idler.SendRawAsync("DONE\r\n");
        Assert.True((await idler.ReadTaggedAsync("i1")).Ok);

        (double Notice, double Grain) after = default;
        // Counters reach /metrics when scraped; the exporter may hand out its last scrape for a moment.
        await Eventually.Until(async () => (after = await ViewSyncsAsync()).Notice - before.Notice >= Changes, Wait,
            $"{Changes} view updates from notices (notice {before.Notice}->{after.Notice}, grain {before.Grain}->{after.Grain})");
        // The writer's own APPEND/STORE responses do not need the grain either; a late notice may cost one call.
        Assert.True(after.Grain - before.Grain <= 2, $"GetChanges calls: {after.Grain - before.Grain} for {Changes} changes");
    }
}

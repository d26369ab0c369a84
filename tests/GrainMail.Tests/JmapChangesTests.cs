using System.Text.Json.Nodes;
using GrainMail.Tests.Infrastructure;
using MailKit;
using MailKit.Net.Imap;
using MailKit.Security;
using MimeKit;

namespace GrainMail.Tests;

/// <summary>
/// Email/changes, Email/queryChanges and Mailbox/changes computed from the state string and the
/// mailbox's own expunge record: IMAP changes made between two JMAP calls come back exactly, from a
/// gateway that never saw the old state (the host restarted in between), and maxChanges pages them
/// with hasMoreChanges.
/// </summary>
public sealed class JmapChangesTests(JmapExtrasHost fixture) : IClassFixture<JmapExtrasHost>
{
    private async Task<ImapClient> ImapAsync(string user)
    {
        var c = new ImapClient { ServerCertificateValidationCallback = (_, _, _, _) => true, Timeout = 30_000 };
        await c.ConnectAsync("127.0.0.1", fixture.Host.Listening.Imaps, SecureSocketOptions.SslOnConnect);
        await c.AuthenticateAsync(user, JmapExtrasHost.Password);
        return c;
    }

    private async Task<JmapClient> JmapAsync(string user)
    {
        var jmap = new JmapClient(fixture.User(user));
        await jmap.LoadSessionAsync();
        return jmap;
    }

    private static MimeMessage Message(string subject)
    {
        var m = new MimeMessage { Subject = subject, Date = DateTimeOffset.UtcNow, MessageId = Guid.NewGuid().ToString("N") + "@example.com" };
        m.From.Add(MailboxAddress.Parse("sender@example.com"));
        m.To.Add(MailboxAddress.Parse("to@example.com"));
        m.Body = new TextPart("plain") { Text = subject + " body" };
        return m;
    }

    private static object Query(string acc, string inbox) =>
        new { accountId = acc, filter = new { inMailbox = inbox }, sort = new[] { new { property = "receivedAt", isAscending = false } } };

    private static List<string> Strings(JsonNode? array) => ((JsonArray)array!).Select(x => (string)x!).ToList();

    [Fact]
    public async Task Imap_changes_between_two_calls_come_back_exactly_after_a_restart_and_page_by_maxChanges()
    {
        var user = await fixture.NewAccount(await fixture.NewDomain("ch"), "eve");
        string acc, inboxId, state0, queryState0, id1, id2, id3;
        using (var imap = await ImapAsync(user))
        {
            await imap.Inbox.OpenAsync(FolderAccess.ReadWrite);
            for (var i = 1; i <= 3; i++)
                await imap.Inbox.AppendAsync(new AppendRequest(Message($"m{i}"), MessageFlags.None, new DateTimeOffset(2026, 11, i, 8, 0, 0, TimeSpan.Zero)));
            using var jmap = await JmapAsync(user);
            acc = jmap.AccountId;
            var boxes = (await jmap.CallAsync("Mailbox/get", new { accountId = acc })).Of("Mailbox/get");
            inboxId = (string)((JsonArray)boxes["list"]!).First(m => (string?)m!["role"] == "inbox")!["id"]!;
            var query = (await jmap.CallAsync("Email/query", Query(acc, inboxId))).Of("Email/query");
            Assert.True((bool)query["canCalculateChanges"]!);
            queryState0 = (string)query["queryState"]!;
            var ids = Strings(query["ids"]);
            (id3, id2, id1) = (ids[0], ids[1], ids[2]);
            state0 = (string)(await jmap.CallAsync("Email/get", new { accountId = acc, ids = Array.Empty<string>() })).Of("Email/get")["state"]!;
            Assert.Equal(state0, (string)boxes["state"]!);

            // Between the two JMAP calls, over IMAP: one new message, one flagged seen, one expunged.
            await imap.Inbox.AppendAsync(new AppendRequest(Message("m4"), MessageFlags.None, new DateTimeOffset(2026, 11, 4, 8, 0, 0, TimeSpan.Zero)));
            var uids = await imap.Inbox.SearchAsync(MailKit.Search.SearchQuery.All);
            await imap.Inbox.AddFlagsAsync(uids[0], MessageFlags.Seen, silent: true);
            await imap.Inbox.AddFlagsAsync(uids[1], MessageFlags.Deleted, silent: true);
            await imap.Inbox.ExpungeAsync();
            await imap.DisconnectAsync(true);
        }

        // No gateway has seen state0 now: the removal must come from the mailbox's own record.
        await fixture.RestartAsync();
        using var after = await JmapAsync(user);
        var changes = (await after.CallAsync("Email/changes", new { accountId = acc, sinceState = state0 })).Of("Email/changes");
        var id4 = Assert.Single(Strings(changes["created"]));
        Assert.DoesNotContain(id4, new[] { id1, id2, id3 });
        Assert.Equal([id1], Strings(changes["updated"]));
        Assert.Equal([id2], Strings(changes["destroyed"]));
        Assert.False((bool)changes["hasMoreChanges"]!);
        var current = (string)changes["newState"]!;

        var boxChanges = (await after.CallAsync("Mailbox/changes", new { accountId = acc, sinceState = state0 })).Of("Mailbox/changes");
        Assert.Equal([inboxId], Strings(boxChanges["updated"]));
        Assert.Empty(Strings(boxChanges["created"]));

        // The query: id1 changed (may have moved), id2 left; id4 (index 0) and id1 (index 2) are in the results now.
        var qc = (await after.CallAsync("Email/queryChanges", new JsonObject
        {
            ["accountId"] = acc,
            ["sinceQueryState"] = queryState0,
            ["calculateTotal"] = true,
            ["filter"] = new JsonObject { ["inMailbox"] = inboxId },
            ["sort"] = new JsonArray(new JsonObject { ["property"] = "receivedAt", ["isAscending"] = false }),
        })).Of("Email/queryChanges");
        Assert.Equal(new[] { id1, id2 }.Order(), Strings(qc["removed"]).Order());
        var added = ((JsonArray)qc["added"]!).Select(a => ((string)a!["id"]!, (int)a["index"]!)).ToList();
        Assert.Equal([(id4, 0), (id1, 2)], added);
        Assert.Equal(3, (int)qc["total"]!);
        Assert.Equal(current, (string)qc["newQueryState"]!);

        // maxChanges 1: one id per answer, hasMoreChanges until the state is current, the same changes in all.
        var created = new List<string>();
        var updated = new List<string>();
        var destroyed = new List<string>();
        var since = state0;
        for (var round = 0; round < 10; round++)
        {
            var page = (await after.CallAsync("Email/changes", new { accountId = acc, sinceState = since, maxChanges = 1 })).Of("Email/changes");
            created.AddRange(Strings(page["created"]));
            updated.AddRange(Strings(page["updated"]));
            destroyed.AddRange(Strings(page["destroyed"]));
            Assert.True(Strings(page["created"]).Count + Strings(page["updated"]).Count + Strings(page["destroyed"]).Count <= 1);
            since = (string)page["newState"]!;
            if (!(bool)page["hasMoreChanges"]!) break;
        }
        Assert.Equal(current, since);
        Assert.Equal([id4], created);
        Assert.Equal([id2], destroyed);
        // A page's state says "new messages below this UID, changes up to this modseq": a message reported
        // created in one page (with its present data) may come again as updated in a later one, nothing else may.
        Assert.Contains(id1, updated);
        Assert.All(updated, id => Assert.Contains(id, new[] { id1, id4 }));
    }

    [Fact]
    public async Task Thread_changes_name_the_thread_of_an_email_expunged_over_imap_after_a_restart()
    {
        var user = await fixture.NewAccount(await fixture.NewDomain("th"), "tia");
        string acc, inboxId, state0, queryState0, keptThread, goneId, goneThread, replyId;
        using (var imap = await ImapAsync(user))
        {
            await imap.Inbox.OpenAsync(FolderAccess.ReadWrite);
            // Two threads: a message with a reply, and a message alone.
            var root = Message("root");
            var reply = Message("Re: root");
            reply.InReplyTo = root.MessageId;
            reply.References.Add(root.MessageId!);
            await imap.Inbox.AppendAsync(new AppendRequest(root, MessageFlags.None, new DateTimeOffset(2026, 11, 1, 8, 0, 0, TimeSpan.Zero)));
            await imap.Inbox.AppendAsync(new AppendRequest(reply, MessageFlags.None, new DateTimeOffset(2026, 11, 2, 8, 0, 0, TimeSpan.Zero)));
            await imap.Inbox.AppendAsync(new AppendRequest(Message("alone"), MessageFlags.None, new DateTimeOffset(2026, 11, 3, 8, 0, 0, TimeSpan.Zero)));
            using var jmap = await JmapAsync(user);
            acc = jmap.AccountId;
            var boxes = (await jmap.CallAsync("Mailbox/get", new { accountId = acc })).Of("Mailbox/get");
            inboxId = (string)((JsonArray)boxes["list"]!).First(m => (string?)m!["role"] == "inbox")!["id"]!;
            var query = (await jmap.CallAsync("Email/query", new
            {
                accountId = acc,
                filter = new { inMailbox = inboxId },
                sort = new[] { new { property = "receivedAt", isAscending = false } },
                collapseThreads = true,
            })).Of("Email/query");
            queryState0 = (string)query["queryState"]!;
            var get = (await jmap.CallAsync("Email/get", new { accountId = acc, ids = (string[]?)null, properties = new[] { "threadId", "subject" } })).Of("Email/get");
            state0 = (string)get["state"]!;
            var emails = ((JsonArray)get["list"]!).Select(e => (Id: (string)e!["id"]!, Thread: (string)e["threadId"]!, Subject: (string)e["subject"]!)).ToList();
            Assert.Equal(3, emails.Count);
            goneId = emails.Single(e => e.Subject == "alone").Id;
            goneThread = emails.Single(e => e.Subject == "alone").Thread;
            replyId = emails.Single(e => e.Subject == "Re: root").Id;
            keptThread = emails.Single(e => e.Subject == "root").Thread;
            Assert.Equal(keptThread, emails.Single(e => e.Subject == "Re: root").Thread);
            Assert.NotEqual(keptThread, goneThread);

            // Over IMAP, between the JMAP calls: the lone message and the reply are expunged; the thread's root stays.
            var uids = await imap.Inbox.SearchAsync(MailKit.Search.SearchQuery.All);
            await imap.Inbox.AddFlagsAsync([uids[1], uids[2]], MessageFlags.Deleted, silent: true);
            await imap.Inbox.ExpungeAsync();
            await imap.DisconnectAsync(true);
        }

        // A gateway that never read those Emails (the host restarted): their threads come from the tombstones alone.
        await fixture.RestartAsync();
        using var after = await JmapAsync(user);
        var changes = (await after.CallAsync("Email/changes", new { accountId = acc, sinceState = state0 })).Of("Email/changes");
        Assert.Equal(new[] { goneId, replyId }.Order(), Strings(changes["destroyed"]).Order());
        var threads = (await after.CallAsync("Thread/changes", new { accountId = acc, sinceState = state0 })).Of("Thread/changes");
        Assert.Equal([goneThread], Strings(threads["destroyed"]));
        Assert.Equal([keptThread], Strings(threads["updated"]));
        Assert.Empty(Strings(threads["created"]));

        // queryChanges with collapseThreads needs the removed Emails' threads too.
        var qc = (await after.CallAsync("Email/queryChanges", new JsonObject
        {
            ["accountId"] = acc,
            ["sinceQueryState"] = queryState0,
            ["collapseThreads"] = true,
            ["filter"] = new JsonObject { ["inMailbox"] = inboxId },
            ["sort"] = new JsonArray(new JsonObject { ["property"] = "receivedAt", ["isAscending"] = false }),
        })).Of("Email/queryChanges");
        Assert.Contains(goneId, Strings(qc["removed"]));
        Assert.Contains(replyId, Strings(qc["removed"]));
    }
}

using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using GrainMail.Tests.Infrastructure;
using MailKit;
using MailKit.Net.Imap;
using MailKit.Security;
using MimeKit;

namespace GrainMail.Tests;

/// <summary>
/// Domain-wide search and deletion (issue 17, 4.2.18) end to end: one message delivered by SMTP to
/// three mailboxes is found with its three recipients, deleted from all of them in one call (an
/// IMAP session in IDLE sees the EXPUNGE, the others find it gone), and the audit log names it.
/// </summary>
public sealed class DomainSweepTests(SmtpHostFixture host) : IClassFixture<SmtpHostFixture>
{
    private const string D = SmtpHostFixture.Domain;

    private async Task<string> NewUser()
    {
        var local = "s" + Guid.NewGuid().ToString("N")[..10];
        await host.NewAccount(local);
        return $"{local}@{D}";
    }

    private async Task<ImapClient> Imap(string user)
    {
        var c = new ImapClient { ServerCertificateValidationCallback = (_, _, _, _) => true, Timeout = 30_000 };
        await c.ConnectAsync("127.0.0.1", host.Imaps, SecureSocketOptions.SslOnConnect);
        await c.AuthenticateAsync(user, SmtpHostFixture.Password);
        return c;
    }

    private async Task SendSmtp(MimeMessage m)
    {
        using var smtp = new MailKit.Net.Smtp.SmtpClient { Timeout = 30_000 };
        await smtp.ConnectAsync("127.0.0.1", host.Mx, SecureSocketOptions.None);
        await smtp.SendAsync(m);
        await smtp.DisconnectAsync(true);
    }

    private static MimeMessage Message(string from, IEnumerable<string> to, string subject, string messageId)
    {
        var m = new MimeMessage { Subject = subject, MessageId = messageId };
        m.From.Add(MailboxAddress.Parse(from));
        foreach (var t in to) m.To.Add(MailboxAddress.Parse(t));
        m.Body = new TextPart("plain") { Text = "Please ignore the attachment.\r\n" };
        return m;
    }

    private async Task<JsonElement[]> Search(string query)
    {
        var r = await host.Host.Http.GetAsync($"/api/v1/domains/{D}/messages?{query}");
        Assert.True(r.StatusCode == HttpStatusCode.OK, await r.Content.ReadAsStringAsync());
        return (await r.Content.ReadFromJsonAsync<JsonElement>()).EnumerateArray().ToArray();
    }

    [Fact]
    public async Task A_message_in_three_mailboxes_is_found_with_its_recipients_and_deleted_from_all_of_them()
    {
        var users = new[] { await NewUser(), await NewUser(), await NewUser() };
        var messageId = $"{Guid.NewGuid():N}@phish.example";
        var subject = $"Urgent invoice {Guid.NewGuid():N}"[..30];
        await SendSmtp(Message("billing@phish.example", users, subject, messageId));
        // A message that stays: same sender, another subject, one of the same mailboxes.
        await SendSmtp(Message("billing@phish.example", [users[0]], "Quarterly figures", $"{Guid.NewGuid():N}@phish.example"));
        await host.WaitForMessages(users[0], 2);
        await host.WaitForMessages(users[1], 1);
        await host.WaitForMessages(users[2], 1);

        // Found by Message-ID, by a part of the subject, and by sender with a time range.
        var hit = (await Search($"messageId={Uri.EscapeDataString($"<{messageId}>")}")).Single();
        Assert.Equal(users.Order(StringComparer.Ordinal), hit.GetProperty("recipients").EnumerateArray().Select(r => r.GetProperty("mailbox").GetString()!).Order(StringComparer.Ordinal));
        Assert.All(hit.GetProperty("recipients").EnumerateArray(), r => Assert.Equal("INBOX", r.GetProperty("folder").GetString()));
        Assert.Equal(subject, hit.GetProperty("subject").GetString());
        Assert.Equal("billing@phish.example", hit.GetProperty("from").GetString());
        var id = hit.GetProperty("id").GetString()!;
        // Subject search is by whole words (keyed word tokens, see MessageIndex), any case, any order.
        Assert.Equal(id, (await Search($"subject={Uri.EscapeDataString(subject[15..].ToUpperInvariant() + " INVOICE")}")).Single().GetProperty("id").GetString());
        Assert.Empty(await Search($"subject={Uri.EscapeDataString(subject[8..20])}"));
        var since = Uri.EscapeDataString(DateTimeOffset.UtcNow.AddMinutes(-10).ToString("O"));
        var bySender = await Search($"sender=Billing@phish.example&from={since}");
        Assert.Equal(2, bySender.Count(h => h.GetProperty("recipients").EnumerateArray().Any(r => r.GetProperty("mailbox").GetString() == users[0])));
        Assert.Empty(await Search($"sender=billing@phish.example&to=2001-01-01T00:00:00Z"));
        Assert.Equal(HttpStatusCode.BadRequest, (await host.Host.Http.GetAsync($"/api/v1/domains/{D}/messages")).StatusCode);

        // The first recipient watches its INBOX in IDLE.
        using var watcher = await Imap(users[0]);
        await watcher.Inbox.OpenAsync(FolderAccess.ReadOnly);
        Assert.Equal(2, watcher.Inbox.Count);
        var expunged = new TaskCompletionSource<int>(TaskCreationOptions.RunContinuationsAsynchronously);
        watcher.Inbox.MessageExpunged += (_, e) => expunged.TrySetResult(e.Index);
        using var stopIdle = new CancellationTokenSource();
        var idle = watcher.IdleAsync(stopIdle.Token);

        var purge = await host.Post($"/api/v1/domains/{D}/messages/purge", new { ids = new[] { id } });
        Assert.Equal(HttpStatusCode.OK, purge.StatusCode);
        var done = (await purge.Content.ReadFromJsonAsync<JsonElement>()).EnumerateArray().Single();
        Assert.Equal(3, done.GetProperty("removed").GetArrayLength());
        Assert.Equal(0, done.GetProperty("failed").GetArrayLength());

        Assert.Same(expunged.Task, await Task.WhenAny(expunged.Task, Task.Delay(TimeSpan.FromSeconds(15))));
        await stopIdle.CancelAsync();
        await idle;
        Assert.Equal(1, watcher.Inbox.Count);
        var left = (await watcher.Inbox.FetchAsync(0, -1, MessageSummaryItems.Envelope)).Single();
        Assert.Equal("Quarterly figures", left.Envelope!.Subject);
        await watcher.DisconnectAsync(true);
        foreach (var other in users[1..])
        {
            using var c = await Imap(other);
            await c.Inbox.OpenAsync(FolderAccess.ReadOnly);
            Assert.Equal(0, c.Inbox.Count);
            await c.DisconnectAsync(true);
        }
        Assert.Empty(await Search($"messageId={Uri.EscapeDataString(messageId)}"));

        // The audit entry names the action, the domain, the message and every copy.
        JsonElement entry = default;
        await Eventually.Until(async () =>
        {
            var page = await host.Host.Http.GetFromJsonAsync<JsonElement>($"/api/v1/audit?action=message.purge&target={D}");
            var items = page.GetProperty("items").EnumerateArray().Where(e => e.GetProperty("detail").GetString()!.Contains(id)).ToArray();
            if (items.Length == 0) return false;
            entry = items[0];
            return true;
        }, TimeSpan.FromSeconds(20), "the purge's audit entry");
        Assert.Equal("super", entry.GetProperty("actor").GetString());
        Assert.Equal("ok", entry.GetProperty("result").GetString());
        var detail = JsonDocument.Parse(entry.GetProperty("detail").GetString()!).RootElement;
        var logged = detail.GetProperty("messages")[0];
        Assert.Equal(messageId, logged.GetProperty("messageId").GetString());
        Assert.Equal(users.Order(StringComparer.Ordinal), logged.GetProperty("removed").EnumerateArray().Select(r => r.GetProperty("mailbox").GetString()!).Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task The_grainmail_script_searches_and_deletes()
    {
        var user = await NewUser();
        var messageId = $"{Guid.NewGuid():N}@cli.example";
        await SendSmtp(Message("someone@cli.example", [user], "via the script", messageId));
        await host.WaitForMessages(user, 1);

        var found = await Cli("sweep", "search", D, $"messageId={messageId}");
        Assert.True(found.ExitCode == 0, found.Err);
        var id = JsonDocument.Parse(found.Out).RootElement[0].GetProperty("id").GetString()!;
        var deleted = await Cli("sweep", "delete", D, id);
        Assert.True(deleted.ExitCode == 0, deleted.Err);
        Assert.Equal(user, JsonDocument.Parse(deleted.Out).RootElement[0].GetProperty("removed")[0].GetProperty("mailbox").GetString());
        Assert.Equal(0, await host.InboxCount(user));
        Assert.Equal(2, (await Cli("sweep", "search")).ExitCode);
    }

    private async Task<(int ExitCode, string Out, string Err)> Cli(params string[] args)
    {
        var r = await GrainmailCli.AsOperator(host.Host.BaseUrl, args);
        return (r.ExitCode, r.Out, r.Err);
    }

    [Fact]
    public async Task Appended_and_list_messages_are_found_and_a_subject_search_sees_past_20000_newer_messages()
    {
        var tag = Guid.NewGuid().ToString("N")[..12];
        var appender = await NewUser();
        var members = new[] { await NewUser(), await NewUser() };

        // APPEND stores a message without any delivery: it is indexed all the same.
        using (var c = await Imap(appender))
        {
            var m = Message("draft@" + D, [appender], $"Appended memo {tag}", $"{tag}.a@example.test");
            await c.Inbox.AppendAsync(new AppendRequest(m, MessageFlags.Seen));
            await c.DisconnectAsync(true);
        }
        // A list's members get a copy of their own (another blob, with the list headers): indexed too.
        var list = "sw" + tag[..8];
        Assert.Equal(HttpStatusCode.Created, (await host.Post($"/api/v1/domains/{D}/lists", new { name = list, postPolicy = "anyone" })).StatusCode);
        foreach (var member in members)
            Assert.Equal(HttpStatusCode.Created, (await host.Post($"/api/v1/domains/{D}/lists/{list}/members", new { account = member })).StatusCode);
        await SendSmtp(Message("news@phish.example", [$"{list}@{D}"], $"List bulletin {tag}", $"{tag}.l@phish.example"));
        foreach (var member in members) await host.WaitForMessages(member, 1);

        var appended = (await Search($"subject={Uri.EscapeDataString("memo " + tag)}")).Single();
        Assert.Equal(appender, appended.GetProperty("recipients").EnumerateArray().Single().GetProperty("mailbox").GetString());
        var bulletin = (await Search($"subject={Uri.EscapeDataString(tag + " bulletin")}")).Single();
        Assert.Equal(members.Order(StringComparer.Ordinal), bulletin.GetProperty("recipients").EnumerateArray().Select(r => r.GetProperty("mailbox").GetString()!).Order(StringComparer.Ordinal));

        // 25,000 newer messages in a mailbox of the domain, made by SQL (a blob, an index row with
        // word tokens of its own, a mailbox copy each): the old search opened only the newest 20,000.
        var filler = await NewUser();
        using (var c = await Imap(filler)) await c.DisconnectAsync(true); // its folders exist from here on
        await using var db = Npgsql.NpgsqlDataSource.Create(host.ConnectionString);
        var watch = System.Diagnostics.Stopwatch.StartNew();
        await using (var cmd = db.CreateCommand("""
            WITH f AS (SELECT folder_id FROM mailbox_folder WHERE mailbox = @m AND name = 'INBOX'),
                 n AS (SELECT g, sha256(convert_to(@tag || g::text, 'UTF8')) AS h FROM generate_series(1, 25000) g),
                 b AS (INSERT INTO blob (domain, hash, size, key_id, refcount) SELECT @d, h, 100, 1, 1 FROM n RETURNING hash),
                 i AS (INSERT INTO message_index (blob_domain, blob_hash, received_at, envelope_from, subject_words)
                       SELECT @d, h, now() + make_interval(secs => g), 'bulk@filler.example', ARRAY[substring(sha256(h) FROM 1 FOR 12)] FROM n RETURNING blob_hash)
            INSERT INTO mailbox_message (mailbox, folder_id, uid, blob_domain, blob_hash, size, internal_date, modseq)
            SELECT @m, (SELECT folder_id FROM f), 1000000 + g, @d, h, 100, now(), 1 FROM n
            """))
        {
            cmd.Parameters.AddWithValue("m", filler);
            cmd.Parameters.AddWithValue("d", D);
            cmd.Parameters.AddWithValue("tag", tag);
            Assert.Equal(25000, await cmd.ExecuteNonQueryAsync());
        }
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(60), $"generating the rows took {watch.Elapsed}");
        try
        {
            Assert.Equal(appended.GetProperty("id").GetString(), (await Search($"subject={Uri.EscapeDataString("memo " + tag)}")).Single().GetProperty("id").GetString());
            Assert.Equal(bulletin.GetProperty("id").GetString(), (await Search($"subject={Uri.EscapeDataString("bulletin " + tag)}")).Single().GetProperty("id").GetString());
            Assert.Empty(await Search($"subject={Uri.EscapeDataString("memo bulletin " + tag)}"));
        }
        finally
        {
            await using var clean = db.CreateCommand("DELETE FROM mailbox_message WHERE mailbox = @m; DELETE FROM blob WHERE domain = @d AND hash IN (SELECT sha256(convert_to(@tag || g::text, 'UTF8')) FROM generate_series(1, 25000) g)");
            clean.Parameters.AddWithValue("m", filler);
            clean.Parameters.AddWithValue("d", D);
            clean.Parameters.AddWithValue("tag", tag);
            await clean.ExecuteNonQueryAsync();
        }
    }
}

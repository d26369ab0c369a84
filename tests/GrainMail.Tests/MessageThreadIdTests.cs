using System.Text;
using GrainMail.Tests.Infrastructure;
using MailKit;
using MailKit.Net.Imap;
using MailKit.Search;
using MailKit.Security;
using MimeKit;
using Npgsql;

namespace GrainMail.Tests;

/// <summary>A host whose thread-id backfill starts at once and looks for work every second, two rows a batch.</summary>
public sealed class ThreadIdHostFixture : SmtpHostFixture
{
    protected override IReadOnlyDictionary<string, string>? Environment => new Dictionary<string, string>
    {
        ["GrainMail__ThreadIds__StartDelaySeconds"] = "1",
        ["GrainMail__ThreadIds__IdleSeconds"] = "1",
        ["GrainMail__ThreadIds__Batch"] = "2",
    };
}

/// <summary>
/// The thread id stored with each message (issue 18, migration 0039): set when the message is
/// delivered or appended, kept by COPY and MOVE, backfilled for rows without one; always the value
/// IMAP computes for THREADID from the headers, and grouping messages as IMAP THREAD=REFERENCES does.
/// </summary>
public sealed class MessageThreadIdTests(ThreadIdHostFixture host) : IClassFixture<ThreadIdHostFixture>
{
    private const string D = SmtpHostFixture.Domain;

    private async Task<ImapClient> ImapAsync(string user)
    {
        // Over implicit TLS: the host refuses LOGIN in plain text.
        var c = new ImapClient { ServerCertificateValidationCallback = (_, _, _, _) => true, Timeout = 30_000 };
        await c.ConnectAsync("127.0.0.1", host.Imaps, SecureSocketOptions.SslOnConnect);
        await c.AuthenticateAsync(user, SmtpHostFixture.Password);
        return c;
    }

    private static MimeMessage Mail(string to, string subject, string messageId, params string[] references)
    {
        var m = TestMail.Text("someone@elsewhere.example", to, subject);
        m.MessageId = messageId;
        if (references.Length > 0) m.InReplyTo = references[^1];
        foreach (var r in references) m.References.Add(r);
        return m;
    }

    /// <summary>The stored thread id of each message of a folder, by UID (null where none is stored).</summary>
    private async Task<Dictionary<long, string?>> StoredAsync(string address, string folder)
    {
        await using var db = NpgsqlDataSource.Create(host.ConnectionString);
        await using var cmd = db.CreateCommand(
            """
            SELECT m.uid, m.thread_id FROM mailbox_message m JOIN mailbox_folder f ON f.mailbox = m.mailbox AND f.folder_id = m.folder_id
            WHERE m.mailbox = @a AND f.name = @f
            """);
        cmd.Parameters.AddWithValue("a", address);
        cmd.Parameters.AddWithValue("f", folder);
        var result = new Dictionary<long, string?>();
        await using var r = await cmd.ExecuteReaderAsync();
        while (await r.ReadAsync()) result[r.GetInt64(0)] = r.IsDBNull(1) ? null : r.GetString(1);
        return result;
    }

    /// <summary>IMAP's THREADID (RFC 8474), computed from the headers, by UID.</summary>
    private static async Task<Dictionary<long, string>> ImapThreadIdsAsync(IMailFolder folder) =>
        (await folder.FetchAsync(0, -1, MessageSummaryItems.UniqueId | MessageSummaryItems.ThreadId))
        .ToDictionary(s => (long)s.UniqueId.Id, s => s.ThreadId!);

    private static List<long> Uids(MessageThread t) =>
        [.. (t.UniqueId is { } u ? [(long)u.Id] : Array.Empty<long>()).Concat(t.Children.SelectMany(Uids))];

    [Fact]
    public async Task Delivered_appended_copied_and_moved_messages_store_the_thread_id_imap_gives_and_threads_by()
    {
        var local = "thr" + Guid.NewGuid().ToString("N")[..6];
        var user = $"{local}@{D}";
        await host.NewAccount(local);
        var tag = Guid.NewGuid().ToString("N")[..8];
        string Id(string n) => $"{n}.{tag}@example.test";

        // Two conversations by SMTP (delivery), different subjects so that RFC 5256's subject merge stays out of it.
        using (var smtp = new MailKit.Net.Smtp.SmtpClient())
        {
            await smtp.ConnectAsync("127.0.0.1", host.Mx, SecureSocketOptions.None);
            await smtp.SendAsync(Mail(user, "Budget plan", Id("a1")));
            await smtp.SendAsync(Mail(user, "Re: Budget plan", Id("a2"), Id("a1")));
            await smtp.SendAsync(Mail(user, "Re: Budget plan", Id("a3"), Id("a1"), Id("a2")));
            await smtp.SendAsync(Mail(user, "Holiday rota", Id("b1")));
            await smtp.DisconnectAsync(true);
        }
        await host.WaitForMessages(user, 4);

        using var imap = await ImapAsync(user);
        var inbox = imap.Inbox;
        await inbox.OpenAsync(FolderAccess.ReadWrite);
        // APPEND: a reply into the second conversation, and a message with no message-id at all (its own thread).
        await inbox.AppendAsync(Mail(user, "Re: Holiday rota", Id("b2"), Id("b1")), MailKit.MessageFlags.None);
        var bare = "From: someone@elsewhere.example\r\nTo: " + user + "\r\nSubject: Lunch menu\r\n\r\nsoup\r\n";
        await inbox.AppendAsync(MimeMessage.Load(new MemoryStream(Encoding.ASCII.GetBytes(bare))), MailKit.MessageFlags.None);
        await inbox.CheckAsync();

        var stored = await StoredAsync(user, "INBOX");
        var computed = await ImapThreadIdsAsync(inbox);
        Assert.Equal(6, stored.Count);
        Assert.All(stored.Values, Assert.NotNull);
        Assert.Equal(computed.OrderBy(x => x.Key), stored.Select(x => KeyValuePair.Create(x.Key, x.Value!)).OrderBy(x => x.Key));
        Assert.Equal(3, stored.Values.Distinct().Count());

        // THREAD=REFERENCES puts exactly the messages that share a stored thread id in one thread.
        var imapThreads = (await inbox.ThreadAsync(ThreadingAlgorithm.References, SearchQuery.All))
            .Select(t => Uids(t).Order().ToList()).OrderBy(g => g[0]).ToList();
        var storedThreads = stored.GroupBy(x => x.Value).Select(g => g.Select(x => x.Key).Order().ToList()).OrderBy(g => g[0]).ToList();
        Assert.Equal(storedThreads, imapThreads);

        // COPY and MOVE carry the stored value to the new rows.
        var archive = (await imap.GetFolder(imap.PersonalNamespaces[0]).CreateAsync("Kept" + tag, true))!;
        var copyUids = (await inbox.FetchAsync(0, 2, MessageSummaryItems.UniqueId)).Select(s => s.UniqueId).ToList();
        await inbox.CopyToAsync(copyUids, archive);
        var moveUids = (await inbox.FetchAsync(3, 5, MessageSummaryItems.UniqueId)).Select(s => s.UniqueId).ToList();
        await inbox.MoveToAsync(moveUids, archive);
        var kept = await StoredAsync(user, archive.FullName);
        Assert.Equal(6, kept.Count);
        Assert.Equal(stored.Values.Order(), kept.Values.Order());
        await archive.OpenAsync(FolderAccess.ReadOnly);
        Assert.Equal((await ImapThreadIdsAsync(archive)).OrderBy(x => x.Key), kept.Select(x => KeyValuePair.Create(x.Key, x.Value!)).OrderBy(x => x.Key));
        await imap.DisconnectAsync(true);
    }

    [Fact]
    public async Task Messages_stored_without_a_thread_id_get_theirs_from_the_backfill()
    {
        var local = "bf" + Guid.NewGuid().ToString("N")[..6];
        var user = $"{local}@{D}";
        await host.NewAccount(local);
        var tag = Guid.NewGuid().ToString("N")[..8];
        using (var smtp = new MailKit.Net.Smtp.SmtpClient())
        {
            await smtp.ConnectAsync("127.0.0.1", host.Mx, SecureSocketOptions.None);
            await smtp.SendAsync(Mail(user, "Kickoff", $"k1.{tag}@example.test"));
            await smtp.SendAsync(Mail(user, "Re: Kickoff", $"k2.{tag}@example.test", $"k1.{tag}@example.test"));
            await smtp.SendAsync(Mail(user, "Invoice", $"i1.{tag}@example.test"));
            await smtp.DisconnectAsync(true);
        }
        await host.WaitForMessages(user, 3);
        var before = await StoredAsync(user, "INBOX");
        Assert.All(before.Values, Assert.NotNull);

        // As rows written before migration 0039 are: no thread id. The job (batches of 2 here) gives them back.
        await using var db = NpgsqlDataSource.Create(host.ConnectionString);
        await using (var forget = db.CreateCommand("UPDATE mailbox_message SET thread_id = NULL WHERE mailbox = @a"))
        {
            forget.Parameters.AddWithValue("a", user);
            Assert.Equal(3, await forget.ExecuteNonQueryAsync());
        }
        await Eventually.Until(async () => (await StoredAsync(user, "INBOX")).Values.All(v => v is not null), TimeSpan.FromSeconds(60), "the backfill of 3 rows");
        Assert.Equal(before.OrderBy(x => x.Key), (await StoredAsync(user, "INBOX")).OrderBy(x => x.Key));
    }
}

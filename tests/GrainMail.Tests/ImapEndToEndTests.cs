using System.Diagnostics;
using System.Text;
using GrainMail.Tests.Infrastructure;
using MailKit;
using MailKit.Net.Imap;
using MailKit.Net.Pop3;
using MailKit.Search;
using MailKit.Security;
using MimeKit;

namespace GrainMail.Tests;

/// <summary>MailKit's ImapClient and Pop3Client against the real host on real TCP: what mail clients do all day.</summary>
public sealed class ImapEndToEndTests(SmtpHostFixture host) : IClassFixture<SmtpHostFixture>
{
    private const string D = SmtpHostFixture.Domain;
    private const string Pw = SmtpHostFixture.Password;

    private async Task<string> NewUser()
    {
        var local = "m" + Guid.NewGuid().ToString("N")[..10];
        await host.NewAccount(local);
        return $"{local}@{D}";
    }

    private async Task<ImapClient> Imap(string user, bool implicitTls = true)
    {
        var c = new ImapClient { ServerCertificateValidationCallback = (_, _, _, _) => true, Timeout = 30_000 };
        if (implicitTls) await c.ConnectAsync("127.0.0.1", host.Imaps, SecureSocketOptions.SslOnConnect);
        else await c.ConnectAsync("127.0.0.1", host.Imap, SecureSocketOptions.StartTls);
        await c.AuthenticateAsync(user, Pw);
        return c;
    }

    private async Task<Pop3Client> Pop(string user, bool implicitTls = true)
    {
        var c = new Pop3Client { ServerCertificateValidationCallback = (_, _, _, _) => true, Timeout = 30_000 };
        if (implicitTls) await c.ConnectAsync("127.0.0.1", host.Pop3s, SecureSocketOptions.SslOnConnect);
        else await c.ConnectAsync("127.0.0.1", host.Pop3, SecureSocketOptions.StartTls);
        await c.AuthenticateAsync(user, Pw);
        return c;
    }

    private static MimeMessage Message(string to, string subject, string text = "Hello.\r\n.\r\n..dots\r\nGrüße, 你好\r\n")
    {
        var m = new MimeMessage();
        m.From.Add(MailboxAddress.Parse("sender@elsewhere.test"));
        m.To.Add(MailboxAddress.Parse(to));
        m.Subject = subject;
        m.Body = new TextPart("plain") { Text = text };
        return m;
    }

    private async Task SendSmtp(MimeMessage m)
    {
        using var smtp = new MailKit.Net.Smtp.SmtpClient { Timeout = 30_000 };
        await smtp.ConnectAsync("127.0.0.1", host.Mx, SecureSocketOptions.None);
        await smtp.SendAsync(m);
        await smtp.DisconnectAsync(true);
    }

    private static byte[] Bytes(MimeMessage m)
    {
        using var ms = new MemoryStream();
        var options = FormatOptions.Default.Clone();
        options.NewLineFormat = NewLineFormat.Dos;
        m.WriteTo(options, ms);
        return ms.ToArray();
    }

    private static async Task<byte[]> Raw(IMailFolder folder, UniqueId uid)
    {
        using var stream = await folder.GetStreamAsync(uid, "");
        using var ms = new MemoryStream();
        await stream.CopyToAsync(ms);
        return ms.ToArray();
    }

    [Fact]
    public async Task Mail_delivered_by_SMTP_is_read_over_IMAP_STARTTLS_with_its_original_bytes()
    {
        var user = await NewUser();
        var m = Message(user, "over IMAP");
        await SendSmtp(m);
        var stored = (await host.WaitForMessages(user, 1)).Single();

        using var c = await Imap(user, implicitTls: false);
        Assert.True(c.IsSecure);
        Assert.True(c.Capabilities.HasFlag(ImapCapabilities.Idle));
        Assert.True(c.Capabilities.HasFlag(ImapCapabilities.Move));
        var inbox = c.Inbox;
        await inbox.OpenAsync(FolderAccess.ReadWrite);
        Assert.Equal(1, inbox.Count);
        var summary = (await inbox.FetchAsync(0, -1, MessageSummaryItems.UniqueId | MessageSummaryItems.Envelope | MessageSummaryItems.Size | MessageSummaryItems.Flags | MessageSummaryItems.BodyStructure)).Single();
        Assert.Equal("over IMAP", summary.Envelope!.Subject);
        Assert.Equal((uint)stored.Length, summary.Size);
        Assert.False(summary.Flags!.Value.HasFlag(MessageFlags.Seen));
        Assert.Equal("text/plain", summary.Body!.ContentType.MimeType, ignoreCase: true);
        var raw = await Raw(inbox, summary.UniqueId);
        Assert.Equal(stored, raw);
        var original = Bytes(m);
        Assert.Equal(original, raw[^original.Length..]);
        var message = await inbox.GetMessageAsync(summary.UniqueId);
        Assert.Contains("Grüße, 你好", message.TextBody);
        await c.DisconnectAsync(true);
    }

    [Fact]
    public async Task Read_flag_move_search_append_and_delete_over_implicit_TLS()
    {
        var user = await NewUser();
        for (var i = 0; i < 3; i++) await SendSmtp(Message(user, $"quarterly report {i}"));
        await SendSmtp(Message(user, "lunch on friday", "Shall we?\r\n"));
        await host.WaitForMessages(user, 4);

        using var c = await Imap(user);
        var inbox = c.Inbox;
        await inbox.OpenAsync(FolderAccess.ReadWrite);
        Assert.Equal(4, inbox.Count);

        var reports = await inbox.SearchAsync(SearchQuery.SubjectContains("quarterly"));
        Assert.Equal(3, reports.Count);
        Assert.Single(await inbox.SearchAsync(SearchQuery.BodyContains("shall we")));

        // MailKit reads with BODY.PEEK and marks \Seen itself, as mail clients do.
        await inbox.GetMessageAsync(reports[0]);
        Assert.Empty(await inbox.SearchAsync(SearchQuery.Seen));
        await inbox.AddFlagsAsync(reports[0], MessageFlags.Seen, silent: true);
        await inbox.AddFlagsAsync(reports[1], MessageFlags.Flagged, silent: true);
        var seen = await inbox.SearchAsync(SearchQuery.Seen);
        Assert.Equal([reports[0]], seen);
        Assert.Equal([reports[1]], await inbox.SearchAsync(SearchQuery.Flagged));

        // Move into a new folder: the map gives the new UIDs.
        var work = await c.GetFolder(c.PersonalNamespaces[0]).CreateAsync("Reports", true) ?? throw new InvalidOperationException("CREATE failed");
        var moved = await inbox.MoveToAsync(reports, work);
        Assert.Equal(3, moved.Destination.Count);
        Assert.Equal(1, inbox.Count);
        await work.OpenAsync(FolderAccess.ReadOnly);
        Assert.Equal(3, work.Count);
        Assert.Single(await work.SearchAsync(SearchQuery.Flagged));
        await work.CloseAsync();

        // Append a draft with flags and a date, then find it.
        var sent = c.GetFolder(SpecialFolder.Sent) ?? throw new InvalidOperationException("no Sent folder");
        var draft = Message("someone@elsewhere.test", "my draft", "Draft text\r\n");
        var date = new DateTimeOffset(2026, 11, 1, 12, 0, 0, TimeSpan.Zero);
        var appended = await sent.AppendAsync(new AppendRequest(draft, MessageFlags.Seen | MessageFlags.Draft) { InternalDate = date });
        Assert.NotNull(appended);
        await sent.OpenAsync(FolderAccess.ReadWrite);
        var found = await sent.SearchAsync(SearchQuery.SubjectContains("my draft").And(SearchQuery.Draft));
        Assert.Equal([appended.Value], found);
        var info = (await sent.FetchAsync([appended.Value], MessageSummaryItems.InternalDate)).Single();
        Assert.Equal(date, info.InternalDate);

        // Delete: \Deleted then expunge.
        await sent.AddFlagsAsync(appended.Value, MessageFlags.Deleted, silent: true);
        await sent.ExpungeAsync();
        Assert.Equal(0, sent.Count);
        await c.DisconnectAsync(true);
    }

    [Fact]
    public async Task Idle_sees_a_message_delivered_by_SMTP()
    {
        var user = await NewUser();
        using var c = await Imap(user);
        var inbox = c.Inbox;
        await inbox.OpenAsync(FolderAccess.ReadOnly);
        var arrived = new TaskCompletionSource<int>(TaskCreationOptions.RunContinuationsAsynchronously);
        inbox.CountChanged += (_, _) => arrived.TrySetResult(inbox.Count);
        using var done = new CancellationTokenSource();
        var idle = c.IdleAsync(done.Token);
        await Task.Delay(200);
        var clock = Stopwatch.StartNew();
        await SendSmtp(Message(user, "pushed"));
        // Pushed by the mailbox grain the moment the delivery commits, not found by polling
        // (the benchmark measures the latency: docs/benchmarks.md).
        var winner = await Task.WhenAny(arrived.Task, Task.Delay(TimeSpan.FromSeconds(10)));
        Assert.Same(arrived.Task, winner);
        TestContext.Current.SendDiagnosticMessage($"IDLE notice {clock.ElapsedMilliseconds} ms after the SMTP send began");
        Assert.Equal(1, await arrived.Task);
        await done.CancelAsync();
        await idle;
        await c.DisconnectAsync(true);
    }

    [Fact]
    public async Task Idle_sees_a_message_submitted_through_the_admin_API()
    {
        var user = await NewUser();
        using var c = await Imap(user);
        await c.Inbox.OpenAsync(FolderAccess.ReadOnly);
        var arrived = new TaskCompletionSource<int>(TaskCreationOptions.RunContinuationsAsynchronously);
        c.Inbox.CountChanged += (_, _) => arrived.TrySetResult(c.Inbox.Count);
        using var done = new CancellationTokenSource();
        var idle = c.IdleAsync(done.Token);
        await Task.Delay(200);
        var raw = Convert.ToBase64String(Bytes(Message(user, "via the API")));
        var posted = await host.Post("/api/v1/messages", new { from = "ops@elsewhere.test", to = new[] { user }, raw });
        Assert.Equal(System.Net.HttpStatusCode.Accepted, posted.StatusCode);
        Assert.Same(arrived.Task, await Task.WhenAny(arrived.Task, Task.Delay(TimeSpan.FromSeconds(10))));
        await done.CancelAsync();
        await idle;
        var summary = (await c.Inbox.FetchAsync(0, -1, MessageSummaryItems.Envelope)).Single();
        Assert.Equal("via the API", summary.Envelope!.Subject);
    }

    [Fact]
    public async Task An_app_password_logs_in_over_IMAP_and_POP3_and_stops_when_revoked()
    {
        var user = await NewUser();
        var created = await host.Post($"/api/v1/accounts/{user}/app-passwords", new { name = "phone" });
        var app = System.Text.Json.JsonDocument.Parse(await created.Content.ReadAsStringAsync()).RootElement.GetProperty("password").GetString()!;
        using (var c = new ImapClient { ServerCertificateValidationCallback = (_, _, _, _) => true })
        {
            await c.ConnectAsync("127.0.0.1", host.Imaps, SecureSocketOptions.SslOnConnect);
            await c.AuthenticateAsync(user, app);
            Assert.True(c.IsAuthenticated);
            await c.DisconnectAsync(true);
        }
        using (var p = new Pop3Client { ServerCertificateValidationCallback = (_, _, _, _) => true })
        {
            await p.ConnectAsync("127.0.0.1", host.Pop3s, SecureSocketOptions.SslOnConnect);
            await p.AuthenticateAsync(user, app);
            await p.DisconnectAsync(true);
        }
        await host.Host.Http.DeleteAsync($"/api/v1/accounts/{user}/app-passwords/phone");
        using var again = new ImapClient { ServerCertificateValidationCallback = (_, _, _, _) => true };
        await again.ConnectAsync("127.0.0.1", host.Imaps, SecureSocketOptions.SslOnConnect);
        await Assert.ThrowsAsync<AuthenticationException>(() => again.AuthenticateAsync(user, app));
    }

    [Fact]
    public async Task Two_clients_on_one_mailbox_stay_consistent()
    {
        var user = await NewUser();
        for (var i = 0; i < 6; i++) await SendSmtp(Message(user, $"shared {i}"));
        await host.WaitForMessages(user, 6);
        using var a = await Imap(user);
        using var b = await Imap(user, implicitTls: false);
        await a.Inbox.OpenAsync(FolderAccess.ReadWrite);
        await b.Inbox.OpenAsync(FolderAccess.ReadWrite);
        var uids = await a.Inbox.SearchAsync(SearchQuery.All);

        await a.Inbox.AddFlagsAsync(uids[0], MessageFlags.Seen | MessageFlags.Answered, silent: true);
        await a.Inbox.AddFlagsAsync(uids[1], MessageFlags.Deleted, silent: true);
        await a.Inbox.ExpungeAsync();
        await a.Inbox.MoveToAsync(uids[2], c(a, "Archive"));
        await b.Inbox.AddFlagsAsync(uids[3], MessageFlags.Flagged, silent: true);
        await SendSmtp(Message(user, "late arrival"));
        await host.WaitForMessages(user, 6);

        await a.NoOpAsync();
        await b.NoOpAsync();
        Assert.Equal(5, a.Inbox.Count);
        Assert.Equal(a.Inbox.Count, b.Inbox.Count);
        var viewA = await a.Inbox.FetchAsync(0, -1, MessageSummaryItems.UniqueId | MessageSummaryItems.Flags);
        var viewB = await b.Inbox.FetchAsync(0, -1, MessageSummaryItems.UniqueId | MessageSummaryItems.Flags);
        // \Recent belongs to the session that saw the message first; everything else is shared.
        Assert.Equal(viewA.Select(s => (s.UniqueId, s.Flags & ~MessageFlags.Recent)), viewB.Select(s => (s.UniqueId, s.Flags & ~MessageFlags.Recent)));
        Assert.True(viewB.Single(s => s.UniqueId == uids[0]).Flags!.Value.HasFlag(MessageFlags.Answered));
        Assert.True(viewA.Single(s => s.UniqueId == uids[3]).Flags!.Value.HasFlag(MessageFlags.Flagged));

        static IMailFolder c(ImapClient client, string name) => client.GetFolder(name);
    }

    [Fact]
    public async Task A_ten_thousand_message_mailbox_returns_every_message_to_UID_FETCH_1_star()
    {
        const int n = 10_000;
        var user = await NewUser();
        // Filled the way a migration tool does it: pipelined APPENDs with non-synchronising literals.
        await using (var raw = await RawImap.LoginAsync(host.Imaps, user, Pw))
        {
            var sb = new StringBuilder();
            for (var i = 0; i < n; i++)
            {
                var msg = $"Subject: bulk {i}\r\nFrom: bulk@elsewhere.test\r\n\r\nmessage {i}\r\n";
                sb.Append($"b{i} APPEND INBOX {(i % 3 == 0 ? "(\\Seen) " : "")}{{{Encoding.ASCII.GetByteCount(msg)}+}}\r\n{msg}\r\n");
                if (sb.Length > 64 * 1024 || i == n - 1)
                {
                    await raw.SendRawAsync(sb.ToString());
                    sb.Clear();
                }
            }
            var last = await raw.ReadTaggedAsync($"b{n - 1}");
            Assert.StartsWith("OK [APPENDUID", last.Tagged);
        }
        using var c = await Imap(user);
        await c.Inbox.OpenAsync(FolderAccess.ReadOnly);
        Assert.Equal(n, c.Inbox.Count);
        var all = await c.Inbox.FetchAsync(new UniqueIdRange(UniqueId.MinValue, UniqueId.MaxValue), MessageSummaryItems.UniqueId | MessageSummaryItems.Flags);
        Assert.Equal(n, all.Count);
        Assert.Equal(Enumerable.Range(1, n).Select(i => (uint)i), all.Select(s => s.UniqueId.Id));
        Assert.Equal(n / 3 + 1, all.Count(s => s.Flags!.Value.HasFlag(MessageFlags.Seen)));
    }

    [Fact]
    public async Task Pop3_reads_and_deletes_with_stable_UIDLs()
    {
        var user = await NewUser();
        var first = Message(user, "pop one");
        await SendSmtp(first);
        await SendSmtp(Message(user, "pop two"));
        var stored = await host.WaitForMessages(user, 2);

        string[] uidls;
        using (var p = await Pop(user))
        {
            Assert.Equal(2, await p.GetMessageCountAsync());
            uidls = [.. await p.GetMessageUidsAsync()];
            var m = await p.GetMessageAsync(0);
            Assert.Equal("pop one", m.Subject);
            using (var ms = new MemoryStream())
            {
                using var s = await p.GetStreamAsync(0);
                await s.CopyToAsync(ms);
                Assert.Equal(stored[0], ms.ToArray());
            }
            await p.DeleteMessageAsync(1);
            await p.DisconnectAsync(true);
        }
        using (var p = await Pop(user, implicitTls: false))
        {
            Assert.True(p.IsSecure);
            Assert.Equal(1, await p.GetMessageCountAsync());
            Assert.Equal(uidls[0], (await p.GetMessageUidsAsync()).Single());
            await p.DisconnectAsync(true);
        }
        // The message read over POP3 shows as read over IMAP.
        using var c = await Imap(user);
        await c.Inbox.OpenAsync(FolderAccess.ReadOnly);
        Assert.Equal(1, c.Inbox.Count);
        Assert.Single(await c.Inbox.SearchAsync(SearchQuery.Seen));
    }
}

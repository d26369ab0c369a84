using System.Text;
using GrainMail.Tests.Infrastructure;
using MailKit;
using MailKit.Net.Imap;
using MailKit.Search;
using MailKit.Security;
using MimeKit;

namespace GrainMail.Tests;

/// <summary>
/// MailKit's ImapClient against the real host on real TCP, using the extensions it picks up when
/// offered: COMPRESS, QRESYNC, ESEARCH, SORT, THREAD and BINARY. The protocol log shows that the
/// extension was what carried each step.
/// </summary>
public sealed class ImapExtensionClientTests(SmtpHostFixture host) : IClassFixture<SmtpHostFixture>
{
    private const string Pw = SmtpHostFixture.Password;

    private async Task<string> NewUser()
    {
        var local = "k" + Guid.NewGuid().ToString("N")[..10];
        await host.NewAccount(local);
        return $"{local}@{SmtpHostFixture.Domain}";
    }

    private async Task<ImapClient> Connect(string user, Stream? log = null)
    {
        var c = log is null ? new ImapClient() : new ImapClient(new ProtocolLogger(log, leaveOpen: true));
        c.ServerCertificateValidationCallback = (_, _, _, _) => true;
        c.Timeout = 30_000;
        await c.ConnectAsync("127.0.0.1", host.Imaps, SecureSocketOptions.SslOnConnect);
        await c.AuthenticateAsync(user, Pw);
        return c;
    }

    private static MimeMessage Message(string subject, string from, DateTimeOffset date, string? id = null, string? inReplyTo = null, MimeEntity? body = null)
    {
        var m = new MimeMessage { Subject = subject, Date = date };
        m.From.Add(MailboxAddress.Parse(from));
        m.To.Add(MailboxAddress.Parse("team@example.org"));
        if (id is not null) m.MessageId = id;
        if (inReplyTo is not null)
        {
            m.InReplyTo = inReplyTo;
            m.References.Add(inReplyTo);
        }
        m.Body = body ?? new TextPart("plain") { Text = "Hello " + subject };
        return m;
    }

    [Fact]
    public async Task MailKit_compresses_then_searches_sorts_threads_and_fetches_binary_parts()
    {
        var user = await NewUser();
        var log = new MemoryStream();
        using var client = await Connect(user, log);
        Assert.True(client.Capabilities.HasFlag(ImapCapabilities.Compress));
        Assert.True(client.Capabilities.HasFlag(ImapCapabilities.ESearch));
        Assert.True(client.Capabilities.HasFlag(ImapCapabilities.Sort));
        Assert.True(client.Capabilities.HasFlag(ImapCapabilities.Thread));
        Assert.True(client.Capabilities.HasFlag(ImapCapabilities.Binary));
        Assert.True(client.Capabilities.HasFlag(ImapCapabilities.QuickResync));
        await client.CompressAsync();

        var t0 = new DateTimeOffset(2026, 11, 16, 9, 0, 0, TimeSpan.Zero);
        var inbox = client.Inbox;
        var attachment = new MimePart("application", "octet-stream") { FileName = "data.bin", Content = new MimeContent(new MemoryStream([0, 1, 2, 3, 250, 0])), ContentTransferEncoding = ContentEncoding.Base64 };
        await inbox.AppendAsync(Message("Plan", "carol@example.org", t0, "p1@x"));
        await inbox.AppendAsync(Message("Re: Plan", "alice@example.org", t0.AddMinutes(2), "p2@x", "p1@x"));
        await inbox.AppendAsync(Message("Budget", "bob@example.org", t0.AddMinutes(1), "b1@x",
            body: new Multipart("mixed") { new TextPart("plain") { Text = "see attached" }, attachment }));
        await inbox.OpenAsync(FolderAccess.ReadWrite);

        var search = await inbox.SearchAsync(SearchOptions.Count | SearchOptions.Min | SearchOptions.Max | SearchOptions.All, SearchQuery.All);
        var bySubject = await inbox.SortAsync(SearchQuery.All, [OrderBy.Subject, OrderBy.Date]);
        var byFrom = await inbox.SortAsync(SearchQuery.All, [OrderBy.ReverseFrom]);
        var threads = await inbox.ThreadAsync(ThreadingAlgorithm.References, SearchQuery.All);
        var summary = (await inbox.FetchAsync([new UniqueId(3)], MessageSummaryItems.BodyStructure | MessageSummaryItems.UniqueId))[0];
        var part = (MimePart)await inbox.GetBodyPartAsync(summary.UniqueId, summary.Attachments.First());
        var decoded = new MemoryStream();
        await part.Content!.DecodeToAsync(decoded);

        Assert.NotNull(search.UniqueIds);
        Assert.Equal(3, search.Count);
        Assert.Equal((new UniqueId(1), new UniqueId(3)), (search.Min!.Value, search.Max!.Value));
        Assert.Equal([3u, 1, 2], bySubject.Select(u => u.Id));
        Assert.Equal([1u, 3, 2], byFrom.Select(u => u.Id));
        Assert.Equal(2, threads.Count);
        var plan = threads.Single(t => t.UniqueId?.Id == 1);
        Assert.Equal(2u, Assert.Single(plan.Children).UniqueId!.Value.Id);
        Assert.Equal(new byte[] { 0, 1, 2, 3, 250, 0 }, decoded.ToArray());

        await client.DisconnectAsync(true);
        var transcript = Encoding.UTF8.GetString(log.ToArray());
        Assert.Contains("COMPRESS DEFLATE", transcript);
        Assert.Contains("* ESEARCH", transcript);
        Assert.Contains("* SORT", transcript);
        Assert.Contains("* THREAD", transcript);
    }

    [Fact]
    public async Task MailKit_resynchronises_with_qresync_and_hears_of_vanished_messages()
    {
        var user = await NewUser();
        using var client = await Connect(user);
        await client.EnableQuickResyncAsync();
        var inbox = client.Inbox;
        var t0 = new DateTimeOffset(2026, 11, 16, 9, 0, 0, TimeSpan.Zero);
        for (var i = 1; i <= 4; i++) await inbox.AppendAsync(Message("q" + i, "a@example.org", t0.AddMinutes(i)));
        await inbox.OpenAsync(FolderAccess.ReadWrite);
        var uidValidity = inbox.UidValidity;
        var modseq = inbox.HighestModSeq;
        var known = (await inbox.SearchAsync(SearchQuery.All)).ToList();
        await inbox.CloseAsync();

        // Meanwhile another client flags one message and expunges another.
        using (var other = await Connect(user))
        {
            await other.Inbox.OpenAsync(FolderAccess.ReadWrite);
            await other.Inbox.AddFlagsAsync(new UniqueId(2), MessageFlags.Flagged, true);
            await other.Inbox.AddFlagsAsync(new UniqueId(3), MessageFlags.Deleted, true);
            await other.Inbox.ExpungeAsync();
            await other.DisconnectAsync(true);
        }

        var vanished = new List<UniqueId>();
        var flagged = new List<UniqueId>();
        inbox.MessagesVanished += (_, e) => vanished.AddRange(e.UniqueIds);
        inbox.MessageFlagsChanged += (_, e) => { if (e.UniqueId is { } u) flagged.Add(u); };
        await inbox.OpenAsync(FolderAccess.ReadWrite, uidValidity, modseq, known);

        Assert.Equal([new UniqueId(3)], vanished);
        Assert.Contains(new UniqueId(2), flagged);
        Assert.Equal(3, inbox.Count);

        // A live expunge arrives as VANISHED too.
        vanished.Clear();
        await inbox.AddFlagsAsync(new UniqueId(1), MessageFlags.Deleted, true);
        await inbox.ExpungeAsync();
        Assert.Equal([new UniqueId(1)], vanished);
        Assert.Equal(2, inbox.Count);
        await client.DisconnectAsync(true);
    }

    /// <summary>Python's imaplib, a client written apart from ours and MailKit: IMAP4rev2 and BINARY as it sees them.</summary>
    private const string ImaplibScript = """
        import imaplib, ssl, sys
        host, port, user, pw = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        c = imaplib.IMAP4_SSL(host, port, ssl_context=ctx)
        c.login(user, pw)
        msg = (b"From: a@example.org\r\nSubject: py\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=q\r\n\r\n"
               b"--q\r\nContent-Type: text/plain\r\n\r\nhi\r\n--q\r\nContent-Type: application/octet-stream\r\n"
               b"Content-Transfer-Encoding: base64\r\n\r\nAAoN/w==\r\n--q--\r\n")
        print("append", c.append("INBOX", None, None, msg)[0])
        c.enable("IMAP4rev2")
        print("enable", c.response("ENABLED")[1][0].decode())
        typ, data = c.select("INBOX")
        print("select", typ, data[0].decode())
        print("list", c.response("LIST")[1][0].decode())
        print("recent", c.response("RECENT")[1][0])
        c.search(None, "ALL")
        print("esearch", c.response("ESEARCH")[1][0].decode().split(") ", 1)[1])
        typ, data = c.fetch("1", "(BINARY.PEEK[2] BINARY.SIZE[2])")
        print("binary", data[0][0].decode().split(" ", 1)[1], data[0][1].hex(), data[1].decode().strip())
        c.logout()
        """;

    [Fact]
    public async Task Python_imaplib_enables_imap4rev2_and_fetches_a_binary_part_in_a_literal8()
    {
        var user = await NewUser();
        var start = new System.Diagnostics.ProcessStartInfo("python3") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in new[] { "-c", ImaplibScript, "127.0.0.1", host.Imaps.ToString(System.Globalization.CultureInfo.InvariantCulture), user, Pw })
            start.ArgumentList.Add(a);
        using var python = System.Diagnostics.Process.Start(start)!;
        var stdout = python.StandardOutput.ReadToEndAsync();
        var stderr = python.StandardError.ReadToEndAsync();
        await python.WaitForExitAsync(new CancellationTokenSource(TimeSpan.FromSeconds(60)).Token);
        var lines = (await stdout).Split('\n', StringSplitOptions.RemoveEmptyEntries);

        Assert.True(python.ExitCode == 0, await stderr);
        Assert.Equal("append OK", lines[0]);
        Assert.Equal("enable IMAP4rev2", lines[1]);
        Assert.Equal("select OK 1", lines[2]);
        // RFC 9051 6.3.2: SELECT names the mailbox in an untagged LIST; and there is no RECENT (E.1).
        Assert.Equal("list (\\HasNoChildren) \"/\" INBOX", lines[3].Replace(" \\Subscribed", "", StringComparison.Ordinal));
        Assert.Equal("recent None", lines[4]);
        // RFC 9051 6.4.4: SEARCH is answered with ESEARCH; no RETURN means ALL.
        Assert.Equal("esearch ALL 1", lines[5]);
        // RFC 3516 4.2: a NUL among the decoded octets comes in a literal8.
        Assert.Equal("binary (BINARY[2] ~{4} 000a0dff BINARY.SIZE[2] 4)", lines[6]);
    }
}

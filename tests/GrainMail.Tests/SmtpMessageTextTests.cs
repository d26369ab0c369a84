using System.Net.Http.Json;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using GrainMail.Tests.Infrastructure;

namespace GrainMail.Tests;

/// <summary>
/// What SMTP accepts, seen from a client: only offered parameters, backpressure for a client that
/// does not read, and one rule for message text (CRLF, no NUL, bounded header) at SMTP, the admin
/// API and IMAP APPEND, with IMAP and POP3 then serving the same bytes.
/// </summary>
public sealed class SmtpMessageTextTests(SmtpHostFixture host) : IClassFixture<SmtpHostFixture>
{
    private const string D = SmtpHostFixture.Domain;
    private const string Pw = SmtpHostFixture.Password;

    private static void Code(string expected, string reply) =>
        Assert.True(reply.StartsWith(expected, StringComparison.Ordinal), $"expected '{expected}…', got '{reply}'");

    private async Task<RawSmtp> Mx()
    {
        var (c, _) = await RawSmtp.ConnectAsync(host.Mx);
        Code("250", await c.CommandAsync("EHLO client.example.org"));
        return c;
    }

    private async Task<string> NewUser()
    {
        var local = "t" + Guid.NewGuid().ToString("N")[..10];
        await host.NewAccount(local);
        return $"{local}@{D}";
    }

    [Fact]
    public async Task Unadvertised_and_unknown_parameters_get_555()
    {
        await using var c = await Mx();
        var ehlo = await c.CommandAsync("EHLO client.example.org");
        Assert.DoesNotContain("BINARYMIME", ehlo);
        Code("555 5.5.4", await c.CommandAsync("MAIL FROM:<a@example.org> BODY=BINARYMIME"));
        Code("555 5.5.4", await c.CommandAsync("MAIL FROM:<a@example.org> MT-PRIORITY=2"));
        Code("250 2.1.0", await c.CommandAsync("MAIL FROM:<a@example.org> BODY=8BITMIME RET=HDRS ENVID=x+2By"));
        Code("555 5.5.4", await c.CommandAsync($"RCPT TO:<bob@{D}> SIZE=10"));
        Code("250 2.1.5", await c.CommandAsync($"RCPT TO:<bob@{D}> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;bob@{D}"));
        Code("250 2.0.0", await c.CommandAsync("RSET"));
    }

    [Fact]
    public async Task A_client_that_pipelines_without_reading_is_stopped_by_backpressure()
    {
        using var tcp = new TcpClient();
        await tcp.ConnectAsync("127.0.0.1", host.Mx);
        var stream = tcp.GetStream();
        const int linesPerChunk = 100_000;
        var chunk = Encoding.ASCII.GetBytes(string.Concat(Enumerable.Repeat("NOOP\r\n", linesPerChunk)));
        // 64 MB offered. The server must stop reading once its replies pile up unread: then the
        // kernel buffers fill and the client's writes stop completing. A server that kept reading
        // (and buffering its replies) would take all of it.
        const int maxChunks = 64 * 1024 * 1024 / (6 * linesPerChunk);
        var written = 0;
        Task? stalled = null;
        for (var i = 0; i < maxChunks; i++)
        {
            var write = stream.WriteAsync(chunk).AsTask();
            // A bounded check, not a sleep: a write still pending after 3 s is the stall we look for.
            if (await Task.WhenAny(write, Task.Delay(TimeSpan.FromSeconds(3))) != write)
            {
                stalled = write;
                break;
            }
            written++;
        }
        Assert.NotNull(stalled);
        Assert.True(written * chunk.Length < 32 * 1024 * 1024, $"the server took {written * chunk.Length} bytes without any being read");

        // Once the client reads, the session goes on and answers every command.
        var reader = new StreamReader(stream, Encoding.ASCII);
        var replies = 0;
        var reading = Task.Run(async () =>
        {
            while (await reader.ReadLineAsync() is { } line)
            {
                if (line.StartsWith("250 2.0.0 OK", StringComparison.Ordinal)) replies++;
                else if (line.StartsWith("221", StringComparison.Ordinal)) return;
            }
        });
        await stalled;
        await stream.WriteAsync("QUIT\r\n"u8.ToArray());
        await reading.WaitAsync(TimeSpan.FromSeconds(60));
        Assert.Equal((written + 1) * linesPerChunk, replies);
    }

    [Fact]
    public async Task Bare_LF_and_CR_become_CRLF_and_IMAP_and_POP3_serve_those_bytes()
    {
        var user = await NewUser();
        await using (var c = await Mx())
        {
            Code("250", await c.CommandAsync("MAIL FROM:<s@example.org>"));
            Code("250", await c.CommandAsync($"RCPT TO:<{user}>"));
            Code("354", await c.CommandAsync("DATA"));
            await c.SendRawAsync("Subject: endings\nX-Mixed: yes\r\rone\ntwo\rthree\r\n.\r\n");
            Code("250 2.0.0", await c.ReadReplyAsync());
        }
        const string expected = "Subject: endings\r\nX-Mixed: yes\r\n\r\none\r\ntwo\r\nthree\r\n";
        var stored = Encoding.UTF8.GetString((await host.WaitForMessages(user, 1)).Single());
        Assert.EndsWith(expected, stored);

        await using (var imap = await RawImap.LoginAsync(host.Imaps, user, Pw))
        {
            Assert.True((await imap.CommandAsync("SELECT INBOX")).Ok);
            var fetch = await imap.CommandAsync("FETCH 1 BODY.PEEK[]");
            Assert.True(fetch.Ok);
            Assert.Contains(stored, string.Join("\n", fetch.Untagged));
        }
        var (pop, _) = await RawImap.ConnectAsync(host.Pop3s, implicitTls: true);
        await using (pop)
        {
            await pop.SendRawAsync($"USER {user}\r\n");
            Assert.StartsWith("+OK", await pop.ReadLineAsync());
            await pop.SendRawAsync($"PASS {Pw}\r\n");
            Assert.StartsWith("+OK", await pop.ReadLineAsync());
            await pop.SendRawAsync("RETR 1\r\n");
            Assert.Equal($"+OK {Encoding.UTF8.GetByteCount(stored)} octets", await pop.ReadLineAsync());
        }
    }

    [Fact]
    public async Task NUL_in_DATA_or_BDAT_gets_554_5_6_0_and_nothing_is_stored()
    {
        var user = await NewUser();
        await using var c = await Mx();
        Code("250", await c.CommandAsync("MAIL FROM:<s@example.org>"));
        Code("250", await c.CommandAsync($"RCPT TO:<{user}>"));
        Code("354", await c.CommandAsync("DATA"));
        await c.SendRawAsync([.. "Subject: nul\r\n\r\nbefore"u8, 0, .. "after\r\n.\r\n"u8]);
        Code("554 5.6.0", await c.ReadReplyAsync());

        Code("250", await c.CommandAsync("MAIL FROM:<s@example.org>"));
        Code("250", await c.CommandAsync($"RCPT TO:<{user}>"));
        byte[] chunk = [.. "Subject: nul\r\n\r\nx"u8, 0, .. "y\r\n"u8];
        await c.SendRawAsync([.. Encoding.ASCII.GetBytes($"BDAT {chunk.Length} LAST\r\n"), .. chunk]);
        Code("554 5.6.0", await c.ReadReplyAsync());
        Code("250 2.0.0", await c.CommandAsync("NOOP"));
        Assert.Equal(0, await host.InboxCount(user));
    }

    /// <summary>
    /// RFC 5321 6.3: a message that has already passed 100 hosts is looping and is refused with
    /// 554 5.4.6; at exactly 100 it is still accepted. (The MX adds its own Received: after the check.)
    /// </summary>
    [Fact]
    public async Task A_message_with_more_Received_fields_than_the_hop_limit_is_refused_as_a_loop()
    {
        var user = await NewUser();
        await using var c = await Mx();
        static string WithHops(int n) => string.Concat(Enumerable.Range(0, n).Select(i =>
            $"Received: from hop{i}.example.org by hop{i + 1}.example.org; Tue, 1 Dec 2026 05:00:00 +0000\r\n")) +
            "Subject: hops\r\n\r\nround and round\r\n.\r\n";
        Code("250", await c.CommandAsync("MAIL FROM:<s@example.org>"));
        Code("250", await c.CommandAsync($"RCPT TO:<{user}>"));
        Code("354", await c.CommandAsync("DATA"));
        await c.SendRawAsync(Encoding.ASCII.GetBytes(WithHops(101)));
        Code("554 5.4.6", await c.ReadReplyAsync());

        Code("250", await c.CommandAsync("MAIL FROM:<s@example.org>"));
        Code("250", await c.CommandAsync($"RCPT TO:<{user}>"));
        Code("354", await c.CommandAsync("DATA"));
        await c.SendRawAsync(Encoding.ASCII.GetBytes(WithHops(100)));
        Code("250 2.0.0", await c.ReadReplyAsync());
        var stored = await host.WaitForMessages(user, 1);
        Assert.Single(stored);
        Assert.Contains("round and round", Encoding.ASCII.GetString(stored[0]));
    }

    /// <summary>One header field folded <paramref name="folds"/> times.</summary>
    private static string FoldedHeaderMessage(int folds) =>
        "Subject: folded\r\nX-Folded: a" + string.Concat(Enumerable.Repeat("\r\n b", folds)) + "\r\n\r\nbody\r\n";

    [Fact]
    public async Task A_header_folded_800000_times_is_refused_with_552_5_3_4()
    {
        var user = await NewUser();
        await using var c = await Mx();
        Code("250", await c.CommandAsync("MAIL FROM:<s@example.org>"));
        Code("250", await c.CommandAsync($"RCPT TO:<{user}>"));
        Code("354", await c.CommandAsync("DATA"));
        await c.SendRawAsync(FoldedHeaderMessage(800_000) + ".\r\n");
        Code("552 5.3.4", await c.ReadReplyAsync());

        // Over BDAT, and with many small fields instead of one long one.
        Code("250", await c.CommandAsync("MAIL FROM:<s@example.org>"));
        Code("250", await c.CommandAsync($"RCPT TO:<{user}>"));
        var many = Encoding.ASCII.GetBytes(string.Concat(Enumerable.Range(0, 2000).Select(i => $"X-N{i}: v\r\n")) + "\r\nbody\r\n");
        await c.SendRawAsync([.. Encoding.ASCII.GetBytes($"BDAT {many.Length} LAST\r\n"), .. many]);
        Code("552 5.3.4", await c.ReadReplyAsync());

        // Within the limits the same shapes are fine.
        Code("250", await c.CommandAsync("MAIL FROM:<s@example.org>"));
        Code("250", await c.CommandAsync($"RCPT TO:<{user}>"));
        Code("354", await c.CommandAsync("DATA"));
        await c.SendRawAsync(FoldedHeaderMessage(500) + ".\r\n");
        Code("250 2.0.0", await c.ReadReplyAsync());
        Assert.Single(await host.WaitForMessages(user, 1));
    }

    private Task<HttpResponseMessage> PostMessage(string to, byte[] raw) =>
        host.Post("/api/v1/messages", new { from = "api@example.org", to = new[] { to }, raw = Convert.ToBase64String(raw) });

    [Fact]
    public async Task The_admin_API_applies_the_same_rule()
    {
        var user = await NewUser();
        var ok = await PostMessage(user, "Subject: api\nX-A: b\r\rline\rend\n"u8.ToArray());
        Assert.Equal(System.Net.HttpStatusCode.Accepted, ok.StatusCode);
        Assert.Equal("Subject: api\r\nX-A: b\r\n\r\nline\r\nend\r\n", Encoding.UTF8.GetString((await host.WaitForMessages(user, 1)).Single()));

        var nul = await PostMessage(user, [.. "Subject: nul\r\n\r\na"u8, 0, .. "b\r\n"u8]);
        Assert.Equal(System.Net.HttpStatusCode.BadRequest, nul.StatusCode);
        Assert.Contains("NUL", (await nul.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("detail").GetString());

        var folded = await PostMessage(user, Encoding.ASCII.GetBytes(FoldedHeaderMessage(5000)));
        Assert.Equal(System.Net.HttpStatusCode.RequestEntityTooLarge, folded.StatusCode);
        Assert.Equal("application/problem+json", folded.Content.Headers.ContentType?.MediaType);
        Assert.Equal(1, await host.InboxCount(user));
    }

    private static async Task<ImapResponse> Append(RawImap c, byte[] message)
    {
        var tag = c.NextTag();
        await c.SendRawAsync($"{tag} APPEND INBOX {{{message.Length}+}}\r\n");
        await c.SendRawAsync([.. message, .. "\r\n"u8]);
        return await c.ReadTaggedAsync(tag);
    }

    [Fact]
    public async Task IMAP_APPEND_applies_the_same_rule()
    {
        var user = await NewUser();
        await using var c = await RawImap.LoginAsync(host.Imaps, user, Pw);
        Assert.True((await Append(c, "Subject: append\nX-A: b\r\rline\rend\n"u8.ToArray())).Ok);
        Assert.Equal("Subject: append\r\nX-A: b\r\n\r\nline\r\nend\r\n", Encoding.UTF8.GetString((await host.WaitForMessages(user, 1)).Single()));

        var nul = await Append(c, [.. "Subject: nul\r\n\r\na"u8, 0, .. "b\r\n"u8]);
        Assert.StartsWith("NO", nul.Tagged);
        Assert.Contains("NUL", nul.Tagged);
        var folded = await Append(c, Encoding.ASCII.GetBytes(FoldedHeaderMessage(5000)));
        Assert.StartsWith("NO [LIMIT]", folded.Tagged);
        Assert.Equal(1, await host.InboxCount(user));
    }
}

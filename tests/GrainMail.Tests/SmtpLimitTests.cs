using System.Text;
using GrainMail.Tests.Infrastructure;
using Npgsql;

namespace GrainMail.Tests;

/// <summary>A host with tight limits, so that timeouts, rates and connection caps can be seen in seconds.</summary>
public sealed class TightSmtpHostFixture : SmtpHostFixture
{
    protected override IReadOnlyDictionary<string, string>? Environment => new Dictionary<string, string>
    {
        ["GrainMail__SmtpCommandTimeout"] = "00:00:02",
        ["GrainMail__SmtpDataTimeout"] = "00:00:02",
        ["GrainMail__SmtpMinDataBytesPerSecond"] = "2000",
        ["GrainMail__SmtpDataRateGrace"] = "00:00:01",
        ["GrainMail__SmtpMaxConnectionsPerIp"] = "4",
    };
}

/// <summary>SMTP defences: command and data timeouts, minimum data rate, connection caps, and 451 when the commit fails.</summary>
public sealed class SmtpLimitTests(TightSmtpHostFixture host) : IClassFixture<TightSmtpHostFixture>
{
    private const string D = SmtpHostFixture.Domain;

    private static void Code(string expected, string reply) =>
        Assert.True(reply.StartsWith(expected, StringComparison.Ordinal), $"expected '{expected}…', got '{reply}'");

    [Fact]
    public async Task An_idle_client_is_told_421_and_disconnected()
    {
        var (c, _) = await RawSmtp.ConnectAsync(host.Mx);
        await using (c)
        {
            Code("250", await c.CommandAsync("EHLO idle.example.org"));
            Code("421 4.4.2", await c.ReadReplyAsync()); // nothing sent for 2 s
            Assert.Equal("", await c.ReadReplyAsync());
        }
    }

    [Fact]
    public async Task A_slowloris_DATA_is_cut_off()
    {
        var (c, _) = await RawSmtp.ConnectAsync(host.Mx);
        await using (c)
        {
            await c.CommandAsync("EHLO slow.example.org");
            Code("250", await c.CommandAsync("MAIL FROM:<s@example.org>"));
            Code("250", await c.CommandAsync($"RCPT TO:<bob@{D}>"));
            Code("354", await c.CommandAsync("DATA"));
            // A few bytes every 300 ms: far below 2,000 bytes/s, yet never idle for the 2 s data timeout.
            var read = c.ReadReplyAsync();
            for (var i = 0; i < 30 && !read.IsCompleted; i++)
            {
                try
                {
                    await c.SendRawAsync("x-header-" + i + ": y\r\n");
                }
                catch (IOException)
                {
                    break; // the server has already hung up
                }
                await Task.WhenAny(read, Task.Delay(300)); // deliberate pacing: this is the slow client, not a wait
            }
            var reply = await read;
            Code("421 4.4.2", reply);
        }
        Assert.Equal(0, await host.InboxCount($"bob@{D}"));
    }

    [Fact]
    public async Task Connections_beyond_the_per_address_limit_get_421()
    {
        var open = new List<RawSmtp>();
        try
        {
            // The other tests of this class may hold connections too: fill up to the limit of 4, then one more.
            string last = "";
            for (var i = 0; i < 6 && !last.StartsWith("421"); i++)
            {
                var (c, greeting) = await RawSmtp.ConnectAsync(host.Mx);
                open.Add(c);
                last = greeting;
            }
            Code("421 4.7.0", last);
        }
        finally
        {
            foreach (var c in open) await c.DisposeAsync();
        }
        // Once they are closed, a new client is served again (as soon as the server has seen them close).
        var hello = await Eventually.Value(async () =>
        {
            var (again, greeting) = await RawSmtp.ConnectAsync(host.Mx);
            await using (again) return greeting;
        }, g => g.StartsWith("220", StringComparison.Ordinal), TimeSpan.FromSeconds(10), "a greeting once the other connections closed", poll: TimeSpan.FromMilliseconds(100));
        Code("220", hello);
    }

    [Fact]
    public async Task A_failed_commit_answers_451_and_stores_nothing()
    {
        await using var ds = NpgsqlDataSource.Create(host.ConnectionString);
        Task Sql(string sql) => Execute(ds, sql);
        async Task<long> Blobs()
        {
            await using var count = ds.CreateCommand("SELECT count(*) FROM blob");
            return (long)(await count.ExecuteScalarAsync())!;
        }
        var blobsBefore = await Blobs(); // other tests of this class store messages too
        var (c, _) = await RawSmtp.ConnectAsync(host.Mx);
        await using (c)
        {
            await c.CommandAsync("EHLO x.example.org");
            Code("250", await c.CommandAsync("MAIL FROM:<f@example.org>"));
            Code("250", await c.CommandAsync($"RCPT TO:<carol@{D}>"));
            Code("354", await c.CommandAsync("DATA"));
            // The queue table disappears under the commit: the transaction cannot complete.
            await Sql("ALTER TABLE stream_queue RENAME TO stream_queue_away");
            try
            {
                await c.SendRawAsync("Subject: doomed\r\n\r\nbody\r\n.\r\n");
                Code("451 4.3.0", await c.ReadReplyAsync());
            }
            finally
            {
                await Sql("ALTER TABLE stream_queue_away RENAME TO stream_queue");
            }
            Code("250", await c.CommandAsync("NOOP"));
        }
        // Nothing half-stored: the blob was written in the same rolled-back transaction.
        Assert.Equal(blobsBefore, await Blobs());
        Assert.Equal(0, await host.InboxCount($"carol@{D}"));
    }

    [Fact]
    public async Task A_failing_grain_call_answers_451_and_the_session_goes_on()
    {
        await using var ds = NpgsqlDataSource.Create(host.ConnectionString);
        Task Sql(string sql) => Execute(ds, sql);
        var (c, _) = await RawSmtp.ConnectAsync(host.Mx);
        await using (c)
        {
            await c.CommandAsync("EHLO x.example.org");
            Code("250", await c.CommandAsync("MAIL FROM:<f@example.org>"));
            // Grain state cannot be read: a domain grain not yet active fails to activate.
            await Sql("ALTER TABLE orleans_storage RENAME TO orleans_storage_away");
            try
            {
                Code("451 4.3.0", await c.CommandAsync("RCPT TO:<someone@never-seen-before.example>"));
            }
            finally
            {
                await Sql("ALTER TABLE orleans_storage_away RENAME TO orleans_storage");
            }
            Code("250 2.1.5", await c.CommandAsync($"RCPT TO:<carol@{D}>"));
        }
    }

    [Fact]
    public async Task UTF8_addresses_with_SMTPUTF8()
    {
        await host.NewAccount("jörg");
        var (c, _) = await RawSmtp.ConnectAsync(host.Mx);
        await using (c)
        {
            await c.CommandAsync("EHLO u.example.org");
            Code("250", await c.CommandAsync("MAIL FROM:<françois@exemple.fr> SMTPUTF8"));
            Code("250", await c.CommandAsync($"RCPT TO:<jörg@{D}>"));
            Code("354", await c.CommandAsync("DATA"));
            await c.SendRawAsync(Encoding.UTF8.GetBytes($"From: François <françois@exemple.fr>\r\nTo: <jörg@{D}>\r\nSubject: Grüße\r\n\r\nHallo\r\n.\r\n"));
            Code("250 2.0.0", await c.ReadReplyAsync());
        }
        var stored = Encoding.UTF8.GetString((await host.WaitForMessages($"jörg@{D}", 1)).Single());
        Assert.Contains("Return-Path: <françois@exemple.fr>", stored);
        Assert.Contains("with UTF8SMTP", stored);
        Assert.EndsWith("Subject: Grüße\r\n\r\nHallo\r\n", stored);
    }

    [Fact]
    public async Task A_decomposed_spelling_of_a_utf8_local_part_reaches_the_same_mailbox()
    {
        // The account is made with é as one code point (U+00E9); the sender's software writes e + U+0301.
        // Both are the same name in Unicode NFC (RFC 6532 3.1), so both are one mailbox.
        await host.NewAccount("ren\u00E9e");
        var (c, _) = await RawSmtp.ConnectAsync(host.Mx);
        await using (c)
        {
            await c.CommandAsync("EHLO u.example.org");
            Code("250", await c.CommandAsync("MAIL FROM:<sender@exemple.fr> SMTPUTF8"));
            Code("250", await c.CommandAsync($"RCPT TO:<rene\u0301e@{D}>"));
            Code("354", await c.CommandAsync("DATA"));
            await c.SendRawAsync(Encoding.UTF8.GetBytes($"From: <sender@exemple.fr>\r\nTo: <rene\u0301e@{D}>\r\nSubject: NFC\r\n\r\nOne mailbox\r\n.\r\n"));
            Code("250 2.0.0", await c.ReadReplyAsync());
        }
        var stored = Encoding.UTF8.GetString((await host.WaitForMessages($"ren\u00E9e@{D}", 1)).Single());
        Assert.EndsWith("One mailbox\r\n", stored);
    }

    private static async Task Execute(NpgsqlDataSource ds, string sql)
    {
        await using var cmd = ds.CreateCommand(sql);
        await cmd.ExecuteNonQueryAsync();
    }
}

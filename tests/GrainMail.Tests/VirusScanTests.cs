using System.IO.Compression;
using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using GrainMail.Tests.Infrastructure;
using MailKit.Net.Smtp;
using MailKit.Security;
using MimeKit;

namespace GrainMail.Tests;

/// <summary>A host scanning through the tests' own clamd (GRAINMAIL_CLAMD on a Unix socket); spam checks off.</summary>
public sealed class VirusHostFixture : SmtpHostFixture
{
    /// <summary>Less than clamd's own StreamMaxLength, so a longer message is scanned in part, never refused by clamd.</summary>
    public const int ScanLimit = 64 * 1024;

    public ClamdServer Clamd { get; } = new();

    public VirusHostFixture() => Clamd.StartAsync().GetAwaiter().GetResult();

    protected override IReadOnlyDictionary<string, string>? Environment => new Dictionary<string, string>
    {
        ["GRAINMAIL_CLAMD"] = "unix:" + Clamd.SocketPath,
        ["GrainMail__Clamd__Timeout"] = "00:00:10",
        ["GrainMail__Clamd__StreamMaxLength"] = ScanLimit.ToString(System.Globalization.CultureInfo.InvariantCulture),
        ["GrainMail__AllowPlaintextAuth"] = "true",
        // Small, so that refused submissions would use it up if they kept spending it.
        ["GrainMail__OutboundAccountRecipientsPerHour"] = AccountRecipientsPerHour.ToString(System.Globalization.CultureInfo.InvariantCulture),
    };

    /// <summary>Each account's hourly budget of recipients outside.</summary>
    public const int AccountRecipientsPerHour = 2;

    public override async ValueTask DisposeAsync()
    {
        await base.DisposeAsync();
        await Clamd.DisposeAsync();
    }
}

/// <summary>Virus scanning end to end: real SMTP into a host that streams each message to a real clamd.</summary>
public sealed class VirusScanTests(VirusHostFixture fixture) : IClassFixture<VirusHostFixture>
{
    private const string Domain = SmtpHostFixture.Domain;

    [Fact]
    public async Task Eicar_in_an_attachment_is_refused_at_data_with_554_and_the_signature_name()
    {
        var reply = await fixture.SendMxAsync(Sender, $"alice@{Domain}", Attached($"alice@{Domain}", "eicar.com", Encoding.ASCII.GetBytes(ClamdServer.Eicar)));
        Assert.StartsWith("554 5.7.1", reply);
        Assert.Contains(ClamdServer.EicarSignature, reply);
        Assert.Equal(0, await fixture.InboxCount($"alice@{Domain}"));
        var log = await fixture.Host.Http.GetFromJsonAsync<JsonElement>($"/api/v1/accounts/alice@{Domain}/receive-log");
        Assert.Contains("VIRUS_FOUND(" + ClamdServer.EicarSignature, log.EnumerateArray().First().GetProperty("symbols").GetString());

        // clamav-testfiles' clam.exe, known here by its MD5 only.
        reply = await fixture.SendMxAsync(Sender, $"alice@{Domain}", Attached($"alice@{Domain}", "clam.exe", await File.ReadAllBytesAsync(ClamdServer.ClamExe)));
        Assert.StartsWith("554 5.7.1", reply);
        Assert.Contains(ClamdServer.ClamExeSignature, reply);
    }

    [Fact]
    public async Task Eicar_inside_a_zip_is_found_because_clamd_opens_archives()
    {
        using var zip = new MemoryStream();
        using (var archive = new ZipArchive(zip, ZipArchiveMode.Create, leaveOpen: true))
        {
            await using var entry = archive.CreateEntry("docs/readme.txt", CompressionLevel.Optimal).Open();
            await entry.WriteAsync(Encoding.ASCII.GetBytes(ClamdServer.Eicar));
        }
        var zipped = zip.ToArray();
        Assert.DoesNotContain("EICAR", Encoding.ASCII.GetString(zipped), StringComparison.Ordinal); // compressed: only unpacking finds it
        var reply = await fixture.SendMxAsync(Sender, $"bob@{Domain}", Attached($"bob@{Domain}", "report.zip", zipped));
        Assert.StartsWith("554 5.7.1", reply);
        Assert.Contains(ClamdServer.EicarSignature, reply);
        Assert.Equal(0, await fixture.InboxCount($"bob@{Domain}"));
    }

    [Fact]
    public async Task Clean_mail_is_delivered_and_a_message_past_the_stream_limit_is_scanned_up_to_it()
    {
        Assert.StartsWith("250 ", await fixture.SendMxAsync(Sender, $"carol@{Domain}",
            Attached($"carol@{Domain}", "notes.txt", Encoding.ASCII.GetBytes("Nothing to see here."))));
        var first = Assert.Single(await fixture.WaitForMessages($"carol@{Domain}", 1));
        Assert.DoesNotContain(VirusHeader, Encoding.UTF8.GetString(first), StringComparison.Ordinal);

        // Longer than GrainMail's limit (64 KiB) and clamd's (100 KiB): sending it whole would make clamd drop the stream.
        var big = new byte[300 * 1024];
        new Random(14).NextBytes(big);
        Assert.StartsWith("250 ", await fixture.SendMxAsync(Sender, $"carol@{Domain}", Attached($"carol@{Domain}", "big.bin", big)));
        var second = (await fixture.WaitForMessages($"carol@{Domain}", 2))[1];
        var header = HeaderOf(second);
        Assert.StartsWith($"Clean; first {VirusHostFixture.ScanLimit} of ", header);
    }

    [Fact]
    public async Task Authenticated_submission_with_eicar_is_refused()
    {
        using var smtp = new SmtpClient { ServerCertificateValidationCallback = (_, _, _, _) => true, Timeout = 30_000 };
        await smtp.ConnectAsync("127.0.0.1", fixture.Submission, SecureSocketOptions.StartTls);
        await smtp.AuthenticateAsync($"frank@{Domain}", SmtpHostFixture.Password);
        var message = MimeMessage.Load(new MemoryStream(Encoding.UTF8.GetBytes(Attached($"erin@{Domain}", "eicar.com", Encoding.ASCII.GetBytes(ClamdServer.Eicar), $"frank@{Domain}"))));
        var refused = await Assert.ThrowsAsync<SmtpCommandException>(() => smtp.SendAsync(message));
        Assert.Equal(554, (int)refused.StatusCode);
        Assert.Contains(ClamdServer.EicarSignature, refused.Message);
        await smtp.DisconnectAsync(true);
        Assert.Equal(0, await fixture.InboxCount($"erin@{Domain}"));
    }

    /// <summary>
    /// A submission the scanner refuses (554 at DATA) took a recipient outside from the sender's hourly budget at RCPT and
    /// gives it back: refused twice the budget's worth of times, the sender can still send a clean message outside.
    /// </summary>
    [Fact]
    public async Task A_submission_refused_for_a_virus_does_not_spend_the_send_budget()
    {
        await fixture.NewAccount("vera");
        var vera = $"vera@{Domain}";
        using var smtp = new SmtpClient { ServerCertificateValidationCallback = (_, _, _, _) => true, Timeout = 30_000 };
        await smtp.ConnectAsync("127.0.0.1", fixture.Submission, SecureSocketOptions.StartTls);
        await smtp.AuthenticateAsync(vera, SmtpHostFixture.Password);
        for (var i = 0; i < 2 * VirusHostFixture.AccountRecipientsPerHour; i++)
        {
            var infected = MimeMessage.Load(new MemoryStream(Encoding.UTF8.GetBytes(Attached($"erin@{Domain}", "eicar.com", Encoding.ASCII.GetBytes(ClamdServer.Eicar), vera))));
            infected.To.Add(MailboxAddress.Parse($"partner{i}@outside.test"));
            var refused = await Assert.ThrowsAsync<SmtpCommandException>(() => smtp.SendAsync(infected));
            Assert.Equal(554, (int)refused.StatusCode);
            Assert.Contains(ClamdServer.EicarSignature, refused.Message);
        }
        var clean = MimeMessage.Load(new MemoryStream(Encoding.UTF8.GetBytes(Plain("partner@outside.test", "clean after refusals"))));
        clean.From.Clear();
        clean.From.Add(MailboxAddress.Parse(vera));
        Assert.StartsWith("2.0.0 Ok", await smtp.SendAsync(clean));
        await smtp.DisconnectAsync(true);
        Assert.Equal(0, await fixture.InboxCount($"erin@{Domain}"));
    }

    [Fact]
    public async Task With_clamd_gone_mail_is_deferred_451_unless_the_domain_chose_to_deliver_unscanned()
    {
        await fixture.Post("/api/v1/domains", new { name = "open.test" });
        await fixture.NewAccount("olga", "open.test");
        var bad = await fixture.Host.Http.PutAsJsonAsync("/api/v1/domains/open.test/virus-policy", new { whenUnavailable = "maybe" });
        Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
        var put = await fixture.Host.Http.PutAsJsonAsync("/api/v1/domains/open.test/virus-policy", new { whenUnavailable = "deliver" });
        Assert.Equal(HttpStatusCode.OK, put.StatusCode);
        Assert.Equal("deliver", (await fixture.Host.Http.GetFromJsonAsync<JsonElement>("/api/v1/domains/open.test/virus-policy")).GetProperty("whenUnavailable").GetString());
        Assert.Equal("defer", (await fixture.Host.Http.GetFromJsonAsync<JsonElement>($"/api/v1/domains/{Domain}/virus-policy")).GetProperty("whenUnavailable").GetString());
        // A scan while clamd runs leaves a pooled session behind, which then dies with clamd.
        Assert.StartsWith("250 ", await fixture.SendMxAsync(Sender, "olga@open.test", Plain("olga@open.test", "before")));

        await fixture.Clamd.StopAsync();
        try
        {
            var deferred = await fixture.SendMxAsync(Sender, $"dave@{Domain}", Plain($"dave@{Domain}", "while down"));
            Assert.StartsWith("451 4.7.1", deferred);
            Assert.StartsWith("250 ", await fixture.SendMxAsync(Sender, "olga@open.test", Plain("olga@open.test", "while down")));
            // A message for both domains needs both to agree: one that defers defers it.
            Assert.StartsWith("451 4.7.1", await fixture.SendMxAsync(Sender, ["olga@open.test", $"dave@{Domain}"], Plain("olga@open.test", "both")));
        }
        finally
        {
            await fixture.Clamd.StartAsync();
        }
        var delivered = await fixture.WaitForMessages("olga@open.test", 2);
        Assert.DoesNotContain(VirusHeader, Encoding.UTF8.GetString(delivered[0]), StringComparison.Ordinal);
        Assert.StartsWith("Unscanned; VIRUS_UNSCANNED", HeaderOf(delivered[1]));
        Assert.Equal(0, await fixture.InboxCount($"dave@{Domain}"));

        // clamd back: scanning resumes on fresh connections.
        Assert.StartsWith("250 ", await fixture.SendMxAsync(Sender, $"dave@{Domain}", Plain($"dave@{Domain}", "after")));
        Assert.StartsWith("554 5.7.1", await fixture.SendMxAsync(Sender, $"dave@{Domain}", Attached($"dave@{Domain}", "eicar.com", Encoding.ASCII.GetBytes(ClamdServer.Eicar))));
        Assert.Single(await fixture.WaitForMessages($"dave@{Domain}", 1));
    }

    // ---- helpers ----------------------------------------------------------------------------

    private const string VirusHeader = "X-Virus-Status:";

    private static string HeaderOf(byte[] raw)
    {
        var message = MimeMessage.Load(new MemoryStream(raw));
        return message.Headers["X-Virus-Status"] ?? throw new Xunit.Sdk.XunitException("no X-Virus-Status header");
    }

    private const string Sender = "sender@example.org";

    private static string Attached(string to, string name, byte[] content, string from = Sender) =>
        TrustMail.WithAttachment(from, to, "files", name, content);

    private static string Plain(string to, string subject) =>
        $"From: <sender@example.org>\r\nTo: <{to}>\r\nSubject: {subject}\r\nMessage-ID: <{Guid.NewGuid():N}@example.org>\r\n\r\nHello.\r\n";
}

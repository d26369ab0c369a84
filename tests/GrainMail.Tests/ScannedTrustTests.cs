using System.Net;
using System.Text;
using GrainMail.Tests.Infrastructure;
using MimeKit;

namespace GrainMail.Tests;

/// <summary>A host with both the spam checks and clamd on, so that the DNS checks run while clamd scans
/// (IntakeCommit): its own DNS server and its own clamd.</summary>
public sealed class ScannedTrustHostFixture : SmtpHostFixture
{
    public const int ScanLimit = 64 * 1024;

    public TestDnsServer Dns { get; } = new();

    public ClamdServer Clamd { get; } = new();

    public ScannedTrustHostFixture()
    {
        TrustSenders.Plain(Dns);
        TrustSenders.Reject(Dns);
        Clamd.StartAsync().GetAwaiter().GetResult();
    }

    protected override IReadOnlyDictionary<string, string>? Environment => new Dictionary<string, string>
    {
        ["GRAINMAIL_TRUST"] = "true",
        ["GRAINMAIL_DNS"] = $"127.0.0.1:{Dns.Port}",
        ["GRAINMAIL_CLAMD"] = "unix:" + Clamd.SocketPath,
        ["GrainMail__Clamd__Timeout"] = "00:00:10",
        ["GrainMail__Clamd__StreamMaxLength"] = ScanLimit.ToString(System.Globalization.CultureInfo.InvariantCulture),
    };

    public override async ValueTask DisposeAsync()
    {
        await base.DisposeAsync();
        await Clamd.DisposeAsync();
        Dns.Dispose();
    }
}

/// <summary>MX mail through the virus scan and the spam checks at once: each still decides as it did alone, and
/// the accepted copy carries the headers of both.</summary>
public sealed class ScannedTrustTests(ScannedTrustHostFixture fixture) : IClassFixture<ScannedTrustHostFixture>
{
    private const string Domain = SmtpHostFixture.Domain;

    [Fact]
    public async Task A_virus_is_refused_554_even_from_a_sender_whose_checks_all_pass()
    {
        var reply = await fixture.SendMxAsync("news@plain.example", $"alice@{Domain}",
            TrustMail.WithAttachment("news@plain.example", $"alice@{Domain}", "files", "eicar.com", Encoding.ASCII.GetBytes(ClamdServer.Eicar)));
        Assert.StartsWith("554 5.7.1", reply);
        Assert.Contains(ClamdServer.EicarSignature, reply);
        Assert.Equal(0, await fixture.InboxCount($"alice@{Domain}"));
    }

    [Fact]
    public async Task A_dmarc_reject_failure_is_refused_550_with_clamd_on()
    {
        var reply = await fixture.SendMxAsync("ceo@reject.example", $"bob@{Domain}",
            TrustMail.WithAttachment("ceo@reject.example", $"bob@{Domain}", "urgent", "notes.txt", Encoding.ASCII.GetBytes("Pay this invoice.")));
        Assert.StartsWith("550 5.7.1", reply);
        Assert.Equal(0, await fixture.InboxCount($"bob@{Domain}"));
    }

    [Fact]
    public async Task Clean_mail_scanned_in_part_carries_the_scan_status_and_the_checks_verdicts()
    {
        // Past the scan limit: clamd's status header goes in front of the bytes the checks parsed.
        var big = new byte[200 * 1024];
        new Random(140).NextBytes(big);
        Assert.StartsWith("250 ", await fixture.SendMxAsync("news@plain.example", $"carol@{Domain}",
            TrustMail.WithAttachment("news@plain.example", $"carol@{Domain}", "report", "data.bin", big)));
        var raw = Assert.Single(await fixture.WaitForMessages($"carol@{Domain}", 1));
        var delivered = MimeMessage.Load(new MemoryStream(raw));
        Assert.StartsWith($"Clean; first {ScannedTrustHostFixture.ScanLimit} of ", delivered.Headers["X-Virus-Status"]);
        Assert.Contains("spf=pass smtp.mailfrom=news@plain.example", delivered.Headers[HeaderId.AuthenticationResults]);
        Assert.NotNull(delivered.Headers["X-Spam-Status"]);
        // The attachment arrives whole.
        var attachment = Assert.Single(delivered.Attachments.OfType<MimePart>());
        using var content = new MemoryStream();
        attachment.Content!.DecodeTo(content);
        Assert.Equal(big, content.ToArray());
    }
}

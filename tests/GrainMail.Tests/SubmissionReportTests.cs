using System.Text;
using System.Text.Json.Nodes;
using GrainMail.Grains.Jmap;
using GrainMail.Outbound;
using GrainMail.Storage.Jmap;

namespace GrainMail.Tests;

/// <summary>
/// The pure parts of EmailSubmission's status (RFC 8621 7): reading DSNs (RFC 3464) and MDNs (RFC 8098)
/// for the message they speak of, and deliveryStatus/undoStatus from the records. No database.
/// </summary>
public sealed class SubmissionReportTests
{
    private static readonly byte[] Original = Encoding.ASCII.GetBytes(
        "From: alice@a.test\r\nTo: bob@b.test\r\nSubject: hi\r\nMessage-ID: <m1@a.test>\r\n\r\nbody\r\n");

    [Fact]
    public void GrainMails_own_bounce_names_the_message_and_each_recipients_fate()
    {
        var dsn = DeliveryStatusNotice.Build("mx.a.test", "alice@a.test",
            [new RecipientResult("bob@b.test", RecipientOutcome.Failed, "550 5.1.1 <bob@b.test>: User unknown", "mx.b.test"),
             new RecipientResult("carl@b.test", RecipientOutcome.Failed, "b.test publishes a null MX", null)],
            Original, DateTimeOffset.UtcNow, DateTimeOffset.UtcNow);
        var report = SubmissionReport.Parse(dsn)!;
        Assert.False(report.IsMdn);
        Assert.Contains("m1@a.test", report.MessageIds);
        var bob = report.Recipients.Single(r => r.Address == "bob@b.test");
        Assert.Equal("no", bob.Delivered);
        Assert.StartsWith("550 5.1.1", bob.SmtpReply);
        var carl = report.Recipients.Single(r => r.Address == "carl@b.test");
        Assert.Matches(@"^5\d\d ", carl.SmtpReply);
    }

    [Theory]
    [InlineData("manual-action/MDN-sent-manually; displayed", true)]
    [InlineData("automatic-action/MDN-sent-automatically; deleted", false)]
    [InlineData("manual-action/MDN-sent-manually; displayed/error", true)]
    public void An_mdn_names_its_message_and_says_whether_it_was_displayed(string disposition, bool displayed)
    {
        var raw = Encoding.ASCII.GetBytes(
            "From: bob@b.test\r\nTo: alice@a.test\r\nSubject: Read\r\nMIME-Version: 1.0\r\n" +
            "Content-Type: multipart/report; report-type=disposition-notification; boundary=\"b\"\r\n\r\n" +
            "--b\r\nContent-Type: text/plain\r\n\r\nSeen.\r\n" +
            "--b\r\nContent-Type: message/disposition-notification\r\n\r\n" +
            $"Reporting-UA: x\r\nFinal-Recipient: rfc822; Bob@B.test\r\nOriginal-Message-ID: <m1@a.test>\r\nDisposition: {disposition}\r\n" +
            "--b--\r\n");
        var report = SubmissionReport.Parse(raw)!;
        Assert.True(report.IsMdn);
        Assert.Contains("m1@a.test", report.MessageIds);
        Assert.Equal("bob@b.test", report.MdnRecipient);
        Assert.Equal(displayed, report.Displayed);
    }

    [Fact]
    public void Other_mail_and_garbage_are_no_report()
    {
        Assert.Null(SubmissionReport.Parse(Original));
        var random = new Random(18);
        for (var i = 0; i < 500; i++)
        {
            var bytes = new byte[random.Next(0, 400)];
            random.NextBytes(bytes);
            // Mutations of a report too: the parse never throws.
            var text = "Content-Type: multipart/report; report-type=delivery-status; boundary=x\r\n\r\n--x\r\nContent-Type: message/delivery-status\r\n\r\n"
                + Encoding.Latin1.GetString(bytes) + "\r\n--x--\r\n";
            _ = SubmissionReport.Parse(bytes);
            _ = SubmissionReport.Parse(Encoding.Latin1.GetBytes(text));
        }
    }

    private static JsonObject Submission(params string[] recipients)
    {
        var status = new JsonObject();
        var targets = new JsonObject();
        foreach (var r in recipients)
        {
            status[r] = new JsonObject { ["smtpReply"] = "250 2.1.5 Ok", ["delivered"] = "queued", ["displayed"] = "unknown" };
            targets[r] = r.EndsWith("@a.test", StringComparison.Ordinal)
                ? new JsonObject { ["mailboxes"] = new JsonArray(r), ["external"] = new JsonArray() }
                : new JsonObject { ["mailboxes"] = new JsonArray(), ["external"] = new JsonArray(r) };
        }
        return new JsonObject { ["undoStatus"] = "pending", ["deliveryStatus"] = status, [SubmissionStatus.Targets] = targets };
    }

    [Fact]
    public void The_status_follows_the_records_and_final_comes_with_the_first_arrival()
    {
        var intake = Guid.NewGuid();
        var delivery = Guid.NewGuid();
        var outbound = Guid.NewGuid();
        var o = Submission("bob@a.test", "eve@b.test");
        var facts = new DeliveryFacts();
        facts.Sent[intake] = new SentFacts(intake, ["bob@a.test"], [delivery], ["eve@b.test"], [outbound]);
        facts.Queued.Add(delivery);
        facts.Attempts[(outbound, "eve@b.test")] = new LastAttempt("deferred", "451 4.3.0 Greylisted");
        Assert.Equal((true, true), SubmissionStatus.Refresh(o, intake, facts));
        Assert.Equal("pending", (string)o["undoStatus"]!);
        Assert.Equal("451 4.3.0 Greylisted", (string)o["deliveryStatus"]!["eve@b.test"]!["smtpReply"]!);

        facts.Queued.Clear();
        facts.Stored.Add(("bob@a.test", delivery));
        Assert.Equal((true, true), SubmissionStatus.Refresh(o, intake, facts));
        Assert.Equal("yes", (string)o["deliveryStatus"]!["bob@a.test"]!["delivered"]!);
        Assert.Equal("final", (string)o["undoStatus"]!);

        facts.Attempts[(outbound, "eve@b.test")] = new LastAttempt("delivered", "250 2.0.0 Ok: queued as 42");
        Assert.Equal((true, false), SubmissionStatus.Refresh(o, intake, facts));
        Assert.Equal("unknown", (string)o["deliveryStatus"]!["eve@b.test"]!["delivered"]!);
        // Nothing new: no change, so no new state.
        Assert.Equal((false, false), SubmissionStatus.Refresh(o, intake, facts));

        // A later DSN from outside decides (RFC 8621 7: smtpReply may come from a DSN).
        o[SubmissionStatus.Reports] = new JsonObject { ["eve@b.test"] = new JsonObject { ["delivered"] = "no", ["smtpReply"] = "550 5.2.1 Mailbox disabled" } };
        Assert.Equal((true, false), SubmissionStatus.Refresh(o, intake, facts));
        Assert.Equal("no", (string)o["deliveryStatus"]!["eve@b.test"]!["delivered"]!);
    }

    [Fact]
    public void A_dead_letter_is_no_and_a_held_message_rejected_is_no()
    {
        var intake = Guid.NewGuid();
        var delivery = Guid.NewGuid();
        var o = Submission("bob@a.test");
        var facts = new DeliveryFacts();
        facts.Sent[intake] = new SentFacts(intake, ["bob@a.test"], [delivery], [], []);
        facts.DeadLetters[delivery] = "5.2.2 The recipient's mailbox is full";
        SubmissionStatus.Refresh(o, intake, facts);
        Assert.Equal("no", (string)o["deliveryStatus"]!["bob@a.test"]!["delivered"]!);
        Assert.Equal("550 5.2.2 The recipient's mailbox is full", (string)o["deliveryStatus"]!["bob@a.test"]!["smtpReply"]!);
        Assert.Equal("final", (string)o["undoStatus"]!);

        var held = Submission("bob@a.test");
        var none = new DeliveryFacts();
        Assert.Equal((false, true), SubmissionStatus.Refresh(held, intake, none));
        none.Attempts[(intake, "bob@a.test")] = new LastAttempt("rejected", "not this week");
        SubmissionStatus.Refresh(held, intake, none);
        Assert.Equal("no", (string)held["deliveryStatus"]!["bob@a.test"]!["delivered"]!);
        Assert.StartsWith("550 5.7.1", (string)held["deliveryStatus"]!["bob@a.test"]!["smtpReply"]!);
    }
}

using System.Net;
using GrainMail.Contracts.Delivery;
using GrainMail.Gateways.Smtp.Protocol;
using GrainMail.Gateways.Smtp.Session;

namespace GrainMail.Protocol.Tests;

/// <summary>What a transaction hands to the submission, and the trace header it gets.</summary>
public sealed class SmtpTransactionTests
{
    private static SmtpTransaction Parsed(string mail, params (string Rcpt, string[] Mailboxes)[] recipients)
    {
        var m = Assert.IsType<MailCommand>(SmtpCommandParser.Parse(mail).Command);
        var t = new SmtpTransaction(m.From.Mailbox?.Address, m.Parameters, 1000);
        foreach (var (rcpt, mailboxes) in recipients)
        {
            var r = Assert.IsType<RcptCommand>(SmtpCommandParser.Parse(rcpt).Command);
            t.Add(new AcceptedRecipient(r.To.Address, mailboxes, [], r.Parameters));
        }
        return t;
    }

    [Fact]
    public void RFC_3461_values_reach_the_submission_and_read_back_as_the_DSN_writer_sees_them()
    {
        using var t = Parsed("MAIL FROM:<a@b.example> RET=HDRS ENVID=q+2B1",
            ("RCPT TO:<x@c.example> NOTIFY=FAILURE,SUCCESS ORCPT=rfc822;X+2By@c.example", ["x@c.example"]),
            ("RCPT TO:<y@c.example>", ["y@c.example"]),
            ("RCPT TO:<z@c.example> NOTIFY=NEVER", ["z@c.example", "x@c.example"]));
        Assert.Equal(DsnReturn.Headers, t.Parameters.Return);
        Assert.Equal("q+1", t.Parameters.EnvelopeId);
        Assert.Equal("RET=HDRS ENVID=q+2B1", t.EnvelopeDsn());
        var dsn = t.RecipientDsn();
        Assert.Equal("NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;X+2By@c.example", dsn["x@c.example"]);
        Assert.Equal("NOTIFY=NEVER", dsn["z@c.example"]);
        Assert.False(dsn.ContainsKey("y@c.example"));
        // What a delivery event of x@c.example carries, as the DSN writer reads it.
        var read = DsnRequest.Parse(t.EnvelopeDsn() + " " + dsn["x@c.example"]);
        Assert.False(read.ReturnFull);
        Assert.Equal("q+1", read.EnvelopeId);
        Assert.Equal("rfc822;X+y@c.example", read.Default.OriginalRecipient);
        Assert.True(read.Default.Wants(DsnNotify.Success));
        Assert.True(read.Default.Wants(DsnNotify.Failure));
        Assert.False(read.Default.Wants(DsnNotify.Delay));
        Assert.False(DsnRequest.Parse(dsn["z@c.example"]).Default.Wants(DsnNotify.Failure));
        Assert.True(DsnRequest.Parse(null).Default.Wants(DsnNotify.Failure));
        Assert.Equal(["x@c.example", "y@c.example", "z@c.example"], t.Mailboxes());
        using var plain = Parsed("MAIL FROM:<>");
        Assert.Null(plain.EnvelopeDsn());
        Assert.Null(plain.Sender);
    }

    [Fact]
    public void The_size_limit_only_goes_down()
    {
        using var t = Parsed("MAIL FROM:<a@b.example>");
        t.LimitSize(500);
        t.LimitSize(800);
        Assert.Equal(500, t.SizeLimit);
    }

    [Fact]
    public void Received_names_the_protocol_client_and_recipient()
    {
        var at = new DateTimeOffset(2026, 12, 1, 3, 4, 5, TimeSpan.Zero);
        var received = TraceHeaders.Received(new TraceInfo("client.example", IPAddress.Parse("192.0.2.1"), "mx.example", true, null,
            "alice@example.org", SmtpUtf8: true, "bob@example.org", "abc123", at));
        Assert.StartsWith("Received: from client.example ([192.0.2.1])\r\n\tby mx.example (GrainMail) with UTF8SMTPA id abc123", received);
        Assert.Contains("(authenticated as alice@example.org)", received);
        Assert.Contains("for <bob@example.org>", received);
        Assert.EndsWith("; Tue, 01 Dec 2026 03:04:05 +0000\r\n", received);
        Assert.Equal("Return-Path: <>\r\n", TraceHeaders.ReturnPath(null));
    }
}

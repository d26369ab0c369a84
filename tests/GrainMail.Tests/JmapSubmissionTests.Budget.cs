using System.Text;
using System.Text.Json.Nodes;
using GrainMail.Tests.Infrastructure;

namespace GrainMail.Tests;

/// <summary>The hourly sending budget as EmailSubmission/set spends it: on what is sent, not on what is refused.</summary>
public sealed partial class JmapSubmissionTests
{
    /// <summary>
    /// Each recipient outside takes one from the account's hourly budget (4 here) when it is checked, as RCPT does on port
    /// 587. A submission refused after that — a mail loop, a recipient refused beside an accepted one — gives it back: after
    /// nine such refusals, more than twice the budget, a valid submission still goes, and so do the rest of the budget's. The
    /// next is forbiddenToSend (450 4.7.1 on port 587): accepted mail still stops at the limit.
    /// </summary>
    [Fact]
    public async Task Refused_submissions_give_back_their_budget_and_accepted_ones_still_stop_at_it()
    {
        var domain = await f.NewDomainAsync();
        var alice = await f.NewAccountAsync(domain, "alice");
        var bob = await f.NewAccountAsync(domain, "bob");
        using var c = await f.LoginAsync(alice);
        var identity = await IdentityAsync(c, alice);
        var outside = JmapSubmissionHostFixture.NoMail;

        var hops = new StringBuilder();
        for (var i = 101; i > 0; i--) hops.Append($"Received: from hop{i - 1}.example by hop{i}.example; Wed, 2 Dec 2026 10:{i % 60:00}:00 +0000\r\n");
        hops.Append($"From: <{alice}>\r\nTo: <loop@{outside}>\r\nSubject: Looping\r\nMessage-ID: <{Guid.NewGuid():N}@hops.example>\r\n\r\nRound.\r\n");
        var looping = await ImportDraftAsync(c, Encoding.ASCII.GetBytes(hops.ToString()));
        for (var i = 0; i < 6; i++)
        {
            var e = NotCreated(await SubmitAsync(c, identity, looping, Envelope(alice, $"loop{i}@{outside}")));
            Assert.Equal("invalidEmail", (string?)e?["type"]);
            Assert.StartsWith("554 5.4.6", (string)e!["description"]!);
        }
        // One refused recipient refuses the submission whole; the recipient outside, checked first, was accepted.
        var draft = await DraftAsync(c, alice, [bob], "Within the budget");
        for (var i = 0; i < 3; i++)
        {
            var e = NotCreated(await SubmitAsync(c, identity, draft, Envelope(alice, $"x{i}@{outside}", $"nobody{i}@{domain}")));
            Assert.Equal("invalidRecipients", (string?)e?["type"]);
            Assert.Equal([$"nobody{i}@{domain}"], ((JsonArray)e!["invalidRecipients"]!).Select(a => (string)a!));
        }

        for (var i = 0; i < JmapSubmissionHostFixture.AccountRecipientsPerHour; i++)
        {
            var r = await SubmitAsync(c, identity, draft, Envelope(alice, $"sent{i}@{outside}"));
            Assert.True(NotCreated(r) is null, $"submission {i} within the budget: {r.Body.ToJsonString()}");
        }
        var over = NotCreated(await SubmitAsync(c, identity, draft, Envelope(alice, $"over@{outside}")));
        Assert.Equal("forbiddenToSend", (string?)over?["type"]);
        Assert.Contains("4.7.1 Sending rate limit of this account", (string)over!["description"]!);
        // Mail inside the domain is not counted: it still goes.
        Assert.Null(NotCreated(await SubmitAsync(c, identity, draft, Envelope(alice, bob))));
    }
}

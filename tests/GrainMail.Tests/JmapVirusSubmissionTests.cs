using System.Text;
using GrainMail.Tests.Infrastructure;
using static GrainMail.Tests.JmapSubmissionTests;

namespace GrainMail.Tests;

/// <summary>The JMAP submission host scanning through a clamd of the tests' own (<see cref="ClamdServer"/>).</summary>
public sealed class JmapVirusHostFixture : JmapSubmissionHostFixture
{
    public ClamdServer Clamd { get; } = new();

    protected override IReadOnlyDictionary<string, string> ExtraEnvironment => new Dictionary<string, string>
    {
        ["GRAINMAIL_CLAMD"] = "unix:" + Clamd.SocketPath,
        ["GrainMail__Clamd__Timeout"] = "00:00:10",
    };

    public override async ValueTask InitializeAsync()
    {
        await Clamd.StartAsync();
        await base.InitializeAsync();
    }

    public override async ValueTask DisposeAsync()
    {
        await base.DisposeAsync();
        await Clamd.DisposeAsync();
    }
}

/// <summary>EmailSubmission/set of an infected Email over real HTTPS, scanned by a real clamd at the intake.</summary>
public sealed class JmapVirusSubmissionTests(JmapVirusHostFixture f) : IClassFixture<JmapVirusHostFixture>
{
    /// <summary>
    /// The recipient outside takes one from the hourly budget when it is checked (RCPT's step); the intake's scan then refuses
    /// the message (554 5.7.1 with the signature's name: invalidEmail) and the budget is given back. After twice the budget's
    /// worth of refusals the account still sends exactly its budget outside, and the next one is forbiddenToSend: the refusals
    /// spent nothing. Without the give-back the fifth infected submission would already be forbiddenToSend (4.7.1 at RCPT).
    /// </summary>
    [Fact]
    public async Task A_submission_refused_for_a_virus_is_invalid_email_and_does_not_spend_the_send_budget()
    {
        var domain = await f.NewDomainAsync();
        var alice = await f.NewAccountAsync(domain, "alice");
        using var c = await f.LoginAsync(alice);
        var identity = await IdentityAsync(c, alice);
        var outside = JmapSubmissionHostFixture.NoMail;
        const int budget = JmapSubmissionHostFixture.AccountRecipientsPerHour;

        var infected = await ImportDraftAsync(c, Encoding.ASCII.GetBytes(
            TrustMail.WithAttachment(alice, $"partner@{outside}", "The files", "eicar.com", Encoding.ASCII.GetBytes(ClamdServer.Eicar))));
        for (var i = 0; i < 2 * budget; i++)
        {
            var e = NotCreated(await SubmitAsync(c, identity, infected, Envelope(alice, $"partner{i}@{outside}")));
            Assert.True(e is not null, $"infected submission {i} was created");
            Assert.Equal("invalidEmail", (string?)e["type"]);
            var description = (string)e["description"]!;
            Assert.StartsWith("554 5.7.1", description);
            Assert.Contains(ClamdServer.EicarSignature, description);
        }

        var clean = await DraftAsync(c, alice, [$"partner@{outside}"], "Clean after the refusals");
        for (var i = 0; i < budget; i++)
        {
            var r = await SubmitAsync(c, identity, clean, Envelope(alice, $"sent{i}@{outside}"));
            Assert.True(NotCreated(r) is null, $"submission {i} within the budget: {r.Body.ToJsonString()}");
        }
        var over = NotCreated(await SubmitAsync(c, identity, clean, Envelope(alice, $"over@{outside}")));
        Assert.Equal("forbiddenToSend", (string?)over?["type"]);
        Assert.Contains("4.7.1 Sending rate limit of this account", (string)over!["description"]!);
    }
}

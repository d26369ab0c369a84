using System.Text.Json.Nodes;
using GrainMail.Contracts.Mailboxes;
using GrainMail.Gateways.Jmap.Push;
using GrainMail.Gateways.Jmap.Submission;

namespace GrainMail.Protocol.Tests.Jmap;

/// <summary>The pure parts of Identity/set (RFC 8621 6.3) and the EmailDelivery push state (RFC 8621 1.5).</summary>
public sealed class JmapIdentityRulesTests
{
    [Theory]
    [InlineData("""{"email":"a@example.com"}""", true, null)]
    [InlineData("""{"email":"a@example.com","name":"A","textSignature":"-- \nA","htmlSignature":"<p>A</p>"}""", true, null)]
    [InlineData("""{"email":"a@example.com","replyTo":[{"name":null,"email":"b@example.com"}],"bcc":null}""", true, null)]
    [InlineData("""{"name":"no email"}""", true, "email")]
    [InlineData("""{"email":"not an address"}""", true, "email")]
    [InlineData("""{"email":42}""", true, "email")]
    [InlineData("""{"email":"a@example.com","id":"I1"}""", true, "id")]
    [InlineData("""{"email":"a@example.com","mayDelete":true}""", true, "mayDelete")]
    [InlineData("""{"email":"a@example.com","colour":"red"}""", true, "colour")]
    [InlineData("""{"email":"a@example.com","replyTo":"b@example.com"}""", true, "replyTo")]
    [InlineData("""{"email":"a@example.com","bcc":[{"email":"nope"}]}""", true, "bcc")]
    [InlineData("""{"email":"a@example.com","bcc":[{"email":"b@example.com","extra":1}]}""", true, "bcc")]
    [InlineData("""{"email":"a@example.com","name":null}""", true, "name")]
    [InlineData("""{"name":"New"}""", false, null)]
    [InlineData("""{"email":"A@Example.com"}""", false, null)]
    [InlineData("""{"email":"b@example.com"}""", false, "email")]
    [InlineData("""{"textSignature":7}""", false, "textSignature")]
    public void Set_properties_are_checked(string json, bool creating, string? badProperty)
    {
        var current = creating ? null : new JsonObject { ["name"] = "", ["email"] = "a@example.com", ["replyTo"] = null, ["bcc"] = null, ["textSignature"] = "", ["htmlSignature"] = "" };
        var (values, error) = IdentityRules.Validate((JsonObject)JsonNode.Parse(json)!, creating, current);
        if (badProperty is null)
        {
            Assert.Null(error);
            Assert.Equal("a@example.com", ((string)values!["email"]!).ToLowerInvariant());
            Assert.NotNull(values["textSignature"]); // defaults filled in
        }
        else
        {
            Assert.Equal("invalidProperties", (string)error!["type"]!);
            Assert.Contains(badProperty, ((JsonArray)error["properties"]!).Select(p => (string)p!));
        }
    }

    [Fact]
    public void An_update_keeps_what_it_does_not_name()
    {
        var current = new JsonObject { ["name"] = "Old", ["email"] = "a@example.com", ["replyTo"] = null, ["bcc"] = null, ["textSignature"] = "sig", ["htmlSignature"] = "" };
        var (values, error) = IdentityRules.Validate(new JsonObject { ["name"] = "New" }, false, current);
        Assert.Null(error);
        Assert.Equal(("New", "sig"), ((string)values!["name"]!, (string)values["textSignature"]!));
        Assert.Equal("Old", (string)current["name"]!); // the input is not changed
    }

    [Fact]
    public void A_signature_over_the_limit_is_refused()
    {
        var huge = new string('x', IdentityRules.MaxSignatureLength + 1);
        var (_, error) = IdentityRules.Validate(new JsonObject { ["email"] = "a@example.com", ["htmlSignature"] = huge }, true, null);
        Assert.Equal(["htmlSignature"], ((JsonArray)error!["properties"]!).Select(p => (string)p!));
    }

    private static FolderInfo Folder(string name, SpecialUse use, long uidNext) => new(name, use, 1, uidNext, 1, 0, 0, 0, 0, true);

    [Fact]
    public void EmailDelivery_moves_with_new_mail_but_not_with_drafts_or_sent_copies()
    {
        var before = new[] { Folder("INBOX", SpecialUse.Inbox, 5), Folder("Drafts", SpecialUse.Drafts, 3), Folder("Sent", SpecialUse.Sent, 9), Folder("Lists", SpecialUse.None, 2) };
        var draftSaved = new[] { before[0], Folder("Drafts", SpecialUse.Drafts, 4), Folder("Sent", SpecialUse.Sent, 10), before[3] };
        var delivered = new[] { Folder("INBOX", SpecialUse.Inbox, 6), before[1], before[2], before[3] };
        var filed = new[] { before[0], before[1], before[2], Folder("Lists", SpecialUse.None, 3) };
        Assert.Equal(PushStates.DeliveryState(before), PushStates.DeliveryState(draftSaved));
        Assert.NotEqual(PushStates.DeliveryState(before), PushStates.DeliveryState(delivered));
        Assert.NotEqual(PushStates.DeliveryState(before), PushStates.DeliveryState(filed));
        var states = PushStates.Of("A1", before, identityState: 7, submissionState: 3);
        Assert.Equal(PushStates.Types.Order(StringComparer.Ordinal), states.ByType.Keys.Order(StringComparer.Ordinal));
        Assert.Equal(("7", "3"), (states.ByType["Identity"], states.ByType["EmailSubmission"]));
    }
}

using System.Text.Json.Nodes;
using GrainMail.Storage.Jmap;

namespace GrainMail.Grains.Jmap;

/// <summary>
/// deliveryStatus and undoStatus of an EmailSubmission (RFC 8621 7) from the records, as pure code.
/// The stored object keeps, beside the RFC's properties (EmailSubmission/get copies only those), three
/// private ones: "_targets" (each envelope recipient's mailboxes here and addresses outside, as the
/// recipient policy resolved them at submission), "_reports" (what DSNs said of a recipient) and
/// "_displayed" (recipients an MDN said displayed it).
/// </summary>
public static class SubmissionStatus
{
    public const string Targets = "_targets";
    public const string Reports = "_reports";
    public const string Displayed = "_displayed";

    /// <summary>Each listed report blob id → "domain:hash" of the stored message (see EmailSubmissionGrain.ReportBlob).</summary>
    public const string ReportBlobs = "_reportBlobs";

    private const string StoredReply = "250 2.0.0 Delivered to the recipient's mailbox";
    private const string TakenReply = "250 2.0.0 Taken by the recipient's mailbox (filtered, forwarded or removed since)";

    private const string ListTakenReply = "250 2.0.0 Accepted by the mailing list, which sends it on to its members";
    private const string ListHeldReply = "250 2.0.0 Held for the mailing list's moderators";

    private sealed record Outcome(string Delivered, string? Reply);

    /// <summary>The mailing-list posts among an object's recipients (a target with "list" and the receipt's "at").</summary>
    public static IEnumerable<ListPost> ListPosts(JsonObject o, string account)
    {
        if (o[Targets] is not JsonObject targets) yield break;
        foreach (var (_, t) in targets)
            if (t?["list"] is JsonValue list && t["at"] is JsonValue at
                && DateTimeOffset.TryParse((string?)at, System.Globalization.CultureInfo.InvariantCulture, System.Globalization.DateTimeStyles.RoundtripKind, out var when))
                yield return new ListPost((string)list!, account, when);
    }

    /// <summary>
    /// The object with its deliveryStatus and undoStatus brought up to date; whether it changed, and
    /// whether a recipient is still queued (the grain keeps looking while one is).
    /// </summary>
    public static (bool Changed, bool Open) Refresh(JsonObject o, Guid? intakeId, DeliveryFacts? facts)
    {
        if (o["deliveryStatus"] is not JsonObject status) return (false, false);
        var before = status.ToJsonString() + (string?)o["undoStatus"];
        var targets = o[Targets] as JsonObject;
        var reports = o[Reports] as JsonObject;
        var displayed = (o[Displayed] as JsonArray)?.Select(d => (string?)d).ToHashSet(StringComparer.OrdinalIgnoreCase) ?? [];
        foreach (var (rcpt, node) in status.ToList())
        {
            if (node is not JsonObject s) continue;
            var outcome = intakeId is { } id && facts is not null && targets?[rcpt] is JsonObject t ? Combine(t, id, facts) : null;
            if (reports?[rcpt] is JsonObject r && (outcome is null || outcome.Delivered == "queued" || (string?)r["delivered"] != "queued"))
                outcome = new Outcome((string)r["delivered"]!, (string?)r["smtpReply"]); // a later report of the recipient's fate (RFC 8621 7: smtpReply may come from a DSN)
            if (outcome is not null)
            {
                s["delivered"] = outcome.Delivered;
                if (outcome.Reply is { } reply) s["smtpReply"] = reply;
            }
            if (displayed.Contains(rcpt)) s["displayed"] = "yes";
        }
        var values = status.Select(kv => (string?)kv.Value?["delivered"]).ToList();
        var open = values.Contains("queued");
        // RFC 8621 7: "final" once the message has reached a recipient in a way that cannot be recalled;
        // "pending" while every recipient it has not failed for is still in our queues.
        o["undoStatus"] = open && !values.Any(v => v is "yes" or "unknown") ? "pending" : "final";
        return (before != status.ToJsonString() + (string?)o["undoStatus"], open);
    }

    /// <summary>One envelope recipient: queued while any of its copies is; yes when all arrived; no when all failed; unknown otherwise.</summary>
    private static Outcome Combine(JsonObject target, Guid intakeId, DeliveryFacts facts)
    {
        var outcomes = new List<Outcome>();
        facts.Sent.TryGetValue(intakeId, out var sent);
        foreach (var m in (target["mailboxes"] as JsonArray ?? []).Select(x => (string)x!))
            outcomes.Add(sent is null ? Held(intakeId, m, facts) : Local(sent, m, facts));
        foreach (var x in (target["external"] as JsonArray ?? []).Select(x => (string)x!))
            outcomes.Add(sent is null ? Held(intakeId, x, facts) : External(sent, x, facts));
        if (target["list"] is JsonValue list && target["at"] is JsonValue at)
            // Held for approval only when the send log says so (a post with no local or outside copy may have no sent record).
            outcomes.Add(sent is null && facts.Attempts.ContainsKey((intakeId, (string)list!)) ? Held(intakeId, (string)list!, facts) : ListOutcome((string)list!, (string)at!, facts));
        if (outcomes.Count == 0) return new Outcome("unknown", null);
        Outcome Pick(string kind) => outcomes.FirstOrDefault(o => o.Delivered == kind && o.Reply is not null) ?? outcomes.First(o => o.Delivered == kind);
        if (outcomes.Any(o => o.Delivered == "queued")) return Pick("queued");
        if (outcomes.All(o => o.Delivered == "yes")) return Pick("yes");
        if (outcomes.All(o => o.Delivered == "no")) return Pick("no");
        return new Outcome("unknown", outcomes.First(o => o.Delivered != "yes").Reply);
    }

    private static Outcome Local(SentFacts sent, string mailbox, DeliveryFacts facts)
    {
        var at = sent.LocalRecipients.ToList().IndexOf(mailbox);
        if (at < 0) return new Outcome("unknown", null);
        var delivery = sent.DeliveryIds[at];
        if (facts.Stored.Contains((mailbox, delivery))) return new Outcome("yes", StoredReply);
        if (facts.Queued.Contains(delivery)) return new Outcome("queued", null);
        if (facts.DeadLetters.TryGetValue(delivery, out var reason)) return new Outcome("no", ReplyOf(reason));
        return new Outcome("unknown", TakenReply);
    }

    /// <summary>
    /// A mailing list (RFC 8621 7 deliveryStatus): queued while its post waits in the list's stream or for the list's
    /// moderators; no when dead-lettered there or dropped by the list (a moderator's rejection, a loop, the list deleted);
    /// yes once the list took it — its members' copies are the list's own
    /// messages from then on (their failures go to the list's bounce address, not to the poster).
    /// </summary>
    private static Outcome ListOutcome(string list, string at, DeliveryFacts facts)
    {
        if (!DateTimeOffset.TryParse(at, System.Globalization.CultureInfo.InvariantCulture, System.Globalization.DateTimeStyles.RoundtripKind, out var when))
            return new Outcome("unknown", null);
        var key = (list, ListPost.Micros(when));
        if (facts.ListQueued.Contains(key)) return new Outcome("queued", null);
        if (facts.ListHeld.Contains(key)) return new Outcome("queued", ListHeldReply);
        if (facts.ListDead.TryGetValue(key, out var reason)) return new Outcome("no", ReplyOf(reason));
        if (facts.ListDropped.TryGetValue(key, out var dropped)) return new Outcome("no", ReplyOf(dropped));
        return new Outcome("yes", ListTakenReply);
    }

    private static Outcome External(SentFacts sent, string address, DeliveryFacts facts)
    {
        foreach (var id in sent.OutboundIds)
        {
            if (!facts.Attempts.TryGetValue((id, address), out var last)) continue;
            return last.Outcome switch
            {
                "failed" => new Outcome("no", AsSmtpReply(last.Reply, "550")),
                // Relayed to another machine: RFC 8621 7 calls the final status unknown (a DSN may still tell).
                "delivered" => new Outcome("unknown", AsSmtpReply(last.Reply, "250")),
                _ => new Outcome("queued", AsSmtpReply(last.Reply, "451")),
            };
        }
        return new Outcome("queued", null);
    }

    /// <summary>No sent record: the message is held for approval (the send log's "approval" lines say how it stands).</summary>
    private static Outcome Held(Guid intakeId, string address, DeliveryFacts facts) =>
        facts.Attempts.TryGetValue((intakeId, address), out var line) && line.Outcome is "rejected" or "expired"
            ? new Outcome("no", "550 5.7.1 " + line.Reply)
            : new Outcome("queued", null);

    /// <summary>
    /// smtpReply is an SMTP reply string (RFC 8621 7): a send-log line that is not one (a route's own words, such as
    /// "publishes a null MX") gets the basic code of its outcome in front.
    /// </summary>
    public static string AsSmtpReply(string text, string basicCode) =>
        text.Length >= 4 && char.IsAsciiDigit(text[0]) && char.IsAsciiDigit(text[1]) && char.IsAsciiDigit(text[2]) && text[3] is ' ' or '-'
            ? text : basicCode + " " + text;

    /// <summary>A dead letter's reason is the refusal without its three-digit code ("5.2.2 The recipient's mailbox is full").</summary>
    private static string ReplyOf(string reason) => (reason.StartsWith('4') ? "451 " : "550 ") + reason;
}

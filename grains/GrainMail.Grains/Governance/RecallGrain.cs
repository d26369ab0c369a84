using System.Text.Json;
using GrainMail.Contracts;
using GrainMail.Contracts.Governance;
using GrainMail.Storage.Audit;
using GrainMail.Storage.Governance;
using Orleans.Concurrency;

namespace GrainMail.Grains.Governance;

/// <summary>
/// Recall (4.1.5) for a sender: finds the submission in its sent record and asks each local
/// recipient's mailbox grain to remove the copy if unread. Recipients outside the sender's domain
/// are reported as not recallable (their copies left, or belong to another organisation).
/// </summary>
[StatelessWorker, Reentrant]
public sealed class RecallGrain(GovernanceStore store, AuditLog audit, GovernanceClock clock) : Grain, IRecallGrain
{
    public async Task<IReadOnlyList<SentMessage>> Sent(string sender, int limit) =>
        (await store.SentAsync(sender, Math.Clamp(limit, 1, 1000))).Select(s => s.ToContract()).ToList();

    public async Task<RecallReport> Recall(string sender, string id, GovernanceActor actor)
    {
        if (await store.FindSentAsync(sender, id) is not { } sent) return new RecallReport(RecallStatus.NotFound, null, []);
        var domain = MailAddress.DomainOf(sender);
        var settings = await GrainFactory.GetGrain<IGovernanceGrain>(domain).GetSettings();
        if (clock.GetUtcNow() - sent.SentAt > TimeSpan.FromDays(settings.RecallDays))
        {
            await AuditAsync(actor, sent, "too-late", []);
            return new RecallReport(RecallStatus.TooLate, sent.Id, []);
        }
        var results = new List<RecallResult>();
        for (var i = 0; i < sent.LocalRecipients.Count; i++)
        {
            var rcpt = sent.LocalRecipients[i];
            var outcome = MailAddress.DomainOf(rcpt) != domain
                ? RecallOutcome.OutsideDomain
                : await GrainFactory.GetGrain<IMailboxGovernance>(rcpt).Recall(sent.DeliveryIds[i]);
            results.Add(new RecallResult(rcpt, outcome));
        }
        results.AddRange(sent.External.Select(r => new RecallResult(r, RecallOutcome.OutsideDomain)));
        await AuditAsync(actor, sent, "ok", results);
        return new RecallReport(RecallStatus.Done, sent.Id, results);
    }

    private Task AuditAsync(GovernanceActor actor, SentRow sent, string result, IReadOnlyList<RecallResult> results) =>
        audit.AppendAsync(new AuditRecord(actor.Actor, actor.Role, actor.ClientIp, "governance.recall", sent.Id.ToString(), result,
            JsonSerializer.Serialize(new { sent.MessageId, sent.Subject, results = results.Select(r => new { r.Recipient, outcome = r.Outcome.ToString() }) })));
}

using System.Text.Json;
using GrainMail.Contracts;
using GrainMail.Contracts.Governance;
using GrainMail.Grains.Delivery;
using GrainMail.Operations.Spool;
using GrainMail.Outbound;
using GrainMail.Storage.Audit;
using GrainMail.Storage.Blobs;
using GrainMail.Storage.Delivery;
using GrainMail.Storage.Governance;
using Microsoft.Extensions.Logging;

namespace GrainMail.Grains.Governance;

/// <summary>
/// Held outbound mail of one domain (key: the domain). The rows live in PostgreSQL from the submit
/// transaction on, so nothing here is lost with an activation: a reminder (registered while the
/// domain has rules or held mail) sends notices a crash left unsent and rejects what has expired;
/// while active, a timer wakes up at the next expiry. Decisions take the row in the transaction that
/// acts on it, so two reviewers deciding at once cannot both act.
/// </summary>
public sealed class ApprovalGrain(
    GovernanceStore store, BlobStore blobs, MessageSubmitter submitter, DeliveryReports reports, GovernanceNotices notices,
    SubmissionGovernance governance, AuditLog audit, GovernanceClock clock, ILogger<ApprovalGrain> logger) : Grain, IApprovalGrain, IRemindable
{
    private const string ReminderName = "approval-expiry";
    private string _domain = "";
    private IGrainTimer? _timer;

    public override Task OnActivateAsync(CancellationToken cancellationToken)
    {
        _domain = this.GetPrimaryKeyString();
        return Task.CompletedTask;
    }

    public async Task Held(Guid id)
    {
        await this.RegisterOrUpdateReminder(ReminderName, TimeSpan.FromMinutes(1), TimeSpan.FromMinutes(1));
        if (id != Guid.Empty && await store.GetHeldAsync(id) is { Notified: false } row) await NotifyAsync(row);
        await ScheduleAsync();
    }

    private async Task NotifyAsync(ApprovalHoldRow row)
    {
        await notices.HeldAsync(GrainFactory, row);
        await store.MarkNotifiedAsync(row.Id);
    }

    public async Task ReceiveReminder(string reminderName, TickStatus status)
    {
        var held = await store.ListHeldAsync(_domain);
        foreach (var row in held.Where(h => !h.Notified)) await NotifyAsync(row);
        await ExpireDue();
        if (held.Count == 0 && (await GrainFactory.GetGrain<IGovernanceGrain>(_domain).ListRules()).Count == 0
            && await this.GetReminder(ReminderName) is { } reminder)
            await this.UnregisterReminder(reminder);
        await ScheduleAsync();
    }

    /// <summary>A timer to the next expiry while this activation lives (the reminder covers the rest, within a minute).</summary>
    private async Task ScheduleAsync()
    {
        var held = await store.ListHeldAsync(_domain);
        _timer?.Dispose();
        _timer = null;
        if (held.Count == 0) return;
        var due = held.Min(h => h.ExpiresAt) - clock.GetUtcNow();
        if (due > TimeSpan.FromMinutes(1)) return;
        _timer = this.RegisterGrainTimer(async _ => { await ExpireDue(); await ScheduleAsync(); },
            new GrainTimerCreationOptions(due < TimeSpan.Zero ? TimeSpan.Zero : due, Timeout.InfiniteTimeSpan) { Interleave = false });
    }

    public async Task<IReadOnlyList<HeldMessage>> List() => (await store.ListHeldAsync(_domain)).Select(h => h.ToContract()).ToList();

    public async Task<ApprovalDecisionStatus> Approve(Guid id, GovernanceActor actor)
    {
        if (await store.GetHeldAsync(id) is not { } row || row.Domain != _domain) return ApprovalDecisionStatus.NotFound;
        var raw = await blobs.ReadAsync(row.BlobDomain, row.BlobHash);
        if (raw is null) return ApprovalDecisionStatus.NotFound;
        var submission = new Submission(row.Sender, row.Mailboxes, new MessageContent(raw), row.Dsn, row.RecipientDsn,
            row.External.Count > 0 ? row.External : null, row.External.Count > 0 ? row.BlobDomain : null)
        {
            RequireTls = row.RequireTls,
            Lists = row.Lists,
            AuthenticatedUser = row.Account,
        };
        // Released as if submitted now: monitoring copies and the sent record (recall) as for any submission.
        submission = await governance.AfterApprovalAsync(GrainFactory, submission, row.Account, raw);
        // The sent record keeps the held id: what was told the id at submission (a JMAP EmailSubmission) finds it.
        submission = submission with { IntakeId = row.Id };
        var receipt = await submitter.CommitClaimedAsync(submission,
            (conn, tx) => GovernanceStore.ClaimAsync(conn, tx, row, "approved", $"approved by {actor.Actor}", clock.GetUtcNow()));
        if (receipt is null) return ApprovalDecisionStatus.NotFound;
        await AuditAsync(actor, "governance.approval.approve", row, null);
        return ApprovalDecisionStatus.Done;
    }

    public async Task<ApprovalDecisionStatus> Reject(Guid id, string reason, GovernanceActor actor)
    {
        if (await store.GetHeldAsync(id) is not { } row || row.Domain != _domain) return ApprovalDecisionStatus.NotFound;
        return await RejectAsync(row, reason, "rejected", actor) ? ApprovalDecisionStatus.Done : ApprovalDecisionStatus.NotFound;
    }

    public async Task<int> ExpireDue()
    {
        var now = clock.GetUtcNow();
        var expired = 0;
        foreach (var row in (await store.ListHeldAsync(_domain)).Where(h => h.ExpiresAt <= now))
        {
            if (await RejectAsync(row, row.ExpiryReason, "expired", GovernanceActor.System)) expired++;
        }
        return expired;
    }

    /// <summary>The row goes (and its blob reference); the sender gets a DSN naming the reason.</summary>
    private async Task<bool> RejectAsync(ApprovalHoldRow row, string reason, string outcome, GovernanceActor actor)
    {
        // Read before the row goes: its reference may be the blob's last.
        var raw = await blobs.ReadAsync(row.BlobDomain, row.BlobHash) ?? [];
        if (!await store.RemoveHeldAsync(row, outcome, reason, clock.GetUtcNow())) return false;
        // RFC 3463 5.7.1: delivery not authorized, message refused — by the domain's reviewer.
        var reply = outcome == "expired"
            ? $"550 5.7.1 Not approved in time: {reason}"
            : $"550 5.7.1 Rejected by the reviewer ({actor.Actor}): {reason}";
        var results = row.Recipients.Select(r => new RecipientResult(r, RecipientOutcome.Failed, reply, null)).ToList();
        var dsn = new Submission(row.Sender, row.Mailboxes, Array.Empty<byte>(), row.Dsn, row.RecipientDsn).DsnFor(row.Recipients);
        try
        {
            await reports.SendAsync(GrainFactory, row.Sender, dsn, results, raw, row.HeldAt, row.Domain);
        }
        catch (Exception e)
        {
            logger.LogWarning(e, "The report of rejected message {Id} to {Sender} could not be sent", row.Id, row.Sender);
        }
        await AuditAsync(actor, outcome == "expired" ? "governance.approval.expire" : "governance.approval.reject", row, reason);
        return true;
    }

    private Task AuditAsync(GovernanceActor actor, string action, ApprovalHoldRow row, string? reason) =>
        audit.AppendAsync(new AuditRecord(actor.Actor, actor.Role, actor.ClientIp, action, row.Id.ToString(), "ok",
            JsonSerializer.Serialize(new { row.Domain, row.Account, row.Sender, recipients = row.Recipients, row.Subject, row.RuleName, reason })));
}

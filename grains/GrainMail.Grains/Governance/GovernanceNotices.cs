using GrainMail.Contracts;
using GrainMail.Contracts.Domains;
using GrainMail.Contracts.Governance;
using GrainMail.Operations.Spool;
using GrainMail.Outbound;
using GrainMail.Storage.Delivery;
using GrainMail.Storage.Governance;
using Microsoft.Extensions.Logging;
using MimeKit;

namespace GrainMail.Grains.Governance;

/// <summary>
/// The notice mails of governance: to the reviewer of a held message, and to the domain's
/// designated reviewer for each monitoring relation made or ended (4.2.7). They go through the
/// ordinary submit path to the reviewer's INBOX, from the domain's postmaster with the null
/// reverse path (a notice is never answered by a bounce).
/// </summary>
public sealed class GovernanceNotices(MessageSubmitter submitter, OutboundOptions options, TimeProvider clock, ILogger<GovernanceNotices> logger)
{
    public Task<bool> HeldAsync(IGrainFactory grains, ApprovalHoldRow h) =>
        SendAsync(grains, h.Domain, h.Reviewer, $"Approval needed: {h.Subject}",
            $"""
            A message is held for your approval (rule "{h.RuleName}").

            Id:         {h.Id}
            From:       {h.Account} (envelope {h.Sender ?? "<>"})
            To:         {string.Join(", ", h.Recipients)}
            Subject:    {h.Subject}
            Size:       {h.Size} bytes
            Held at:    {h.HeldAt:u}
            Expires at: {h.ExpiresAt:u} (then it is returned to the sender: {h.ExpiryReason})

            Approve:  grainmail approval approve {h.Id}
            Reject:   grainmail approval reject {h.Id} "reason"
            (or POST /api/v1/approvals/{h.Id}/approve | /reject)
            """);

    public async Task MonitoringChangedAsync(IGrainFactory grains, string domain, string? reviewer, string monitored, string master, bool created,
        GovernanceActor actor)
    {
        if (reviewer is null)
        {
            logger.LogWarning("Monitoring relation {Monitored} -> {Master} changed in {Domain}, which names no reviewer", monitored, master, domain);
            return;
        }
        var what = created ? "created" : "removed";
        await SendAsync(grains, domain, reviewer, $"Monitoring relation {what}: {master} monitors {monitored}",
            $"""
            A monitoring relation was {what} in {domain}.

            Monitored account: {monitored}
            Master mailbox:    {master}
            By:                {actor.Actor} ({actor.Role})
            At:                {clock.GetUtcNow():u}

            {(created ? "From now on the master receives a copy of the mail the monitored account sends and receives." : "The master no longer receives copies.")}
            """);
    }

    /// <summary>Submits one notice; false (logged) when the reviewer takes no mail.</summary>
    public async Task<bool> SendAsync(IGrainFactory grains, string domain, string to, string subject, string text)
    {
        var verdict = await RecipientPolicy.ResolveAutomaticAsync(grains, to, 0);
        if (!verdict.Accepted || verdict.Mailboxes.Count == 0)
        {
            logger.LogWarning("Governance notice for {To} not sent: the address takes no local mail ({Status})", to, verdict.Status);
            return false;
        }
        var message = new MimeMessage();
        message.From.Add(new MailboxAddress("Mail governance", $"postmaster@{domain}"));
        message.To.Add(MailboxAddress.Parse(to));
        message.Subject = subject;
        message.Date = clock.GetUtcNow();
        message.MessageId = $"{Guid.NewGuid():N}@{options.HostName}";
        message.Headers.Add("Auto-Submitted", "auto-generated"); // RFC 3834: no automatic replies to this
        message.Body = new TextPart("plain") { Text = text.Replace("\n", "\r\n", StringComparison.Ordinal) };
        using var ms = new MemoryStream();
        await message.WriteToAsync(FormatOptions.Default, ms);
        await submitter.SubmitAsync(new Submission(null, verdict.Mailboxes, new MessageContent(ms.ToArray())));
        return true;
    }
}

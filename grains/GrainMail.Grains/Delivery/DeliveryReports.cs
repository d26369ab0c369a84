using GrainMail.Operations.Spool;
using GrainMail.Contracts;
using GrainMail.Contracts.Delivery;
using GrainMail.Contracts.Domains;
using GrainMail.Outbound;
using GrainMail.Storage.Blobs;
using GrainMail.Storage.Delivery;
using Microsoft.Extensions.Logging;

namespace GrainMail.Grains.Delivery;

/// <summary>
/// Tells a sender what became of a message after it was accepted: the one place that writes
/// DSNs (RFC 3464), for outbound failures and delays and for local deliveries that could not be
/// placed (account gone or disabled, mailbox full). Each recipient's NOTIFY decides whether it
/// is reported; the report goes to the sender's mailbox when the sender is hosted here, and out
/// through its destination's route otherwise, always with the null reverse path so that a report
/// never causes another.
/// </summary>
public sealed class DeliveryReports(MessageSubmitter submitter, OutboundOptions options, TimeProvider clock, ILogger<DeliveryReports> logger)
{
    /// <param name="onBehalfOf">The hosted domain the report speaks for (its key encrypts a copy that leaves).</param>
    /// <returns>Whether a report was committed.</returns>
    public async Task<bool> SendAsync(IGrainFactory grains, string? sender, string? dsn, IReadOnlyList<RecipientResult> results, byte[] original,
        DateTimeOffset arrived, string onBehalfOf, bool delayed = false, bool relayed = false)
    {
        // The null reverse-path: a report about a report is never sent (RFC 5321 4.5.5).
        if (MailAddress.Normalize(sender) is not { } to) return false;
        var request = DsnRequest.Parse(dsn);
        var reported = results.Where(r => request.For(r.Recipient).Wants(r.Outcome switch
        {
            RecipientOutcome.Delivered => DsnNotify.Success,
            RecipientOutcome.Deferred when delayed => DsnNotify.Delay,
            _ => DsnNotify.Failure,
        })).ToList();
        if (reported.Count == 0) return false;

        var report = DeliveryStatusNotice.Build(options.HostName, to, reported, original, arrived, clock.GetUtcNow(), delayed, request, relayed);
        var verdict = await RecipientPolicy.ResolveAutomaticAsync(grains, to, report.Length);
        Submission submission;
        if (verdict.Accepted)
        {
            submission = new Submission(null, verdict.Mailboxes, new MessageContent(report),
                External: verdict.External.Count > 0 ? verdict.External : null, ExternalOwner: verdict.External.Count > 0 ? onBehalfOf : null);
        }
        else if (!verdict.Hosted)
        {
            submission = new Submission(null, [], new MessageContent(report), External: [to], ExternalOwner: onBehalfOf);
        }
        else
        {
            logger.LogWarning("No report for {Sender} about {Count} recipients: the sender's own address takes no mail ({Status})",
                to, reported.Count, verdict.Status);
            return false;
        }
        await submitter.SubmitAsync(submission);
        return true;
    }
}

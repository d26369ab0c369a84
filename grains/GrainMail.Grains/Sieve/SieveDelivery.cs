using System.Text;
using GrainMail.Contracts;
using GrainMail.Contracts.Delivery;
using GrainMail.Contracts.Domains;
using GrainMail.Contracts.Lists;
using GrainMail.Grains.Delivery;
using GrainMail.Operations.Spool;
using GrainMail.Outbound;
using GrainMail.Sieve;
using GrainMail.Sieve.Syntax;
using GrainMail.Storage.Delivery;
using GrainMail.Storage.Sieve;
using Microsoft.Extensions.Logging;
using MimeKit;

namespace GrainMail.Grains.Sieve;

/// <summary>
/// The side effects of a Sieve run at delivery that reach beyond the mailbox: redirect, vacation,
/// reject and the one failure notice. Each is idempotent on the delivery id (a redelivered event
/// repeats none of them): redirects and rejects are recorded per delivery, vacation replies per
/// sender and handle.
/// </summary>
public sealed class SieveDelivery(SieveStore store, MessageSubmitter submitter, DeliveryReports reports, OutboundOptions outbound,
    TimeProvider clock, ILogger<SieveDelivery> logger, GrainMail.Grains.Forwarding.ForwardedMail forwarding)
{
    private const string RejectMarker = "reject";

    /// <summary>
    /// The one way a Sieve redirect leaves (RFC 5228 4.2): the message unchanged but for a
    /// Delivered-To line (loop detection), with its original envelope sender, through the submit
    /// path — to local mailboxes, or out through the outbound routes under the domain's
    /// forwarding policy. What leaves goes through the forwarding entry point (<see cref="GrainMail.Grains.Forwarding.ForwardedMail"/>)
    /// as alias and list copies do: an SRS envelope sender of the account's domain, so that the receiver's SPF
    /// check sees us and a bounce still finds the original sender, and, when every recipient is outside, an ARC
    /// set of the account's domain on top (RFC 8617), so the receiver can trust the verdicts we saw.
    /// </summary>
    /// <returns>Null when sent (or sent before for this delivery); otherwise why not, and the caller keeps the message.</returns>
    public async Task<string?> RedirectAsync(IGrainFactory grains, string account, DeliveryEvent item, byte[] raw, string target)
    {
        target = MailAddress.Normalize(target) ?? target;
        if (await store.RedirectDoneAsync(account, item.DeliveryId, target)) return null;
        if (string.Equals(target, account, StringComparison.OrdinalIgnoreCase)) return "redirect to the account itself";
        var copy = Encoding.ASCII.GetBytes($"Delivered-To: {account}\r\n").Concat(raw).ToArray();
        var verdict = await RecipientPolicy.ResolveAsync(grains, target, copy.Length);
        var accountDomain = MailAddress.DomainOf(account);
        Submission submission;
        if (verdict.Accepted)
        {
            if (verdict.External.Count > 0 && await ForwardingRefusalAsync(grains, account, verdict.External) is { } refusedAlias) return refusedAlias;
            submission = verdict.External.Count > 0
                ? await LeavingAsync(item.Sender, verdict.Mailboxes, verdict.External, copy, accountDomain)
                : new Submission(item.Sender, verdict.Mailboxes, new MessageContent(copy));
            if (verdict.List is { } list)
            {
                // A list (or an alias naming one) takes the redirect as a post, under the list's
                // own rule for the envelope sender the redirect keeps; nothing about that sender is
                // authenticated here, so it counts as mail from outside, as at the MX.
                var (listAddress, command) = ListStreams.Split(list);
                var attempt = new PostAttempt(MailAddress.Normalize(item.Sender), null, Mx: true, command);
                if (await grains.GetGrain<IMailingListGrain>(listAddress).MayPost(attempt) != PostVerdict.Allowed)
                    return $"the list {listAddress} does not take posts from {item.Sender ?? "<>"}";
                submission = submission with { Lists = [list] };
            }
        }
        else if (!verdict.Hosted)
        {
            if (await ForwardingRefusalAsync(grains, account, [target]) is { } refused) return refused;
            submission = await LeavingAsync(item.Sender, [], [target], copy, accountDomain);
        }
        else return $"the local address {target} takes no mail ({verdict.Status})";
        await submitter.SubmitAsync(submission);
        await store.MarkRedirectDoneAsync(account, item.DeliveryId, target);
        logger.LogInformation("Sieve of {Account} redirected delivery {Id} to {Target}", account, item.DeliveryId, target);
        return null;
    }

    /// <summary>A redirect with recipients outside: SRS sender, and an ARC seal on the copies that leave (local
    /// copies, when the redirect also reaches mailboxes here, keep the bytes unsealed: they need no seal of ours).</summary>
    private async Task<Submission> LeavingAsync(string? sender, IReadOnlyList<string> mailboxes, IReadOnlyList<string> external, byte[] copy, string accountDomain)
    {
        var sealedCopy = await forwarding.SealAsync(accountDomain, copy);
        return new Submission(sender, mailboxes, new MessageContent(mailboxes.Count == 0 ? sealedCopy : copy), External: external, ExternalOwner: accountDomain)
        {
            OutboundSender = await forwarding.EnvelopeSenderAsync(sender, accountDomain),
            OutboundRaw = mailboxes.Count == 0 || ReferenceEquals(sealedCopy, copy) ? null : new MessageContent(sealedCopy),
        };
    }

    /// <summary>The domain's policy on automatic forwarding outside (issue 17) and the account's own right to send out.</summary>
    private static async Task<string?> ForwardingRefusalAsync(IGrainFactory grains, string account, IReadOnlyList<string> external)
    {
        var domain = grains.GetGrain<IDomainGrain>(MailAddress.DomainOf(account));
        var policy = (await domain.GetInfo())?.Settings.Forwarding ?? ForwardingPolicy.AllowAll;
        foreach (var to in external)
        {
            if (policy.Refusal(MailAddress.DomainOf(to)) is { } why) return why;
        }
        if (await domain.GetAccountPolicy(MailAddress.LocalPartOf(account)) is { MaySendExternal: false })
            return "the account may not send mail outside the domain";
        return null;
    }

    /// <summary>RFC 5230: one reply per sender and handle per :days, never to automatic or list mail, from the null reverse path.</summary>
    public async Task VacationAsync(IGrainFactory grains, string account, DeliveryEvent item, MimeMessage message, VacationAction vacation)
    {
        var own = vacation.Addresses.Append(account).ToList();
        var envelope = new SieveEnvelope(item.Sender, account);
        if (VacationResponder.WhyNot(message, envelope, own) is { } why)
        {
            logger.LogDebug("No vacation reply from {Account} for delivery {Id}: {Why}", account, item.DeliveryId, why);
            return;
        }
        var now = clock.GetUtcNow();
        if (!await store.ClaimVacationAsync(account, item.Sender!, vacation.Handle, now, now - vacation.Period)) return;
        var reply = VacationResponder.Build(vacation, message, item.Sender!, account, now, outbound.HostName);
        using var s = new MemoryStream();
        await reply.WriteToAsync(s);
        await SubmitAsync(grains, item.Sender!, s.ToArray(), MailAddress.DomainOf(account));
        logger.LogInformation("Vacation reply from {Account} to {Sender}", account, item.Sender);
    }

    /// <summary>RFC 5429 2.1: refused after acceptance, so the sender hears it as a DSN (never to the null reverse path, so no loop).</summary>
    public async Task RejectAsync(IGrainFactory grains, string account, DeliveryEvent item, byte[] raw, RejectAction reject)
    {
        if (await store.RedirectDoneAsync(account, item.DeliveryId, RejectMarker)) return;
        var reason = string.Join(' ', reject.Reason.Split(['\r', '\n'], StringSplitOptions.RemoveEmptyEntries)).Trim();
        if (reason.Length > 400) reason = reason[..400];
        if (reason.Length == 0) reason = "Rejected by the recipient's filter";
        await reports.SendAsync(grains, item.Sender, item.Dsn,
            [new RecipientResult(account, RecipientOutcome.Failed, "550 5.7.1 " + reason, null)], raw, item.ReceivedAt, MailAddress.DomainOf(account));
        await store.MarkRedirectDoneAsync(account, item.DeliveryId, RejectMarker);
        logger.LogInformation("Sieve of {Account} rejected delivery {Id}: {Reason}", account, item.DeliveryId, reason);
    }

    /// <summary>The active script failed at run time: the user hears it once (until the scripts change), by mail.</summary>
    public async Task NotifyFailureAsync(IGrainFactory grains, string account, string script, SieveError error)
    {
        if (!await store.ClaimFailureNoticeAsync(account)) return;
        var notice = new MimeMessage();
        notice.From.Add(new MailboxAddress("Mail filter", "postmaster@" + MailAddress.DomainOf(account)));
        notice.To.Add(MailboxAddress.Parse(account));
        notice.Subject = "Your mail filter failed; messages go to INBOX";
        notice.Date = clock.GetUtcNow();
        notice.MessageId = MimeKit.Utils.MimeUtils.GenerateMessageId(outbound.HostName);
        notice.Headers.Add(HeaderId.AutoSubmitted, "auto-generated");
        notice.Body = new TextPart("plain")
        {
            Text = $"Your active Sieve script \"{script}\" failed while filtering a message ({error}).\r\n\r\n"
                + "Messages are delivered to INBOX unfiltered until the script is fixed. This notice is sent once;\r\n"
                + "uploading or activating a script sends the next one if it fails again.\r\n",
        };
        using var s = new MemoryStream();
        await notice.WriteToAsync(s);
        await submitter.SubmitAsync(new Submission(null, [account], new MessageContent(s.ToArray())));
        logger.LogWarning("Sieve script {Script} of {Account} failed at run time ({Error}); the user was told", script, account, error);
    }

    private async Task SubmitAsync(IGrainFactory grains, string to, byte[] bytes, string onBehalfOf)
    {
        var verdict = await RecipientPolicy.ResolveAutomaticAsync(grains, to, bytes.Length);
        if (verdict.Accepted)
            await submitter.SubmitAsync(new Submission(null, verdict.Mailboxes, new MessageContent(bytes),
                External: verdict.External.Count > 0 ? verdict.External : null, ExternalOwner: verdict.External.Count > 0 ? onBehalfOf : null));
        else if (!verdict.Hosted)
            await submitter.SubmitAsync(new Submission(null, [], new MessageContent(bytes), External: [to], ExternalOwner: onBehalfOf));
    }
}

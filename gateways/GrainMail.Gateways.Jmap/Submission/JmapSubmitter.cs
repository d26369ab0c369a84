using System.Text;
using System.Text.Json.Nodes;
using GrainMail.Contracts;
using GrainMail.Contracts.Delivery;
using GrainMail.Contracts.Domains;
using GrainMail.Contracts.Intake;
using GrainMail.Contracts.Lists;
using GrainMail.Gateways.Common.Intake;
using GrainMail.Gateways.Common.Messages;
using GrainMail.Gateways.Jmap.Mail;
using GrainMail.Gateways.Smtp;
using GrainMail.Gateways.Smtp.Session;
using Microsoft.Extensions.Logging;
using MimeKit;

namespace GrainMail.Gateways.Jmap.Submission;

/// <summary>What became of one EmailSubmission create: a SetError, or the envelope used and each recipient's status.</summary>
/// <param name="IntakeId">The intake's id of the message (sent_message.id; the held id while held for approval).</param>
/// <param name="MessageId">The Message-ID it left with, without angle brackets (DSNs and MDNs name it).</param>
/// <param name="Targets">Each accepted recipient's mailboxes here and addresses outside, as the recipient policy resolved them.</param>
public sealed record SendOutcome(JsonObject? Error, JmapEnvelope? Envelope = null, JsonObject? DeliveryStatus = null, bool Held = false,
    Guid? IntakeId = null, string? MessageId = null, JsonObject? Targets = null);

/// <summary>
/// Sends an Email as SMTP submission (port 587) would, by the same pieces: the message-text rule
/// (<see cref="MessageText"/>: CRLF, no NUL, the header limits), the loop check (<see cref="MailLoop"/>), the sender checks of
/// MAIL FROM and From:/Sender: (the account or an alias that reaches it; a delegate's session acts
/// for the owner's mailbox), <see cref="RcptPolicy"/> for every recipient (may-send-outside, the
/// hourly budgets, recipient domains' size limits, lists' posting rules), the server's size and
/// recipient limits, the submission's Message-ID/Date additions and trace fields, and finally
/// <see cref="MessageIntake"/> with the account as the authenticated user — so outbound approval,
/// virus scanning, monitoring copies, the sent log, recall's sent_message and DKIM signing on the
/// way out apply exactly as they do to SMTP AUTH submission.
/// </summary>
public sealed class JmapSubmitter(IGrainFactory grains, MessageIntake intake, SmtpOptions options, ILogger<JmapSubmitter> log)
{
    private readonly RcptPolicy _rcpt = new(grains, options, log);

    /// <param name="envelopeId">The RFC 3461 ENVID the message leaves with: the EmailSubmission's id, which a DSN returns as
    /// Original-Envelope-Id, so that the report is matched to this submission and no other.</param>
    public async Task<SendOutcome> SendAsync(string account, byte[] raw, JsonNode? envelopeArgument, CancellationToken ct, string? envelopeId = null)
    {
        // The message-text rule of every way in, as SMTP DATA applies it (554 5.6.0 for a NUL or an empty header section, 552 5.3.4
        // for the header limits there): line ends become CRLF, the rest is refused. Email/set and Email/import store nothing
        // that fails it, but an Email stored before they checked may, and what leaves the server must pass.
        var (read, problem) = JmapMessageText.Read(raw, options.MessageText);
        if (read is null) return new SendOutcome(SubmissionRules.TextRefusal(problem!));
        raw = read.Raw;
        var message = read.Message;
        // From: and Sender: parsed once, for the derived envelope and for the ownership rule below.
        var originators = Originators.Of(message);
        var (envelope, envelopeError) = envelopeArgument is null ? SubmissionRules.Derive(message, originators) : SubmissionRules.Parse(envelopeArgument);
        if (envelopeError is not null) return new SendOutcome(envelopeError);

        // From: and Sender:, then MAIL FROM — the same ownership rule as SmtpSession (553 5.7.1 there). The header
        // first: a derived MAIL FROM is the header's address, and the user wrote the header, not the envelope.
        var owned = new Dictionary<string, bool>(StringComparer.Ordinal);
        foreach (var (field, parsed) in new[] { ("from", originators.From), ("sender", originators.Sender) })
        {
            // A field that names no address one can check is not owned either (SmtpSession refuses it at DATA likewise).
            if (parsed is not { } addresses)
                return new SendOutcome(SubmissionRules.Error("forbiddenFrom", $"The {field} field cannot be read as addresses the account may send as", ("properties", new JsonArray(field))));
            foreach (var address in addresses)
                if (!await OwnsAsync(account, address, owned))
                    return new SendOutcome(SubmissionRules.Error("forbiddenFrom", $"The account may not send with {field} <{address}>", ("properties", new JsonArray(field))));
        }
        if (!await OwnsAsync(account, envelope!.MailFrom.Email, owned))
            return new SendOutcome(SubmissionRules.Error("forbiddenMailFrom", $"The account may not send as <{envelope.MailFrom.Email}>"));

        if (envelope.RcptTo.Count == 0) return new SendOutcome(SubmissionRules.Error("noRecipients", "The envelope has no recipients"));
        if (envelope.RcptTo.Count > options.MaxRecipients)
            return new SendOutcome(SubmissionRules.Error("tooManyRecipients", $"At most {options.MaxRecipients} recipients", ("maxRecipients", options.MaxRecipients)));

        var messageId = message.MessageId is { Length: > 0 } given ? given : Guid.NewGuid().ToString("N") + "@" + options.HostName;
        var bytes = Complete(account, SubmissionRules.WithoutBcc(raw), message, envelope, messageId);
        if (bytes.Length > options.MaxMessageBytes)
            return new SendOutcome(SubmissionRules.Error("tooLarge", $"The message is larger than {options.MaxMessageBytes} bytes", ("maxSize", options.MaxMessageBytes)));

        // RCPT, one recipient at a time, exactly as SmtpSession asks. The budgets are taken here as there, and given back as
        // there when the submission is refused after all (a refused recipient refuses it whole, the size, the loop check, the
        // intake): a client that tries a refused message again does not use up its own sending budget.
        var charged = 0;
        var sent = false;
        try
        {
            var mailboxes = new List<string>();
            var external = new List<string>();
            var lists = new List<string>();
            var accepted = new List<(string Address, string Reply)>();
            var targets = new JsonObject();
            var refused = new List<(string, RcptVerdict)>();
            long sizeLimit = options.MaxMessageBytes;
            foreach (var rcpt in envelope.RcptTo.DistinctBy(r => r.Email, StringComparer.OrdinalIgnoreCase))
            {
                var verdict = await _rcpt.CheckAsync(new RcptCheck(rcpt.Email, account, SmtpService.Submission, bytes.Length, envelope.MailFrom.Email));
                if (verdict.Charged) charged++;
                if (!verdict.Accepted)
                {
                    refused.Add((rcpt.Email, verdict));
                    continue;
                }
                if (verdict.MaxMessageBytes is long max) sizeLimit = Math.Min(sizeLimit, max);
                mailboxes.AddRange(verdict.Mailboxes);
                external.AddRange(verdict.External);
                if (verdict.List is { } l) lists.Add(l);
                accepted.Add((rcpt.Email, verdict.Reply.ToString()));
                targets[rcpt.Email] = new JsonObject
                {
                    ["mailboxes"] = new JsonArray(verdict.Mailboxes.Distinct(StringComparer.Ordinal).Select(m => (JsonNode)m).ToArray()),
                    ["external"] = new JsonArray(verdict.External.Distinct(StringComparer.Ordinal).Select(m => (JsonNode)m).ToArray()),
                    // A mailing list: its post is followed in the list's stream (SubmissionStatus), found by list and time.
                    ["list"] = verdict.List is { } listed ? GrainMail.Contracts.Lists.ListStreams.Split(listed).List : null,
                };
            }
            if (SubmissionRules.RecipientRefusal(refused, bytes.Length) is { } rcptError) return new SendOutcome(rcptError);
            if (bytes.Length > sizeLimit)
                return new SendOutcome(SubmissionRules.Error("tooLarge", $"The message is larger than {sizeLimit} bytes, a recipient domain's limit", ("maxSize", sizeLimit)));
            // The loop check of SMTP DATA (554 5.4.6), the same function: the header fields as the user's Email has them (our own
            // Received field not counted, as SMTP counts before adding its own), and the lists the recipients were accepted as.
            if (MailLoop.Find(message.Headers.Select(h => (h.Field, h.Value)).ToList(), lists, options.MaxHops) is { } loop)
                return new SendOutcome(SubmissionRules.LoopRefusal(loop));

            external = external.Distinct(StringComparer.Ordinal).ToList();
            var envelopeToSilo = new SubmissionEnvelope(envelope.MailFrom.Email, mailboxes.Distinct(StringComparer.Ordinal).ToList(),
                Dsn: DsnRequest.Encode(null, envelopeId), External: external, ExternalOwner: external.Count == 0 ? null : MailAddress.DomainOf(account),
                Lists: lists.Distinct(StringComparer.Ordinal).ToList(), AuthenticatedUser: account);
            SubmitReceipt receipt;
            // From here the message may be stored and sent: a failure without an answer keeps the budget (the strict side).
            sent = true;
            try
            {
                receipt = await intake.SubmitAsync(envelopeToSilo, bytes, ct);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                // As SMTP's 451: nothing was committed, or it cannot be known; the client may send again.
                log.LogWarning(e, "JMAP submission of {Account} failed at the intake", account);
                return new SendOutcome(SubmissionRules.Error("serverFail", "The message could not be stored; try again"));
            }
            if (receipt.Refusal is { } refusal)
            {
                sent = false;
                return new SendOutcome(SubmissionRules.IntakeRefusal(refusal));
            }

            // The list's post event carries the receipt's time: with the list and the account it names the post in the list's stream.
            foreach (var (_, t) in targets)
                if (t?["list"] is not null) t["at"] = receipt.ReceivedAt.ToString("O", System.Globalization.CultureInfo.InvariantCulture);
            // Held for approval: the intake wrote no delivery event, only the held row (and the send log's "pending approval").
            var held = receipt.Events == 0;
            var status = new JsonObject();
            foreach (var (address, reply) in accepted)
                status[address] = new JsonObject
                {
                    ["smtpReply"] = held ? $"250 2.0.0 Held for approval ({receipt.MessageId:N})" : reply,
                    ["delivered"] = "queued",
                    ["displayed"] = "unknown",
                };
            log.LogInformation("JMAP submission {Id} from {Account} to {Count} recipients{Held}", receipt.MessageId, account, accepted.Count, held ? ", held for approval" : "");
            return new SendOutcome(null, envelope, status, held, receipt.MessageId, messageId, targets);
        }
        finally
        {
            if (!sent && charged > 0) await _rcpt.GiveBackAsync(account, charged);
        }
    }

    /// <summary>The sender rule on its own, for Identity/set (RFC 8621 6.3: forbiddenFrom for an address the user may not send as).</summary>
    public Task<bool> MaySendAsAsync(string account, string address) => OwnsAsync(account, address, new(StringComparer.Ordinal));

    /// <summary>Whether <paramref name="account"/> may send as <paramref name="address"/>: itself, or an address that reaches it (SmtpSession's rule).</summary>
    private async Task<bool> OwnsAsync(string account, string address, Dictionary<string, bool> known)
    {
        var normal = MailAddress.Normalize(address);
        if (normal is null) return false;
        if (normal == account) return true;
        if (known.TryGetValue(normal, out var k)) return k;
        var r = await RecipientPolicy.ResolveAsync(grains, normal);
        return known[normal] = r.Accepted && r.Mailboxes.Contains(account);
    }

    /// <summary>
    /// The trace fields a submission server prepends (RFC 5321 4.4; the protocol is HTTPS, there is no SMTP client to name),
    /// and Message-ID and Date when missing (RFC 6409 8.2, 8.3), as SmtpSession adds them.
    /// </summary>
    private byte[] Complete(string account, byte[] raw, MimeMessage message, JmapEnvelope envelope, string messageId)
    {
        var now = DateTimeOffset.UtcNow;
        var prefix = new StringBuilder();
        prefix.Append(TraceHeaders.ReturnPath(envelope.MailFrom.Email));
        prefix.Append("Received: by ").Append(options.HostName).Append(" (GrainMail) with HTTPS (JMAP) id ").Append(Guid.CreateVersion7().ToString("N")[..16]);
        prefix.Append("\r\n\t(authenticated as ").Append(account).Append(')');
        if (envelope.RcptTo.Count == 1) prefix.Append("\r\n\tfor <").Append(envelope.RcptTo[0].Email).Append('>');
        prefix.Append("; ").Append(TraceHeaders.Rfc5322Date(now)).Append("\r\n");
        if (!message.Headers.Contains(HeaderId.MessageId)) prefix.Append("Message-ID: <").Append(messageId).Append(">\r\n");
        if (!message.Headers.Contains(HeaderId.Date)) prefix.Append("Date: ").Append(TraceHeaders.Rfc5322Date(now)).Append("\r\n");
        var head = Encoding.UTF8.GetBytes(prefix.ToString());
        var all = new byte[head.Length + raw.Length];
        head.CopyTo(all, 0);
        raw.CopyTo(all, head.Length);
        return all;
    }
}

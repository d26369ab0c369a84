using System.Text.Json;
using GrainMail.Contracts;
using GrainMail.Gateways.Http.Json;
using GrainMail.Gateways.Http.Problems;
using GrainMail.Gateways.Http.Scopes;
using GrainMail.Contracts.Domains;
using GrainMail.Contracts.Intake;
using GrainMail.Gateways.Common.Intake;
using GrainMail.Gateways.Common.Messages;
using GrainMail.Operations.Spool;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Routing;
using MimeKit;

namespace GrainMail.Gateways.Http.Messages;

/// <param name="From">Envelope sender; empty for a null reverse-path.</param>
/// <param name="Raw">Base64 of an RFC 5322 message.</param>
public sealed record SubmitRequest(string? From, List<string>? To, string? Raw);

/// <param name="Deliveries">Mailboxes the message was committed for.</param>
/// <param name="PendingApproval">Mail of one of our accounts that an outbound approval rule holds (issue 17): delivered once a reviewer approves it.</param>
public sealed record SubmitResponse(Guid MessageId, int Deliveries, DateTimeOffset ReceivedAt, bool PendingApproval = false);

/// <summary>POST /messages: a message for hosted mailboxes, answered after the durable commit.</summary>
public static class MessageEndpoints
{
    public const int MaxRecipients = 1000;

    public static void MapMessages(this RouteGroupBuilder api) =>
        api.MapPost("/messages", Submit).WithTags("Messages").Accepts<SubmitRequest>("application/json").NodeWide();

    private static async Task<Results<Accepted<SubmitResponse>, ProblemHttpResult>> Submit(HttpContext http, IGrainFactory grains, MessageIntake intake, AdminApiOptions options)
    {
        // Base64 of the largest message, plus JSON around it.
        http.Features.Get<IHttpMaxRequestBodySizeFeature>()?.MaxRequestBodySize = options.MaxMessageBytes * 4 / 3 + 1024 * 1024;
        SubmitRequest? req;
        try
        {
            req = await JsonSerializer.DeserializeAsync(http.Request.Body, AdminJsonContext.Default.SubmitRequest, http.RequestAborted);
        }
        catch (JsonException)
        {
            return ApiProblem.BadJson();
        }
        catch (BadHttpRequestException e) when (e.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            return ApiProblem.TooLarge($"The limit is {options.MaxMessageBytes} bytes");
        }
        if (req is null) return ApiProblem.BadJson();

        string? from = null;
        if (!string.IsNullOrEmpty(req.From))
        {
            from = MailAddress.Normalize(req.From);
            if (from is null) return ApiProblem.BadRequest("Invalid sender address", req.From);
        }
        if (req.To is not { Count: > 0 }) return ApiProblem.BadRequest("At least one recipient is required");
        if (req.To.Count > MaxRecipients) return ApiProblem.BadRequest("Too many recipients", $"At most {MaxRecipients}");
        var bad = req.To.Where(t => MailAddress.Normalize(t) is null).ToList();
        if (bad.Count > 0) return ApiProblem.BadRequest("Invalid recipient address", string.Join(", ", bad));

        byte[] raw;
        try
        {
            raw = Convert.FromBase64String(req.Raw ?? "");
        }
        catch (FormatException)
        {
            return ApiProblem.BadRequest("Malformed base64", "'raw' must be the base64 of an RFC 5322 message");
        }
        // One rule for message text at every way in: CRLF line ends, no NUL, bounded header section.
        var (normalized, textProblem) = MessageText.Normalize(raw, options.MessageText);
        if (normalized is null)
        {
            return MessageText.IsHeaderLimit(textProblem)
                ? ApiProblem.Of(StatusCodes.Status413PayloadTooLarge, "Message header too large", MessageText.Describe(textProblem, options.MessageText))
                : ApiProblem.BadRequest("Malformed message", MessageText.Describe(textProblem, options.MessageText));
        }
        raw = normalized;
        if (MessageCheck(raw) is { } problem) return ApiProblem.BadRequest("Malformed message", problem);

        // The same recipient policy as SMTP RCPT, one call per recipient.
        var mailboxes = new List<string>();
        var limit = options.MaxMessageBytes;
        foreach (var to in req.To)
        {
            var r = await RecipientPolicy.ResolveAsync(grains, to, raw.Length);
            if (!r.Hosted) return ApiProblem.BadRequest("Recipient not hosted here", $"{to}: outbound delivery is not accepted on this endpoint");
            switch (r.Status)
            {
                case RecipientStatus.NoSuchUser: return ApiProblem.NotFound("No such recipient", to);
                case RecipientStatus.Disabled: return ApiProblem.Conflict("Recipient disabled", $"{to}: the account is disabled and receives no mail");
                case RecipientStatus.MailboxFull: return ApiProblem.Of(StatusCodes.Status507InsufficientStorage, "Mailbox full", $"{to}: the mailbox has no room for {raw.Length} bytes");
                case RecipientStatus.TooLarge: return ApiProblem.TooLarge($"{raw.Length} bytes; the limit is {r.MaxMessageBytes}");
            }
            if (r.External.Count > 0) return ApiProblem.BadRequest("Recipient forwards outside", $"{to}: outbound delivery is not accepted on this endpoint");
            // A list (or an alias naming one) expands from its stream, which SMTP feeds; here it would reach no one.
            if (r.List is not null) return ApiProblem.BadRequest("Recipient is a mailing list", $"{to}: post to lists by SMTP");
            mailboxes.AddRange(r.Mailboxes);
            limit = Math.Min(limit, r.MaxMessageBytes);
        }
        if (raw.Length > limit) return ApiProblem.TooLarge($"{raw.Length} bytes; the limit is {limit}");

        // Mail from one of our accounts is that account's mail, whichever way it comes in: outbound
        // approval, monitoring copies and the sent record apply (issue 17, 4.2.14), as on SMTP submission.
        var account = from is null ? null
            : await RecipientPolicy.ResolveAsync(grains, from, 0) is { Accepted: true, Mailboxes: [var only] } && only == from ? from : null;
        var receipt = await intake.SubmitAsync(new SubmissionEnvelope(from, mailboxes, AuthenticatedUser: account), new MessageContent(raw), http.RequestAborted);
        // The silo's checks (a virus found, or clamd unavailable) refuse with an SMTP reply; nothing was stored.
        if (receipt.Refusal is { } refusal) return ApiProblem.Of(StatusCodes.Status422UnprocessableEntity, "Message refused", refusal);
        // Held for approval: committed, but no delivery event until the reviewer decides.
        var pending = account is not null && receipt.Events == 0;
        return TypedResults.Accepted((string?)null, new SubmitResponse(receipt.MessageId, receipt.Events, receipt.ReceivedAt, pending));
    }

    /// <summary>Why <paramref name="raw"/> is not an acceptable RFC 5322 message, or null.</summary>
    private static string? MessageCheck(byte[] raw)
    {
        if (raw.Length == 0) return "empty message";
        try
        {
            using var ms = new MemoryStream(raw, writable: false);
            var parser = new MimeParser(ms, MimeFormat.Entity);
            var headers = parser.ParseHeaders();
            if (headers.Count == 0) return "no header fields";
        }
        catch (FormatException e)
        {
            return e.Message;
        }
        return null;
    }
}

using System.Text.Json;
using GrainMail.Contracts;
using GrainMail.Contracts.Accounts;
using GrainMail.Contracts.Admin;
using GrainMail.Contracts.Mailboxes;
using GrainMail.Gateways.Http.Json;
using GrainMail.Gateways.Http.Problems;
using GrainMail.Gateways.Http.Sessions;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Routing;

namespace GrainMail.Gateways.Http.Integrations;

public sealed record UnreadResponse(string Address, int Unread);

public sealed record SsoRequest(string? Address);

/// <param name="LoginUrl">Opened once, it gives a session token for the account (a webmail session once webmail exists).</param>
public sealed record SsoResponse(string Ticket, string LoginUrl, DateTimeOffset ExpiresAt);

/// <summary>
/// /integration/*: what an enterprise's own systems call with signed requests
/// (<see cref="RequestSignature"/>), for accounts of the integration's domain only.
/// </summary>
public static class SignedEndpoints
{
    public static void MapSignedIntegration(this RouteGroupBuilder api)
    {
        // Not the admin token's: the signature is the credential (checked by the filter).
        var g = api.MapGroup("/integration").WithTags("Integration API (signed)").AllowAnonymous().AddEndpointFilter<SignedRequestFilter>();
        g.MapGet("/accounts/{address}/unread", Unread);
        g.MapPost("/sso", SingleSignOn).WithMetadata(new AnySourceAddress()).Accepts<SsoRequest>("application/json");
    }

    /// <summary>Unseen messages in the account's INBOX, as IMAP STATUS UNSEEN counts them.</summary>
    private static async Task<Results<Ok<UnreadResponse>, ProblemHttpResult>> Unread(string address, HttpContext http, IGrainFactory grains)
    {
        if (!RouteNames.TryAddress(address, out var a, out var problem)) return problem;
        if (OutsideDomain(http, a) is { } outside) return outside;
        var mailbox = grains.GetGrain<IMailboxGrain>(a);
        if (!await mailbox.Exists()) return ApiProblem.NoSuchAccount(a);
        var inbox = await mailbox.GetFolder("INBOX");
        return TypedResults.Ok(new UnreadResponse(a, inbox?.Unseen ?? 0));
    }

    private static async Task<Results<Created<SsoResponse>, ProblemHttpResult>> SingleSignOn(HttpContext http, IGrainFactory grains)
    {
        SsoRequest? req;
        try
        {
            req = JsonSerializer.Deserialize(VerifiedIntegration.Of(http).Body, AdminJsonContext.Default.SsoRequest);
        }
        catch (JsonException)
        {
            return ApiProblem.BadJson();
        }
        if (!RouteNames.TryAddress(req?.Address, out var a, out var problem)) return problem;
        if (OutsideDomain(http, a) is { } outside) return outside;
        var info = await grains.GetGrain<IAccountGrain>(a).GetInfo();
        if (info is null) return ApiProblem.NoSuchAccount(a);
        if (!info.Enabled) return ApiProblem.Of(StatusCodes.Status403Forbidden, "Account disabled", a);
        var ticket = SessionTokens.NewTicket();
        var expires = await grains.GetGrain<IIntegrationGrain>(0).IssueSsoTicket(VerifiedIntegration.Of(http).Integration.Id, a, SessionTokens.Hash(ticket));
        var url = $"{http.Request.Scheme}://{http.Request.Host}{AdminApi.Prefix}/sso/{ticket}";
        return TypedResults.Created(url, new SsoResponse(ticket, url, expires));
    }

    private static ProblemHttpResult? OutsideDomain(HttpContext http, string address)
    {
        var domain = VerifiedIntegration.Of(http).Integration.Domain;
        return MailAddress.DomainOf(address) == domain
            ? null
            : ApiProblem.Of(StatusCodes.Status403Forbidden, "Outside the integration's domain", $"{address} is not in {domain}");
    }
}

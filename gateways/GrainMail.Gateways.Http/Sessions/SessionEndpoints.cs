using GrainMail.Contracts;
using GrainMail.Contracts.Accounts;
using GrainMail.Contracts.Admin;
using GrainMail.Gateways.Http.AccountSecurity;
using GrainMail.Gateways.Http.Auth;
using GrainMail.Gateways.Http.Problems;
using GrainMail.Gateways.Http.Roles;
using GrainMail.Gateways.Http.Scopes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Routing;

namespace GrainMail.Gateways.Http.Sessions;

/// <param name="Totp">The current code of the authenticator app (or a recovery code) when two-factor is on.</param>
public sealed record LoginRequest(string? Address, string? Password, string? Totp = null);

/// <param name="Token">The bearer token for /api/v1; shown once.</param>
/// <param name="ExpiresAt">The absolute end; the session also ends after <paramref name="IdleTimeoutSeconds"/> unused.</param>
public sealed record SessionCreated(string Token, DateTimeOffset ExpiresAt, int IdleTimeoutSeconds, string Account, string Kind, IReadOnlyList<RoleResponse> Roles);

/// <param name="Kind"><c>super</c> (the bootstrap token), <c>admin</c> (a role holder's session) or <c>user</c> (single sign-on).</param>
public sealed record SessionResponse(string Kind, string? Account, DateTimeOffset? ExpiresAt, IReadOnlyList<RoleResponse> Roles);

/// <summary>
/// /sessions: accounts with an admin role log in with their own password and get a session token;
/// /sso/{ticket}: a single sign-on ticket from the integration API, once, gives a user session.
/// </summary>
public static class SessionEndpoints
{
    public static void MapSessions(this RouteGroupBuilder api)
    {
        var g = api.MapGroup("/sessions").WithTags("Sessions");
        g.MapPost("", Login).AllowAnonymous();
        g.MapGet("/current", Current).Reads(ScopeResource.CheckedByEndpoint).Serves(RestrictionEndpointExtensions.Any);
        g.MapDelete("/current", Logout).Reads(ScopeResource.CheckedByEndpoint).Serves(RestrictionEndpointExtensions.Any);
        api.MapGet("/sso/{ticket}", RedeemTicket).WithTags("Sessions").AllowAnonymous();
    }

    private static async Task<Results<Created<SessionCreated>, ProblemHttpResult>> Login(
        [FromBody] LoginRequest? req, HttpContext http, IGrainFactory grains)
    {
        if (req is null || string.IsNullOrEmpty(req.Password)) return ApiProblem.BadRequest("Body must be {\"address\", \"password\"}");
        if (MailAddress.Normalize(req.Address) is not { } address) return ApiProblem.BadRequest("Invalid address", req.Address);
        // The account's own check: failures count towards its lockout, as for IMAP and SMTP.
        var attempt = new LoginAttempt(req.Password, LoginChannel.AdminSession,
            http.Connection.RemoteIpAddress?.ToString() ?? "", ClientName: UserAgentOf(http), TotpCode: req.Totp);
        var auth = await grains.GetGrain<IAccountGrain>(address).Authenticate(attempt);
        if (LoginProblem(auth, http) is { } refused) return refused;
        var token = SessionTokens.NewSession();
        var access = grains.GetGrain<IAdminAccessGrain>(0);
        var started = await access.StartSession(address, SessionKind.Admin, SessionTokens.Hash(token));
        if (started is null) return ApiProblem.Of(StatusCodes.Status403Forbidden, "No admin role", $"{address} holds no admin role");
        var roles = await access.ListRoles(null, address);
        return TypedResults.Created($"{AdminApi.Prefix}/sessions/current",
            new SessionCreated(token, started.ExpiresAt, (int)started.IdleTimeout.TotalSeconds, address, "admin", roles.Select(RoleResponse.From).ToList()));
    }

    /// <summary>
    /// The refusal of an interactive login (admin or user session), or null to go on. App passwords
    /// are for mail clients; a missing or wrong second factor is a 401 that says a code is needed.
    /// </summary>
    public static ProblemHttpResult? LoginProblem(AuthResult auth, HttpContext http)
    {
        switch (auth.Outcome)
        {
            case AuthOutcome.Success when auth.AppPasswordName is not null:
                return ApiProblem.Of(StatusCodes.Status401Unauthorized, "Wrong address or password", "App passwords are for mail clients; log in with the account's password");
            case AuthOutcome.Success:
                return null;
            case AuthOutcome.TwoFactorRequired:
                return ApiProblem.Of(StatusCodes.Status401Unauthorized, "Two-factor code required",
                    auth.Reason ?? "Send the current code of your authenticator app (or a recovery code) as \"totp\"");
            case AuthOutcome.LockedOut:
                if (auth.LockedUntil is { } until)
                    http.Response.Headers.RetryAfter = Math.Max(1, (int)Math.Ceiling((until - DateTimeOffset.UtcNow).TotalSeconds)).ToString();
                return ApiProblem.Of(StatusCodes.Status429TooManyRequests, "Account locked", "Too many failed logins; try again later");
            case AuthOutcome.Disabled:
                return ApiProblem.Of(StatusCodes.Status403Forbidden, "Account disabled");
            case AuthOutcome.AddressNotAllowed:
                return ApiProblem.Of(StatusCodes.Status403Forbidden, "Login not allowed from this address", auth.Reason);
            default:
                return ApiProblem.Of(StatusCodes.Status401Unauthorized, "Wrong address or password");
        }
    }

    private static Ok<SessionResponse> Current(HttpContext http)
    {
        var caller = AdminCaller.Of(http)!;
        return TypedResults.Ok(caller.IsSuper
            ? new SessionResponse("super", null, null, [])
            : new SessionResponse(caller.Kind == SessionKind.User ? "user" : "admin", caller.Account, null, caller.Roles.Select(RoleResponse.From).ToList()));
    }

    private static async Task<Results<NoContent, ProblemHttpResult>> Logout(HttpContext http, IGrainFactory grains)
    {
        var presented = AdminTokenAuthenticationHandler.PresentedToken(http.Request.Headers.Authorization.ToString(), acceptBasic: false);
        if (presented is null || !SessionTokens.IsSession(presented))
            return ApiProblem.BadRequest("Not a session", "The bootstrap token is configuration, not a session: it does not log out");
        await grains.GetGrain<IAdminAccessGrain>(0).EndSession(SessionTokens.Hash(presented));
        return TypedResults.NoContent();
    }

    private static async Task<Results<Ok<SessionCreated>, ProblemHttpResult>> RedeemTicket(string ticket, HttpContext http, IGrainFactory grains)
    {
        // The answer is a credential: no cache may keep it.
        http.Response.Headers.CacheControl = "no-store";
        if (!ticket.StartsWith(SessionTokens.TicketPrefix, StringComparison.Ordinal)) return ApiProblem.NotFound("No such ticket");
        var token = SessionTokens.NewSession();
        var redeemed = await grains.GetGrain<IIntegrationGrain>(0).RedeemSsoTicket(SessionTokens.Hash(ticket), SessionTokens.Hash(token));
        if (redeemed is null) return ApiProblem.NotFound("No such ticket", "Unknown, used or expired; sign-on tickets work once, within minutes");
        return TypedResults.Ok(new SessionCreated(token, redeemed.Session.ExpiresAt, (int)redeemed.Session.IdleTimeout.TotalSeconds, redeemed.Account, "user", []));
    }

    private static string? UserAgentOf(HttpContext http) =>
        http.Request.Headers.UserAgent.ToString() is { Length: > 0 } agent ? agent[..Math.Min(agent.Length, 100)] : null;
}

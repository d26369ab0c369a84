using GrainMail.Contracts;
using GrainMail.Contracts.Accounts;
using GrainMail.Contracts.Admin;
using GrainMail.Gateways.Http.AccountSecurity;
using GrainMail.Gateways.Http.Audit;
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

/// <param name="Ticket">A single sign-on ticket (gmt_…) from the integration API.</param>
public sealed record SsoRedeemRequest(string? Ticket);

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
        // Audited like the other sign-ins, with the ticket kept out of the entry (SsoHandoff.Note).
        api.MapGet("/sso/{ticket}", OpenTicket).WithTags("Sessions").AllowAnonymous().WithMetadata(new AuditedRead());
        api.MapPost("/sso", RedeemPostedTicket).WithTags("Sessions").AllowAnonymous();
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

    /// <summary>
    /// The ticket URL itself. A browser (it asks for HTML, not JSON) is sent on to the webmail with the
    /// ticket in the URL fragment, unredeemed: the page redeems it by <see cref="RedeemPostedTicket"/>,
    /// so the session token never appears in a URL, and a link previewer that only fetches the URL
    /// does not spend the ticket. Any other client gets the session token as JSON, as before.
    /// </summary>
    private static async Task<Results<Ok<SessionCreated>, RedirectHttpResult, ProblemHttpResult>> OpenTicket(string ticket, HttpContext http, IGrainFactory grains)
    {
        http.Response.Headers.CacheControl = "no-store";
        if (SsoHandoff.IsBrowserNavigation(http.Request))
        {
            SsoHandoff.Note(http, "login.sso.handoff", null);
            http.Response.Headers["Referrer-Policy"] = "no-referrer";
            return TypedResults.Redirect(SsoHandoff.WebmailUrl(ticket));
        }
        return await Redeem(ticket, http, grains);
    }

    /// <summary>The webmail's redemption: the ticket in the body, so it is in no URL the server logs.</summary>
    private static async Task<Results<Ok<SessionCreated>, RedirectHttpResult, ProblemHttpResult>> RedeemPostedTicket([FromBody] SsoRedeemRequest? req, HttpContext http, IGrainFactory grains)
    {
        http.Response.Headers.CacheControl = "no-store";
        return await Redeem(req?.Ticket ?? "", http, grains);
    }

    private static async Task<Results<Ok<SessionCreated>, RedirectHttpResult, ProblemHttpResult>> Redeem(string ticket, HttpContext http, IGrainFactory grains)
    {
        // The answer is a credential: no cache may keep it (set by the callers).
        SsoHandoff.Note(http, "login.sso", null);
        if (!ticket.StartsWith(SessionTokens.TicketPrefix, StringComparison.Ordinal)) return ApiProblem.NotFound("No such ticket");
        var token = SessionTokens.NewSession();
        // The browser redeeming the ticket is the one signing in: its address meets the login IP rules
        // and goes into the login history (the integration that asked for the ticket may sit elsewhere).
        var browser = new SsoBrowser(http.Connection.RemoteIpAddress?.ToString() ?? "", UserAgentOf(http));
        var redemption = await grains.GetGrain<IIntegrationGrain>(0).RedeemSsoTicket(SessionTokens.Hash(ticket), SessionTokens.Hash(token), browser);
        if (redemption.Status == SsoRedeemStatus.NoSuchTicket)
            return ApiProblem.NotFound("No such ticket", "Unknown, used or expired; sign-on tickets work once, within minutes");
        if (redemption.Redeemed is not { } redeemed)
            return redemption.Outcome == AuthOutcome.AddressNotAllowed
                ? ApiProblem.Of(StatusCodes.Status403Forbidden, "Login not allowed from this address", redemption.Reason)
                : ApiProblem.Of(StatusCodes.Status403Forbidden, "Account disabled", "The account cannot sign in");
        // The enterprise's signed assertion is the whole login: no password and no second factor are asked
        // (the integration key is the credential); the entry says so.
        var note = SsoHandoff.Note(http, "login.sso", redeemed.Account);
        note.Detail["twoFactor"] = "not asked: the integration's signed assertion";
        if (UserAgentOf(http) is { } agent) note.Detail["client"] = agent;
        return TypedResults.Ok(new SessionCreated(token, redeemed.Session.ExpiresAt, (int)redeemed.Session.IdleTimeout.TotalSeconds, redeemed.Account, "user", []));
    }

    private static string? UserAgentOf(HttpContext http) =>
        http.Request.Headers.UserAgent.ToString() is { Length: > 0 } agent ? agent[..Math.Min(agent.Length, 100)] : null;
}

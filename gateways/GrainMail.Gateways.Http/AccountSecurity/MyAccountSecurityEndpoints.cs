using System.Security.Claims;
using GrainMail.Contracts;
using GrainMail.Contracts.Accounts;
using GrainMail.Contracts.Admin;
using GrainMail.Gateways.Http.Problems;
using GrainMail.Gateways.Http.Sessions;
using GrainMail.Gateways.Http.UserAuth;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Routing;

namespace GrainMail.Gateways.Http.AccountSecurity;

/// <summary>
/// The user's side: the interactive login (<c>POST /api/v1/me/sessions</c>, a user bearer token),
/// two-factor enrolment, password change, secondary address, and the anonymous reset endpoints.
/// Passwords travel only over HTTPS.
/// </summary>
public static class MyAccountSecurityEndpoints
{
    /// <summary>The issuer name authenticator apps show next to the account.</summary>
    public const string Issuer = "GrainMail";

    public static IEndpointRouteBuilder MapAccountSecurityForUsers(this IEndpointRouteBuilder app)
    {
        var open = app.MapGroup(AdminApi.Prefix).WithTags("Me").AllowAnonymous();
        open.MapPost("/me/sessions", Login);
        open.MapPost("/password-resets", RequestReset);
        open.MapPost("/password-resets/complete", CompleteReset);

        var me = app.MapGroup(AdminApi.Prefix + "/me").RequireAuthorization(AccountAuth.Policy).WithTags("Me");
        me.MapGet("/two-factor", Status).Serves(RestrictionEndpointExtensions.Any);
        me.MapPost("/two-factor", Begin).Serves(LoginRestriction.MustEnrolTwoFactor);
        me.MapPost("/two-factor/confirm", Confirm).Serves(LoginRestriction.MustEnrolTwoFactor);
        me.MapPost("/two-factor/disable", Disable);
        me.MapPost("/two-factor/recovery-codes", Regenerate);
        me.MapPut("/password", ChangePassword).Serves(LoginRestriction.MustChangePassword);
        me.MapPut("/secondary-address", SetSecondary);
        me.MapPost("/secondary-address/verify", VerifySecondary);
        me.MapDelete("/sessions/current", Logout).Serves(RestrictionEndpointExtensions.Any);
        return app;
    }

    private static SecurityActor UserActor(HttpContext http, string address) =>
        new(address, "user", http.Connection.RemoteIpAddress?.ToString() ?? "");

    private static ProblemHttpResult HttpsRequired() =>
        ApiProblem.Of(StatusCodes.Status403Forbidden, "HTTPS required", "Passwords are accepted only on the HTTPS listener");

    private static async Task<Results<Created<UserSessionCreated>, ProblemHttpResult>> Login(
        [FromBody] UserLoginRequest? req, HttpContext http, IGrainFactory grains)
    {
        if (!http.Request.IsHttps) return HttpsRequired();
        if (req is null || string.IsNullOrEmpty(req.Password)) return ApiProblem.BadRequest("Body must be {\"address\", \"password\", \"totp\"}");
        if (MailAddress.Normalize(req.Address) is not { } address) return ApiProblem.BadRequest("Invalid address", req.Address);
        var attempt = new LoginAttempt(req.Password, LoginChannel.UserSession, http.Connection.RemoteIpAddress?.ToString() ?? "",
            ClientName: http.Request.Headers.UserAgent.ToString() is { Length: > 0 } ua ? ua[..Math.Min(ua.Length, 100)] : null, TotpCode: req.Totp);
        var auth = await grains.GetGrain<IAccountGrain>(address).Authenticate(attempt);
        if (SessionEndpoints.LoginProblem(auth, http) is { } refused) return refused;
        var token = SessionTokens.NewSession();
        var started = await grains.GetGrain<IAdminAccessGrain>(0).StartSession(address, SessionKind.User, SessionTokens.Hash(token));
        if (started is null) return ApiProblem.Of(StatusCodes.Status403Forbidden, "Account disabled");
        http.Response.Headers.CacheControl = "no-store";
        return TypedResults.Created($"{AdminApi.Prefix}/me/sessions/current", new UserSessionCreated(token, started.ExpiresAt,
            (int)started.IdleTimeout.TotalSeconds, address, RestrictionNames.Of(auth.Restrictions)));
    }

    private static async Task<Results<NoContent, ProblemHttpResult>> Logout(HttpContext http, IGrainFactory grains)
    {
        var presented = Auth.AdminTokenAuthenticationHandler.PresentedToken(http.Request.Headers.Authorization.ToString(), acceptBasic: false);
        if (presented is null || !SessionTokens.IsSession(presented)) return ApiProblem.BadRequest("Not a session", "HTTP Basic has no session to end");
        await grains.GetGrain<IAdminAccessGrain>(0).EndSession(SessionTokens.Hash(presented));
        return TypedResults.NoContent();
    }

    private static async Task<Results<Ok<TwoFactorStatusResponse>, ProblemHttpResult>> Status(ClaimsPrincipal user, IGrainFactory grains) =>
        await grains.GetGrain<IAccountSecurityGrain>(user.Address()).GetTwoFactorStatus() is { } s
            ? TypedResults.Ok(TwoFactorStatusResponse.From(s))
            : ApiProblem.NoSuchAccount(user.Address());

    private static async Task<Results<Ok<TwoFactorEnrolmentResponse>, ProblemHttpResult>> Begin(ClaimsPrincipal user, HttpContext http, IGrainFactory grains)
    {
        http.Response.Headers.CacheControl = "no-store";
        var e = await grains.GetGrain<IAccountSecurityGrain>(user.Address()).BeginTwoFactor(Issuer);
        return e is null ? ApiProblem.NoSuchAccount(user.Address()) : TypedResults.Ok(new TwoFactorEnrolmentResponse(e.OtpAuthUri, e.Secret, e.RecoveryCodes));
    }

    private static async Task<Results<NoContent, ProblemHttpResult>> Confirm(
        [FromBody] TwoFactorCodeRequest? req, ClaimsPrincipal user, HttpContext http, IGrainFactory grains)
    {
        if (string.IsNullOrWhiteSpace(req?.Code)) return ApiProblem.BadRequest("Body must be {\"code\"}");
        var r = await grains.GetGrain<IAccountSecurityGrain>(user.Address()).ConfirmTwoFactor(req.Code, UserActor(http, user.Address()));
        return TwoFactorAnswer(r);
    }

    private static async Task<Results<NoContent, ProblemHttpResult>> Disable(
        [FromBody] TwoFactorCodeRequest? req, ClaimsPrincipal user, HttpContext http, IGrainFactory grains)
    {
        var r = await grains.GetGrain<IAccountSecurityGrain>(user.Address()).DisableTwoFactor(req?.Code, UserActor(http, user.Address()));
        return TwoFactorAnswer(r);
    }

    private static Results<NoContent, ProblemHttpResult> TwoFactorAnswer(TwoFactorOpResult r) =>
        r.Status == TwoFactorOpStatus.Ok ? TypedResults.NoContent() : TwoFactorProblem(r);

    private static ProblemHttpResult TwoFactorProblem(TwoFactorOpResult r) => r.Status switch
    {
        TwoFactorOpStatus.WrongCode => ApiProblem.BadRequest("Wrong code", r.Detail),
        TwoFactorOpStatus.NotEnrolling => ApiProblem.Conflict("No enrolment started", r.Detail),
        TwoFactorOpStatus.NotEnabled => ApiProblem.Conflict("Two-factor is off"),
        TwoFactorOpStatus.RequiredByPolicy => ApiProblem.Of(StatusCodes.Status403Forbidden, "Two-factor is required", r.Detail),
        _ => ApiProblem.NotFound("No such account"),
    };

    private static async Task<Results<Ok<RecoveryCodesResponse>, ProblemHttpResult>> Regenerate(
        [FromBody] TwoFactorCodeRequest? req, ClaimsPrincipal user, HttpContext http, IGrainFactory grains)
    {
        if (string.IsNullOrWhiteSpace(req?.Code)) return ApiProblem.BadRequest("Body must be {\"code\"}");
        http.Response.Headers.CacheControl = "no-store";
        var r = await grains.GetGrain<IAccountSecurityGrain>(user.Address()).RegenerateRecoveryCodes(req.Code, UserActor(http, user.Address()));
        return r.Status == TwoFactorOpStatus.Ok ? TypedResults.Ok(new RecoveryCodesResponse(r.Codes)) : TwoFactorProblem(new TwoFactorOpResult(r.Status));
    }

    private static async Task<Results<NoContent, ProblemHttpResult>> ChangePassword(
        [FromBody] ChangePasswordRequest? req, ClaimsPrincipal user, HttpContext http, IGrainFactory grains)
    {
        if (req is null || string.IsNullOrEmpty(req.NewPassword)) return ApiProblem.BadRequest("Body must be {\"currentPassword\", \"newPassword\"}");
        var r = await grains.GetGrain<IAccountSecurityGrain>(user.Address()).ChangePassword(
            new PasswordChange(req.NewPassword, PasswordChangeKind.User, UserActor(http, user.Address()), req.CurrentPassword));
        return r.Status switch
        {
            PasswordSetStatus.Ok => TypedResults.NoContent(),
            PasswordSetStatus.Rejected => AccountSecurityEndpoints.PasswordRejected(r.Violations),
            PasswordSetStatus.WrongCurrentPassword => ApiProblem.BadRequest("Wrong current password"),
            _ => ApiProblem.NoSuchAccount(user.Address()),
        };
    }

    private static async Task<Results<Accepted, ProblemHttpResult>> SetSecondary(
        [FromBody] SecondaryAddressRequest? req, ClaimsPrincipal user, HttpContext http, IGrainFactory grains)
    {
        if (string.IsNullOrWhiteSpace(req?.Address)) return ApiProblem.BadRequest("Body must be {\"address\"}");
        var r = await grains.GetGrain<IAccountSecurityGrain>(user.Address()).SetSecondaryAddress(req.Address, UserActor(http, user.Address()));
        return r.Status switch
        {
            SecondaryAddressStatus.Ok => TypedResults.Accepted((string?)null),
            SecondaryAddressStatus.Invalid => ApiProblem.BadRequest("Invalid address", r.Detail),
            _ => ApiProblem.NoSuchAccount(user.Address()),
        };
    }

    private static async Task<Results<NoContent, ProblemHttpResult>> VerifySecondary(
        [FromBody] TwoFactorCodeRequest? req, ClaimsPrincipal user, IGrainFactory grains)
    {
        if (string.IsNullOrWhiteSpace(req?.Code)) return ApiProblem.BadRequest("Body must be {\"code\"}");
        var r = await grains.GetGrain<IAccountSecurityGrain>(user.Address()).VerifySecondaryAddress(req.Code);
        return r.Status == SecondaryAddressStatus.Ok ? TypedResults.NoContent() : ApiProblem.BadRequest("Wrong code", r.Detail);
    }

    /// <summary>
    /// 202 whatever the account (unknown, no verified address): the answer tells nobody whether an
    /// address exists. 429 beyond the per-address rate.
    /// </summary>
    private static async Task<Results<Accepted, ProblemHttpResult>> RequestReset([FromBody] ResetRequest? req, HttpContext http, IGrainFactory grains)
    {
        if (req is null) return ApiProblem.BadJson();
        var ip = http.Connection.RemoteIpAddress?.ToString() ?? "";
        if (!await grains.GetGrain<IResetRateGrain>(ip).TryTake())
            return ApiProblem.Of(StatusCodes.Status429TooManyRequests, "Too many reset requests", "Try again in an hour");
        if (MailAddress.Normalize(req.Address) is { } address)
        {
            // The link opens this API's completion endpoint until webmail has a page for it.
            var linkBase = $"{http.Request.Scheme}://{http.Request.Host}{AdminApi.Prefix}/password-resets/complete";
            var outcome = await grains.GetGrain<IAccountSecurityGrain>(address).RequestPasswordReset(linkBase, ip);
            if (outcome == ResetRequestOutcome.RateLimited)
                return ApiProblem.Of(StatusCodes.Status429TooManyRequests, "Too many reset requests", "Try again in an hour");
        }
        return TypedResults.Accepted((string?)null);
    }

    private static async Task<Results<NoContent, ProblemHttpResult>> CompleteReset([FromBody] ResetCompleteRequest? req, HttpContext http, IGrainFactory grains)
    {
        if (!http.Request.IsHttps) return HttpsRequired();
        if (req is null || string.IsNullOrEmpty(req.Password)) return ApiProblem.BadRequest("Body must be {\"token\", \"password\"}");
        if (ResetTokens.AccountOf(req.Token) is not { } address) return InvalidToken();
        var r = await grains.GetGrain<IAccountSecurityGrain>(address).CompletePasswordReset(req.Token!, req.Password,
            http.Connection.RemoteIpAddress?.ToString() ?? "");
        return r.Status switch
        {
            PasswordSetStatus.Ok => TypedResults.NoContent(),
            PasswordSetStatus.Rejected => AccountSecurityEndpoints.PasswordRejected(r.Violations),
            _ => InvalidToken(),
        };
    }

    private static ProblemHttpResult InvalidToken() =>
        ApiProblem.Of(StatusCodes.Status410Gone, "Reset link not valid", "Unknown, already used or expired: reset links work once, for 30 minutes");
}

using GrainMail.Contracts.Accounts;
using GrainMail.Gateways.Http.Scopes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace GrainMail.Gateways.Http.AccountSecurity;

/// <summary>Endpoint metadata: this endpoint is how a session meets <see cref="Serves"/> (or just ends or describes it).</summary>
public sealed record ServesRestriction(LoginRestriction Serves);

public static class RestrictionEndpointExtensions
{
    /// <summary>The endpoint stays open to a session that must first do one of <paramref name="serves"/>.</summary>
    public static TBuilder Serves<TBuilder>(this TBuilder builder, LoginRestriction serves) where TBuilder : IEndpointConventionBuilder =>
        builder.WithMetadata(new ServesRestriction(serves));

    public const LoginRestriction Any = LoginRestriction.MustEnrolTwoFactor | LoginRestriction.MustChangePassword;
}

/// <summary>
/// Interactive sessions (admin and user session tokens) of an account that must enrol in
/// two-factor or change its password reach only the endpoints that do that (and log out): every
/// other call is a 403 that says what to do. Read at every request from the account grain (with the
/// session check itself: <see cref="IAccountSecurityGrain.CheckSession"/>), so
/// the restriction lifts the moment the user has done it. HTTP Basic and the mail protocols are
/// not interactive logins and are not restricted (mail clients keep working).
/// </summary>
public sealed class LoginRestrictionMiddleware(RequestDelegate next)
{
    public async Task InvokeAsync(HttpContext http, IGrainFactory grains, IProblemDetailsService problems)
    {
        if (AdminCaller.Of(http) is { IsSuper: false, Account: { } account, Kind: not null } caller && http.GetEndpoint() is { } endpoint)
        {
            // Read by this request's session check already (the same turn of the account grain), or now.
            var restrictions = caller.Restrictions ?? await grains.GetGrain<IAccountSecurityGrain>(account).GetRestrictions();
            var served = endpoint.Metadata.GetMetadata<ServesRestriction>()?.Serves ?? LoginRestriction.None;
            if (restrictions != LoginRestriction.None && (restrictions & served) == LoginRestriction.None)
            {
                var (title, detail) = restrictions.HasFlag(LoginRestriction.MustEnrolTwoFactor)
                    ? ("Two-factor enrolment required",
                        "Your organisation requires two-factor authentication: enrol first (POST /api/v1/me/two-factor, then POST /api/v1/me/two-factor/confirm with a code)")
                    : ("Password change required", "Your password must be changed before anything else: PUT /api/v1/me/password");
                http.Response.StatusCode = StatusCodes.Status403Forbidden;
                await problems.WriteAsync(new ProblemDetailsContext
                {
                    HttpContext = http,
                    ProblemDetails =
                    {
                        Status = StatusCodes.Status403Forbidden, Title = title, Detail = detail,
                        Extensions = { ["restrictions"] = RestrictionNames.Of(restrictions) },
                    },
                });
                return;
            }
        }
        await next(http);
    }
}

using System.Net.Http.Headers;
using System.Security.Claims;
using System.Text;
using System.Text.Encodings.Web;
using GrainMail.Contracts.Admin;
using GrainMail.Gateways.Http.Scopes;
using GrainMail.Gateways.Http.Sessions;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace GrainMail.Gateways.Http.Auth;

/// <summary>How one registration of <see cref="AdminTokenAuthenticationHandler"/> behaves.</summary>
public sealed class AdminTokenOptions : AuthenticationSchemeOptions
{
    /// <summary>
    /// Also take the token as the password of HTTP basic authentication (RFC 7617), with any user
    /// name: what a browser can send for the dashboard without a plug-in.
    /// </summary>
    public bool AcceptBasic { get; set; }

    /// <summary>
    /// A token that was presented but is wrong answers 403 (the API: the caller has credentials,
    /// they are not these). Off for the dashboard: there a wrong password must be 401 so that the
    /// browser asks again.
    /// </summary>
    public bool WrongTokenIsForbidden { get; set; }

    /// <summary>
    /// Also take session tokens (<c>gms_…</c>, from POST /api/v1/sessions or single sign-on): the
    /// account's roles then decide what it may do. Off for the dashboard, which is the operators'.
    /// </summary>
    public bool AcceptSessions { get; set; }
}

/// <summary>
/// The one check of the admin token for everything behind it: the JSON API (bearer, RFC 6750)
/// and the Orleans dashboard (bearer, or basic with the token as password). For the API it also
/// takes session tokens, checked on a silo at every request (so that a removed role or a
/// disabled account stops at once). Challenges answer with an RFC 9457 problem document.
/// </summary>
public sealed class AdminTokenAuthenticationHandler(
    IOptionsMonitor<AdminTokenOptions> options, ILoggerFactory logger, UrlEncoder encoder, AdminToken token, IProblemDetailsService problems,
    IGrainFactory grains)
    : AuthenticationHandler<AdminTokenOptions>(options, logger, encoder)
{
    private const string PresentedKey = "grainmail.admin-token-presented";
    private const string DeadSessionKey = "grainmail.session-dead";

    protected override async Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        var presented = PresentedToken(Request.Headers.Authorization.ToString(), Options.AcceptBasic);
        if (presented is null) return AuthenticateResult.NoResult();
        Context.Items[PresentedKey] = true;
        if (Options.AcceptSessions && SessionTokens.IsSession(presented))
        {
            var session = await grains.GetGrain<IAdminAccessGrain>(0).ValidateSession(SessionTokens.Hash(presented));
            if (session is null)
            {
                Context.Items[DeadSessionKey] = true;
                return AuthenticateResult.Fail("unknown or expired session");
            }
            AdminCaller.FromSession(session).AttachTo(Context);
            var role = session.Kind == SessionKind.Admin ? AdminAuth.DelegatedRole : AdminAuth.UserRole;
            var who = new ClaimsIdentity([new Claim(ClaimTypes.Name, session.Account), new Claim(ClaimTypes.Role, role)], Scheme.Name);
            return AuthenticateResult.Success(new AuthenticationTicket(new ClaimsPrincipal(who), Scheme.Name));
        }
        if (!token.Matches(presented)) return AuthenticateResult.Fail("wrong admin token");
        AdminCaller.Super.AttachTo(Context);
        var identity = new ClaimsIdentity([new Claim(ClaimTypes.Name, "admin"), new Claim(ClaimTypes.Role, AdminAuth.AdminRole)], Scheme.Name);
        return AuthenticateResult.Success(new AuthenticationTicket(new ClaimsPrincipal(identity), Scheme.Name));
    }

    protected override async Task HandleChallengeAsync(AuthenticationProperties properties)
    {
        if (Context.Items.ContainsKey(DeadSessionKey))
        {
            // Not a wrong credential but a finished one: log in again.
            Response.Headers.Append("WWW-Authenticate", "Bearer realm=\"grainmail-admin\", error=\"invalid_token\"");
            await WriteProblem(StatusCodes.Status401Unauthorized, "Session ended",
                "The session token is unknown, expired or no longer backed by a role; log in again (POST /api/v1/sessions)");
            return;
        }
        if (Options.WrongTokenIsForbidden && Context.Items.ContainsKey(PresentedKey))
        {
            await WriteProblem(StatusCodes.Status403Forbidden, "Wrong token");
            return;
        }
        // Basic first, so that a browser asks for the token itself.
        if (Options.AcceptBasic) Response.Headers.Append("WWW-Authenticate", "Basic realm=\"GrainMail dashboard\", charset=\"UTF-8\"");
        Response.Headers.Append("WWW-Authenticate", "Bearer realm=\"grainmail-admin\"");
        await WriteProblem(StatusCodes.Status401Unauthorized, "Missing bearer token");
    }

    protected override Task HandleForbiddenAsync(AuthenticationProperties properties) =>
        WriteProblem(StatusCodes.Status403Forbidden, "Forbidden");

    private async Task WriteProblem(int status, string title, string? detail = null)
    {
        Response.StatusCode = status;
        await problems.WriteAsync(new ProblemDetailsContext
        {
            HttpContext = Context,
            ProblemDetails = { Status = status, Title = title, Detail = detail },
        });
    }

    /// <summary>The token in an Authorization header value, or null when none was presented.</summary>
    public static string? PresentedToken(string header, bool acceptBasic)
    {
        if (!AuthenticationHeaderValue.TryParse(header, out var value) || value.Parameter is null) return null;
        if (value.Scheme.Equals("Bearer", StringComparison.OrdinalIgnoreCase)) return value.Parameter.Trim();
        if (!acceptBasic || !value.Scheme.Equals("Basic", StringComparison.OrdinalIgnoreCase)) return null;
        string decoded;
        try
        {
            decoded = Encoding.UTF8.GetString(Convert.FromBase64String(value.Parameter.Trim()));
        }
        catch (FormatException)
        {
            return null;
        }
        // RFC 7617 2: user-id ":" password; the user name is not checked.
        var colon = decoded.IndexOf(':');
        return colon >= 0 ? decoded[(colon + 1)..] : null;
    }
}

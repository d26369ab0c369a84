using System.Net.Http.Headers;
using System.Security.Claims;
using System.Text;
using System.Text.Encodings.Web;
using GrainMail.Contracts;
using GrainMail.Contracts.Accounts;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace GrainMail.Gateways.Http.UserAuth;

/// <summary>Scheme and policy of a mail user (not an administrator) on the HTTP gateway.</summary>
public static class AccountAuth
{
    public const string Scheme = "AccountBasic";
    public const string Policy = "Account";
    public const string AddressClaim = "grainmail:address";

    /// <summary>The account whose credentials were checked (differs from <see cref="AddressClaim"/> on a delegated login).</summary>
    public const string AuthenticatedClaim = "grainmail:authenticated";

    /// <summary>The app password's name when Basic used one (push connections register it, so revoking it closes them).</summary>
    public const string AppPasswordClaim = "grainmail:app-password";

    /// <summary>Request header naming the mailbox a delegate acts for (the authzid of HTTP Basic).</summary>
    public const string ActForHeader = "GrainMail-Act-For";

    /// <summary>The authenticated account's normalised address.</summary>
    public static string Address(this ClaimsPrincipal user) =>
        user.FindFirstValue(AddressClaim) ?? throw new InvalidOperationException("not an account principal");

    public static IServiceCollection AddAccountAuth(this IServiceCollection services)
    {
        services.AddAuthentication().AddScheme<AuthenticationSchemeOptions, AccountBasicAuthenticationHandler>(Scheme, null);
        services.AddAuthorizationBuilder().AddPolicy(Policy, p => p.AddAuthenticationSchemes(Scheme).RequireClaim(AddressClaim));
        services.Configure<Microsoft.AspNetCore.OpenApi.OpenApiOptions>("v1", o => o.AddDocumentTransformer<AccountOpenApi>());
        return services;
    }
}

/// <summary>
/// HTTP Basic authentication (RFC 7617) of a mail account: its address and its password or an
/// app password, checked by <see cref="IAccountGrain.Authenticate"/> so that failures count
/// towards the lockout as at IMAP and SMTP. Only over TLS: on a plain-HTTP listener the handler
/// looks at no credentials and answers 403 without a Basic challenge, so a client is never
/// invited to send a password in clear (the HTTPS listener is the place for users).
/// </summary>
public sealed class AccountBasicAuthenticationHandler(
    IOptionsMonitor<AuthenticationSchemeOptions> options, ILoggerFactory logger, UrlEncoder encoder,
    IGrainFactory grains, IProblemDetailsService problems)
    : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
{
    private const string OutcomeKey = "grainmail.account-auth-outcome";

    protected override async Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        if (await SessionAsync() is { } session) return session;
        if (!Request.IsHttps) return AuthenticateResult.NoResult();
        if (Credentials(Request.Headers.Authorization.ToString()) is not var (user, secret)) return AuthenticateResult.NoResult();
        var address = MailAddress.Normalize(user);
        if (address is null)
        {
            Context.Items[OutcomeKey] = AuthOutcome.BadCredentials;
            return AuthenticateResult.Fail("not an address");
        }
        // Every request: Basic clients send credentials each time. The account grain keeps recent
        // successes hashed in memory (cleared on a password change or disable), so this costs a
        // grain call, not a password hash; each failure counts towards its lockout.
        // Delegation (issue 17): HTTP Basic has no authorization identity, so a delegate names the
        // mailbox he acts for in this header, as a SASL client would in its authzid (RFC 4616).
        string? actFor = null;
        if (Request.Headers[AccountAuth.ActForHeader].ToString() is { Length: > 0 } named)
        {
            actFor = MailAddress.Normalize(named);
            if (actFor is null)
            {
                Context.Items[OutcomeKey] = AuthOutcome.NotDelegated;
                return AuthenticateResult.Fail("act-for is not an address");
            }
        }
        var attempt = new LoginAttempt(secret, LoginChannel.HttpBasic, Context.Connection.RemoteIpAddress?.ToString() ?? "",
            ClientName: Request.Headers.UserAgent.ToString() is { Length: > 0 } agent ? agent[..Math.Min(agent.Length, 100)] : null,
            AuthorizationIdentity: actFor);
        var result = await grains.GetGrain<IAccountGrain>(address).Authenticate(attempt);
        if (result.Outcome != AuthOutcome.Success)
        {
            Context.Items[OutcomeKey] = result.Outcome;
            return AuthenticateResult.Fail(result.Outcome.ToString());
        }
        var mailbox = result.MailboxOf(address);
        var identity = new ClaimsIdentity([new Claim(ClaimTypes.Name, mailbox), new Claim(AccountAuth.AddressClaim, mailbox),
            new Claim(AccountAuth.AuthenticatedClaim, address)], Scheme.Name);
        if (result.AppPasswordName is { } appPassword) identity.AddClaim(new Claim(AccountAuth.AppPasswordClaim, appPassword));
        return AuthenticateResult.Success(new AuthenticationTicket(new ClaimsPrincipal(identity), Scheme.Name));
    }

    /// <summary>
    /// A session token (<c>gms_…</c>) from an interactive login — <c>POST /api/v1/me/sessions</c>, single
    /// sign-on, or an admin's own session — acts as its account; it carries no password, so it is taken
    /// on either listener. Null when the request carries no session token.
    /// </summary>
    private async Task<AuthenticateResult?> SessionAsync()
    {
        var presented = GrainMail.Gateways.Http.Auth.AdminTokenAuthenticationHandler.PresentedToken(Request.Headers.Authorization.ToString(), acceptBasic: false);
        if (presented is null || !GrainMail.Gateways.Http.Sessions.SessionTokens.IsSession(presented)) return null;
        // The admin-token handler (the default scheme) may have checked it for this request already.
        var caller = GrainMail.Gateways.Http.Scopes.AdminCaller.Of(Context);
        if (caller is not { IsSuper: false, Account: not null })
        {
            var principal = await grains.GetGrain<GrainMail.Contracts.Admin.IAdminAccessGrain>(0)
                .ValidateSession(GrainMail.Gateways.Http.Sessions.SessionTokens.Hash(presented));
            if (principal is null) return AuthenticateResult.Fail("unknown or expired session");
            caller = GrainMail.Gateways.Http.Scopes.AdminCaller.FromSession(principal);
            caller.AttachTo(Context);
        }
        var identity = new ClaimsIdentity([new Claim(ClaimTypes.Name, caller.Account!), new Claim(AccountAuth.AddressClaim, caller.Account!)], Scheme.Name);
        return AuthenticateResult.Success(new AuthenticationTicket(new ClaimsPrincipal(identity), Scheme.Name));
    }

    protected override Task HandleChallengeAsync(AuthenticationProperties properties)
    {
        if (Request.Headers.Authorization.ToString().StartsWith("Bearer", StringComparison.OrdinalIgnoreCase))
        {
            Response.Headers.Append("WWW-Authenticate", "Bearer realm=\"GrainMail\", error=\"invalid_token\"");
            return WriteProblem(StatusCodes.Status401Unauthorized, "Session ended", "The session token is unknown or expired; log in again (POST /api/v1/me/sessions)");
        }
        if (!Request.IsHttps)
            return WriteProblem(StatusCodes.Status403Forbidden, "HTTPS required", "Account credentials are accepted only on the HTTPS listener");
        Response.Headers.Append("WWW-Authenticate", "Basic realm=\"GrainMail\", charset=\"UTF-8\"");
        var detail = Context.Items.TryGetValue(OutcomeKey, out var o) && o is AuthOutcome outcome
            ? outcome switch
            {
                AuthOutcome.LockedOut => "Too many failed attempts: the account is locked for a while",
                AuthOutcome.Disabled => "The account is disabled",
                AuthOutcome.AppPasswordRequired => "Two-factor authentication is on: use an app password",
                AuthOutcome.NotDelegated => "That mailbox has not been delegated to this account",
                _ => "Wrong address or password",
            }
            : "Send the account's address and password (or an app password) with HTTP Basic";
        return WriteProblem(StatusCodes.Status401Unauthorized, "Authentication required", detail);
    }

    protected override Task HandleForbiddenAsync(AuthenticationProperties properties) =>
        WriteProblem(StatusCodes.Status403Forbidden, "Forbidden", null);

    private async Task WriteProblem(int status, string title, string? detail)
    {
        Response.StatusCode = status;
        await problems.WriteAsync(new ProblemDetailsContext
        {
            HttpContext = Context,
            ProblemDetails = { Status = status, Title = title, Detail = detail },
        });
    }

    /// <summary>User and password of a Basic Authorization header (RFC 7617 2), or null.</summary>
    public static (string User, string Secret)? Credentials(string header)
    {
        if (!AuthenticationHeaderValue.TryParse(header, out var value) || value.Parameter is null) return null;
        if (!value.Scheme.Equals("Basic", StringComparison.OrdinalIgnoreCase)) return null;
        string decoded;
        try
        {
            decoded = Encoding.UTF8.GetString(Convert.FromBase64String(value.Parameter.Trim()));
        }
        catch (FormatException)
        {
            return null;
        }
        var colon = decoded.IndexOf(':');
        return colon > 0 ? (decoded[..colon], decoded[(colon + 1)..]) : null;
    }
}

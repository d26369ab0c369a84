using GrainMail.Gateways.Http.Scopes;
using Microsoft.AspNetCore.Authorization;
using Microsoft.Extensions.DependencyInjection;

namespace GrainMail.Gateways.Http.Auth;

/// <summary>Scheme and policy names, and their registration.</summary>
public static class AdminAuth
{
    /// <summary>Bearer token; a wrong token is 403.</summary>
    public const string ApiScheme = "AdminToken";

    /// <summary>Bearer token or basic with the token as password; a wrong token is 401 (the browser asks again).</summary>
    public const string DashboardScheme = "AdminTokenDashboard";

    /// <summary>Picks one of the two by path: the default scheme, and the fallback policy's.</summary>
    public const string SelectorScheme = "AdminTokenByPath";

    /// <summary>Where the host maps the Orleans dashboard.</summary>
    public const string DashboardPath = "/dashboard";

    public const string ApiPolicy = "AdminApi";
    public const string DashboardPolicy = "AdminDashboard";
    public const string AdminRole = "grainmail-admin";

    /// <summary>An account logged in with POST /sessions: its admin roles decide (Scopes/).</summary>
    public const string DelegatedRole = "grainmail-delegated";

    /// <summary>An account signed on through an integration: its own user-level API only.</summary>
    public const string UserRole = "grainmail-user";

    public static IServiceCollection AddAdminAuth(this IServiceCollection services)
    {
        services.AddAuthentication(SelectorScheme)
            .AddPolicyScheme(SelectorScheme, "admin token", o => o.ForwardDefaultSelector = ctx =>
                ctx.Request.Path.StartsWithSegments(DashboardPath) ? DashboardScheme : ApiScheme)
            .AddScheme<AdminTokenOptions, AdminTokenAuthenticationHandler>(ApiScheme, o =>
            {
                o.WrongTokenIsForbidden = true;
                o.AcceptSessions = true;
            })
            .AddScheme<AdminTokenOptions, AdminTokenAuthenticationHandler>(DashboardScheme, o => o.AcceptBasic = true);
        services.AddAuthorizationBuilder()
            // Who may do what is the scope check's (Scopes/AdminScopeHandler): the super admin
            // everything, a session what its roles cover, an undeclared endpoint nobody else.
            .AddPolicy(ApiPolicy, p => p.AddAuthenticationSchemes(ApiScheme).RequireAuthenticatedUser().AddRequirements(new AdminScopeRequirement()))
            .AddPolicy(DashboardPolicy, p => p.AddAuthenticationSchemes(DashboardScheme).RequireRole(AdminRole))
            // A route that says nothing, or no route at all, is closed: a new endpoint cannot be
            // open by accident. Open ones say so (AllowAnonymous: health, metrics, MTA-STS, OpenAPI).
            .SetFallbackPolicy(new AuthorizationPolicyBuilder(SelectorScheme).RequireRole(AdminRole).Build());
        services.AddSingleton<AdminScopes>();
        services.AddSingleton<IAuthorizationHandler, AdminScopeHandler>();
        services.AddSingleton<Microsoft.AspNetCore.Authorization.IAuthorizationMiddlewareResultHandler, AdminScopeResultHandler>();
        return services;
    }
}

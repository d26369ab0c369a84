using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Authorization.Policy;
using Microsoft.AspNetCore.Http;

namespace GrainMail.Gateways.Http.Scopes;

/// <summary>The admin API policy's requirement: the caller's scope covers the endpoint's declared target.</summary>
public sealed class AdminScopeRequirement : IAuthorizationRequirement;

/// <summary>
/// Checks every /api/v1 endpoint against its <see cref="ScopeDeclaration"/> (none: super admin
/// only), before the body is read. Runs in the authorization middleware, where the route values
/// are known.
/// </summary>
public sealed class AdminScopeHandler(AdminScopes scopes) : AuthorizationHandler<AdminScopeRequirement>
{
    protected override async Task HandleRequirementAsync(AuthorizationHandlerContext context, AdminScopeRequirement requirement)
    {
        if (context.Resource is not HttpContext http || AdminCaller.Of(http) is not { } caller) return;
        var declaration = http.GetEndpoint()?.Metadata.GetMetadata<ScopeDeclaration>() ?? ScopeDeclaration.Undeclared;
        var denial = await scopes.DenialAsync(caller, declaration, http);
        if (denial is null) context.Succeed(requirement);
        else context.Fail(new AuthorizationFailureReason(this, denial));
    }
}

/// <summary>A scope refusal is a 403 problem document that says why; everything else as ASP.NET Core does it.</summary>
public sealed class AdminScopeResultHandler(IProblemDetailsService problems) : IAuthorizationMiddlewareResultHandler
{
    private readonly AuthorizationMiddlewareResultHandler _default = new();

    public async Task HandleAsync(RequestDelegate next, HttpContext context, AuthorizationPolicy policy, PolicyAuthorizationResult authorizeResult)
    {
        var reason = authorizeResult.AuthorizationFailure?.FailureReasons.FirstOrDefault(r => r.Handler is AdminScopeHandler);
        if (authorizeResult.Forbidden && reason is not null)
        {
            GrainMail.Gateways.Http.Audit.AuditNote.Of(context).Detail["reason"] = reason.Message;
            context.Response.StatusCode = StatusCodes.Status403Forbidden;
            await problems.WriteAsync(new ProblemDetailsContext
            {
                HttpContext = context,
                ProblemDetails = { Status = StatusCodes.Status403Forbidden, Title = "Outside your scope", Detail = reason.Message },
            });
            return;
        }
        await _default.HandleAsync(next, context, policy, authorizeResult);
    }
}

using GrainMail.Contracts.Accounts;
using GrainMail.Contracts.Admin;
using GrainMail.Contracts.Domains;
using GrainMail.Gateways.Http.Problems;
using GrainMail.Gateways.Http.Scopes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Routing;

namespace GrainMail.Gateways.Http.AccountSecurity;

/// <summary>
/// The administrators' side of account security: the domain's policy (two-factor required,
/// password rules, authentication only over TLS), department overrides of two-factor, the list of
/// weak passwords in scope, and turning an account's two-factor off.
/// </summary>
public static class AccountSecurityEndpoints
{
    public static void MapAccountSecurity(this RouteGroupBuilder api)
    {
        var d = api.MapGroup("/domains/{domain}").WithTags("Account security");
        d.MapGet("/security-policy", GetPolicy).Reads(ScopeResource.DomainOverview);
        d.MapPatch("/security-policy", PatchPolicy).Writes(ScopeResource.Domain);
        d.MapPut("/departments/{departmentId}/security-policy", SetDepartment).Writes(ScopeResource.Domain);
        d.MapGet("/weak-passwords", ListWeak).Reads(ScopeResource.DomainOverview);
        var a = api.MapGroup("/accounts/{address}/two-factor").WithTags("Account security");
        a.MapGet("", Status).Reads(ScopeResource.Account, allowSelf: true);
        a.MapDelete("", Disable).Writes(ScopeResource.Account);
    }

    /// <summary>Who acts, as the audit log names them: the super admin or the session's account in its role.</summary>
    public static SecurityActor AdminActor(HttpContext http)
    {
        var ip = http.Connection.RemoteIpAddress?.ToString() ?? "";
        var caller = AdminCaller.Of(http);
        if (caller is null || caller.IsSuper) return new SecurityActor("super", "super", ip);
        var role = caller.Kind == SessionKind.User ? "user" : caller.Roles.Count > 0 ? AdminRoleNames.Of(caller.Roles[0].Role) : "admin";
        return new SecurityActor(caller.Account ?? "", role, ip);
    }

    private static async Task<Results<Ok<SecurityPolicyBody>, ProblemHttpResult>> GetPolicy(string domain, IGrainFactory grains)
    {
        if (!RouteNames.TryDomain(domain, out var name, out var problem)) return problem;
        if (await grains.GetGrain<IDomainGrain>(name).GetInfo() is null) return ApiProblem.NoSuchDomain(name);
        return TypedResults.Ok(SecurityPolicyBody.From(await grains.GetGrain<ISecurityPolicyGrain>(0).GetPolicy(name)));
    }

    private static async Task<Results<Ok<SecurityPolicyBody>, ProblemHttpResult>> PatchPolicy(
        string domain, [FromBody] SecurityPolicyBody? req, HttpContext http, IGrainFactory grains)
    {
        if (req is null) return ApiProblem.BadJson();
        if (!RouteNames.TryDomain(domain, out var name, out var problem)) return problem;
        if (await grains.GetGrain<IDomainGrain>(name).GetInfo() is null) return ApiProblem.NoSuchDomain(name);
        var policies = grains.GetGrain<ISecurityPolicyGrain>(0);
        var next = req.ApplyTo(await policies.GetPolicy(name));
        if (next.Problem() is { } invalid) return ApiProblem.BadRequest("Invalid security policy", invalid);
        await policies.SetPolicy(name, next, AdminActor(http));
        return TypedResults.Ok(SecurityPolicyBody.From(next));
    }

    private static async Task<Results<NoContent, ProblemHttpResult>> SetDepartment(
        string domain, long departmentId, [FromBody] DepartmentSecurityRequest? req, HttpContext http, IGrainFactory grains)
    {
        if (req is null) return ApiProblem.BadJson();
        if (!RouteNames.TryDomain(domain, out var name, out var problem)) return problem;
        return await grains.GetGrain<ISecurityPolicyGrain>(0).SetDepartmentTwoFactor(name, departmentId, req.TwoFactorRequired, AdminActor(http))
            ? TypedResults.NoContent()
            : ApiProblem.NotFound("No such department", $"{departmentId} is not a department of {name}");
    }

    /// <summary>Weak passwords of the accounts the caller administers: a department role sees its subtree.</summary>
    private static async Task<Results<Ok<List<WeakPasswordResponse>>, ProblemHttpResult>> ListWeak(string domain, HttpContext http, IGrainFactory grains)
    {
        if (!RouteNames.TryDomain(domain, out var name, out var problem)) return problem;
        if (await grains.GetGrain<IDomainGrain>(name).GetInfo() is null) return ApiProblem.NoSuchDomain(name);
        var caller = AdminCaller.Of(http)!;
        var all = await grains.GetGrain<ISecurityPolicyGrain>(0).ListWeak(name);
        var visible = all.Where(e => caller.IsSuper || caller.Roles.Any(r => ScopeRules.Covers(r, ScopeResource.Account, ScopeAccess.Read,
            new ScopeTarget(name, e.Address, e.DepartmentPath))));
        return TypedResults.Ok(visible.Select(WeakPasswordResponse.From).ToList());
    }

    private static async Task<Results<Ok<TwoFactorStatusResponse>, ProblemHttpResult>> Status(string address, IGrainFactory grains)
    {
        if (!RouteNames.TryAddress(address, out var a, out var problem)) return problem;
        return await grains.GetGrain<IAccountSecurityGrain>(a).GetTwoFactorStatus() is { } s
            ? TypedResults.Ok(TwoFactorStatusResponse.From(s))
            : ApiProblem.NoSuchAccount(a);
    }

    /// <summary>An administrator turns an account's two-factor off (a lost phone and no recovery code left).</summary>
    private static async Task<Results<NoContent, ProblemHttpResult>> Disable(string address, HttpContext http, IGrainFactory grains)
    {
        if (!RouteNames.TryAddress(address, out var a, out var problem)) return problem;
        var r = await grains.GetGrain<IAccountSecurityGrain>(a).DisableTwoFactor(null, AdminActor(http));
        return r.Status switch
        {
            TwoFactorOpStatus.Ok => TypedResults.NoContent(),
            TwoFactorOpStatus.NotEnabled => ApiProblem.Conflict("Two-factor is off", a),
            _ => ApiProblem.NoSuchAccount(a),
        };
    }

    /// <summary>400 with the broken rules as <c>violations</c>.</summary>
    public static ProblemHttpResult PasswordRejected(IReadOnlyList<string> violations) =>
        TypedResults.Problem(statusCode: StatusCodes.Status400BadRequest, title: PasswordProblems.Title, detail: string.Join("; ", violations),
            extensions: new Dictionary<string, object?> { ["violations"] = violations });
}

using GrainMail.Contracts;
using GrainMail.Contracts.Admin;
using GrainMail.Gateways.Http.Problems;
using GrainMail.Gateways.Http.Scopes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Routing;

namespace GrainMail.Gateways.Http.Roles;

/// <param name="Role"><c>domain-admin</c>, <c>department-admin</c> or <c>auditor</c>.</param>
/// <param name="DepartmentId">The subtree of a department admin (required) or of an auditor (optional: the whole domain without it).</param>
public sealed record RoleRequest(string? Account, string? Role, string? Domain, long? DepartmentId);

public sealed record RoleResponse(long Id, string Account, string Role, string Domain, long? DepartmentId, string GrantedBy, DateTimeOffset CreatedAt)
{
    public static RoleResponse From(AdminRoleGrant g) =>
        new(g.Id, g.Account, AdminRoleNames.Of(g.Role), g.Domain, g.DepartmentId, g.GrantedBy, g.CreatedAt);
}

/// <summary>
/// /roles: delegated administration. The super admin grants anything; a domain admin grants and
/// revokes department admins and auditors of its own domain, to accounts of that domain.
/// </summary>
public static class RoleEndpoints
{
    public static void MapRoles(this RouteGroupBuilder api)
    {
        var g = api.MapGroup("/roles").WithTags("Roles");
        g.MapPost("", Grant).Writes(ScopeResource.CheckedByEndpoint);
        g.MapGet("", List).Reads(ScopeResource.CheckedByEndpoint);
        g.MapGet("/{id:long}", Get).Reads(ScopeResource.CheckedByEndpoint);
        g.MapDelete("/{id:long}", Revoke).Writes(ScopeResource.CheckedByEndpoint);
    }

    private static async Task<Results<Created<RoleResponse>, ProblemHttpResult>> Grant([FromBody] RoleRequest? req, HttpContext http, IGrainFactory grains)
    {
        if (req is null) return ApiProblem.BadJson();
        if (MailAddress.Normalize(req.Account) is not { } account) return ApiProblem.BadRequest("Invalid account address", req.Account);
        if (!AdminRoleNames.TryParse(req.Role, out var role))
            return ApiProblem.BadRequest("Invalid role", $"'{req.Role}': one of {AdminRoleNames.DomainAdmin}, {AdminRoleNames.DepartmentAdmin}, {AdminRoleNames.Auditor}");
        if (!RouteNames.TryDomain(req.Domain, out var domain, out var problem)) return problem;
        if (role == AdminRoleKind.DomainAdmin && req.DepartmentId is not null)
            return ApiProblem.BadRequest("A domain admin has no department", "Leave departmentId out, or grant department-admin");
        if (role == AdminRoleKind.DepartmentAdmin && req.DepartmentId is null)
            return ApiProblem.BadRequest("A department admin needs a department", "Give departmentId");

        var caller = AdminCaller.Of(http)!;
        if (ScopeRules.GrantDenial(caller, role, domain) is { } denial) return Forbidden(denial);
        // A domain admin hands power only to its own people.
        if (!caller.IsSuper && MailAddress.DomainOf(account) != domain)
            return Forbidden($"A domain admin grants roles in {domain} to accounts of {domain} only");

        var result = await grains.GetGrain<IAdminAccessGrain>(0).Grant(new NewRoleGrant(account, role, domain, req.DepartmentId, caller.IsSuper ? "super admin" : caller.Account!));
        return result.Status switch
        {
            RoleGrantStatus.Granted => TypedResults.Created($"{AdminApi.Prefix}/roles/{result.Grant!.Id}", RoleResponse.From(result.Grant)),
            RoleGrantStatus.NoSuchAccount => ApiProblem.NoSuchAccount(account),
            RoleGrantStatus.NoSuchDomain => ApiProblem.NoSuchDomain(domain),
            RoleGrantStatus.NoSuchDepartment => ApiProblem.NotFound("No such department", $"department {req.DepartmentId} is not in {domain}"),
            _ => ApiProblem.Conflict("Role exists", $"{account} already holds that role"),
        };
    }

    /// <summary>The grants the caller may see (its own, and those inside its scopes), filtered by <c>?domain=</c> and <c>?account=</c>.</summary>
    private static async Task<Results<Ok<List<RoleResponse>>, ProblemHttpResult>> List(string? domain, string? account, HttpContext http, IGrainFactory grains)
    {
        string? d = null, a = null;
        if (domain is not null && !RouteNames.TryDomain(domain, out d, out var problem)) return problem;
        if (account is not null && (a = MailAddress.Normalize(account)) is null) return ApiProblem.BadRequest("Invalid account address", account);
        var caller = AdminCaller.Of(http)!;
        var all = await grains.GetGrain<IAdminAccessGrain>(0).ListRoles(d, a);
        return TypedResults.Ok(all.Where(g => ScopeRules.MaySee(caller, g)).Select(RoleResponse.From).ToList());
    }

    private static async Task<Results<Ok<RoleResponse>, ProblemHttpResult>> Get(long id, HttpContext http, IGrainFactory grains)
    {
        var grant = await grains.GetGrain<IAdminAccessGrain>(0).GetRole(id);
        // A grant the caller may not see answers like one that does not exist.
        return grant is not null && ScopeRules.MaySee(AdminCaller.Of(http)!, grant)
            ? TypedResults.Ok(RoleResponse.From(grant))
            : ApiProblem.NotFound("No such role", id.ToString());
    }

    private static async Task<Results<NoContent, ProblemHttpResult>> Revoke(long id, HttpContext http, IGrainFactory grains)
    {
        var access = grains.GetGrain<IAdminAccessGrain>(0);
        var caller = AdminCaller.Of(http)!;
        var grant = await access.GetRole(id);
        if (grant is null || !ScopeRules.MaySee(caller, grant)) return ApiProblem.NotFound("No such role", id.ToString());
        if (ScopeRules.GrantDenial(caller, grant.Role, grant.Domain) is { } denial) return Forbidden(denial);
        return await access.Revoke(id) ? TypedResults.NoContent() : ApiProblem.NotFound("No such role", id.ToString());
    }

    private static ProblemHttpResult Forbidden(string detail) => ApiProblem.Of(StatusCodes.Status403Forbidden, "Outside your scope", detail);
}

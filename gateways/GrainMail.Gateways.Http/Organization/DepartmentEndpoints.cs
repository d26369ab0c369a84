using GrainMail.Contracts.Domains;
using GrainMail.Contracts.Organization;
using GrainMail.Gateways.Http.Problems;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Routing;
using GrainMail.Gateways.Http.Scopes;

namespace GrainMail.Gateways.Http.Organization;

/// <summary>A domain's departments: a tree of at most 13 levels under the root (the domain's default department).</summary>
public static class DepartmentEndpoints
{
    public static void MapDepartments(this RouteGroupBuilder api)
    {
        var g = api.MapGroup("/domains/{domain}/departments").WithTags("Departments");
        g.MapGet("", List).Reads(ScopeResource.DomainOverview);
        // Department admins edit inside their subtree (issue 15, 4.2.4): creating needs the new
        // parent in scope, renaming the department itself, moving and deleting its current parent
        // too (so the department a role is granted on stays where its granter put it), and a move
        // the new parent as well. The body's parent is only known to the handler.
        g.MapPost("", Create).Writes(ScopeResource.CheckedByEndpoint);
        g.MapPatch("/{id:long}", Update).Scope(ScopeResource.Department, ScopeAccess.Write, departmentRouteKey: "id");
        g.MapDelete("/{id:long}", Delete).Scope(ScopeResource.Department, ScopeAccess.Write, departmentRouteKey: "id");
    }

    /// <summary>
    /// Null when the caller may put something under <paramref name="parentId"/> (null: the
    /// domain's top level, which only domain-wide roles change); otherwise the 403.
    /// </summary>
    private static async Task<ProblemHttpResult?> ParentDenialAsync(HttpContext http, AdminScopes scopes, string domain, long? parentId)
    {
        var denial = parentId is { } parent
            ? await scopes.DenialAsync(http, ScopeResource.Department, ScopeAccess.Write, domain, departmentId: parent)
            : await scopes.DenialAsync(http, ScopeResource.Domain, ScopeAccess.Write, domain);
        return denial is null ? null : Forbidden(http, denial);
    }

    /// <summary>The same for the department's current parent (moving or deleting it changes its parent's contents).</summary>
    private static async Task<ProblemHttpResult?> CurrentParentDenialAsync(HttpContext http, AdminScopes scopes, IGrainFactory grains, string domain, long id)
    {
        // Domain-wide roles and the super admin were decided by the route's declaration already.
        if (AdminCaller.Of(http) is not { IsSuper: false } caller || !ScopeRules.NeedsDepartmentPath(caller, domain)) return null;
        var place = await grains.GetGrain<GrainMail.Contracts.Admin.IAdminAccessGrain>(0).DepartmentPlace(id);
        if (place is null || place.Domain != domain) return null; // the domain grain answers 404
        var path = place.DepartmentPath;
        return await ParentDenialAsync(http, scopes, domain, path.Count >= 2 ? path[^2] : null);
    }

    private static ProblemHttpResult Forbidden(HttpContext http, string reason)
    {
        GrainMail.Gateways.Http.Audit.AuditNote.Of(http).Detail["reason"] = reason;
        return ApiProblem.Of(StatusCodes.Status403Forbidden, "Outside your scope", reason);
    }

    internal static ProblemHttpResult Problem(DepartmentOpResult r, string domain) => r.Status switch
    {
        DomainOpStatus.NotFound => ApiProblem.NotFound("No such department", r.Detail ?? domain),
        DomainOpStatus.AlreadyExists => ApiProblem.Conflict("Department name taken", r.Detail),
        DomainOpStatus.NotEmpty => ApiProblem.Conflict("Department not empty", r.Detail),
        _ => ApiProblem.BadRequest("Invalid department change", r.Detail),
    };

    private static async Task<Results<Ok<List<DepartmentResponse>>, ProblemHttpResult>> List(string domain, IGrainFactory grains)
    {
        if (!RouteNames.TryDomain(domain, out var name, out var problem)) return problem;
        if (await grains.GetGrain<IDomainGrain>(name).GetInfo() is null) return ApiProblem.NoSuchDomain(name);
        var list = await grains.GetGrain<IDirectoryQueryGrain>(0).ListDepartments(name);
        return TypedResults.Ok(list.Select(d => new DepartmentResponse(d.Id, d.Name, d.ParentId, d.Depth, d.AccountCount, d.Path)).ToList());
    }

    private static async Task<Results<Created<DepartmentResponse>, ProblemHttpResult>> Create(
        string domain, [FromBody] CreateDepartmentRequest? req, IGrainFactory grains, HttpContext http, AdminScopes scopes)
    {
        if (req is null) return ApiProblem.BadJson();
        if (!RouteNames.TryDomain(domain, out var name, out var problem)) return problem;
        if (await ParentDenialAsync(http, scopes, name, req.ParentId) is { } forbidden) return forbidden;
        var r = await grains.GetGrain<IDomainGrain>(name).CreateDepartment(req.Name ?? "", req.ParentId);
        if (r.Status == DomainOpStatus.NotFound) return ApiProblem.NoSuchDomain(name);
        if (r.Status != DomainOpStatus.Ok) return Problem(r, name);
        var made = (await grains.GetGrain<IDirectoryQueryGrain>(0).ListDepartments(name)).First(d => d.Id == r.Id);
        return TypedResults.Created($"/api/v1/domains/{name}/departments/{r.Id}",
            new DepartmentResponse(made.Id, made.Name, made.ParentId, made.Depth, made.AccountCount, made.Path));
    }

    private static async Task<Results<Ok<DepartmentResponse>, ProblemHttpResult>> Update(
        string domain, long id, [FromBody] UpdateDepartmentRequest? req, IGrainFactory grains, HttpContext http, AdminScopes scopes)
    {
        if (req is null) return ApiProblem.BadJson();
        if (!RouteNames.TryDomain(domain, out var name, out var problem)) return problem;
        if (req.ParentId is { } newParent)
        {
            if (await CurrentParentDenialAsync(http, scopes, grains, name, id) is { } fromHere) return fromHere;
            if (await ParentDenialAsync(http, scopes, name, newParent) is { } toThere) return toThere;
        }
        var r = await grains.GetGrain<IDomainGrain>(name).UpdateDepartment(id, req.Name, req.ParentId);
        if (r.Status != DomainOpStatus.Ok) return Problem(r, name);
        var d = (await grains.GetGrain<IDirectoryQueryGrain>(0).ListDepartments(name)).First(x => x.Id == id);
        return TypedResults.Ok(new DepartmentResponse(d.Id, d.Name, d.ParentId, d.Depth, d.AccountCount, d.Path));
    }

    private static async Task<Results<NoContent, ProblemHttpResult>> Delete(string domain, long id, IGrainFactory grains, HttpContext http, AdminScopes scopes)
    {
        if (!RouteNames.TryDomain(domain, out var name, out var problem)) return problem;
        if (await CurrentParentDenialAsync(http, scopes, grains, name, id) is { } forbidden) return forbidden;
        var r = await grains.GetGrain<IDomainGrain>(name).DeleteDepartment(id);
        return r.Status == DomainOpStatus.Ok ? TypedResults.NoContent() : Problem(r, name);
    }
}

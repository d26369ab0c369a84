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
        g.MapPost("", Create).Writes(ScopeResource.Domain);
        g.MapPatch("/{id:long}", Update).Writes(ScopeResource.Domain);
        g.MapDelete("/{id:long}", Delete).Writes(ScopeResource.Domain);
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
        string domain, [FromBody] CreateDepartmentRequest? req, IGrainFactory grains)
    {
        if (req is null) return ApiProblem.BadJson();
        if (!RouteNames.TryDomain(domain, out var name, out var problem)) return problem;
        var r = await grains.GetGrain<IDomainGrain>(name).CreateDepartment(req.Name ?? "", req.ParentId);
        if (r.Status == DomainOpStatus.NotFound) return ApiProblem.NoSuchDomain(name);
        if (r.Status != DomainOpStatus.Ok) return Problem(r, name);
        var made = (await grains.GetGrain<IDirectoryQueryGrain>(0).ListDepartments(name)).First(d => d.Id == r.Id);
        return TypedResults.Created($"/api/v1/domains/{name}/departments/{r.Id}",
            new DepartmentResponse(made.Id, made.Name, made.ParentId, made.Depth, made.AccountCount, made.Path));
    }

    private static async Task<Results<Ok<DepartmentResponse>, ProblemHttpResult>> Update(
        string domain, long id, [FromBody] UpdateDepartmentRequest? req, IGrainFactory grains)
    {
        if (req is null) return ApiProblem.BadJson();
        if (!RouteNames.TryDomain(domain, out var name, out var problem)) return problem;
        var r = await grains.GetGrain<IDomainGrain>(name).UpdateDepartment(id, req.Name, req.ParentId);
        if (r.Status != DomainOpStatus.Ok) return Problem(r, name);
        var d = (await grains.GetGrain<IDirectoryQueryGrain>(0).ListDepartments(name)).First(x => x.Id == id);
        return TypedResults.Ok(new DepartmentResponse(d.Id, d.Name, d.ParentId, d.Depth, d.AccountCount, d.Path));
    }

    private static async Task<Results<NoContent, ProblemHttpResult>> Delete(string domain, long id, IGrainFactory grains)
    {
        if (!RouteNames.TryDomain(domain, out var name, out var problem)) return problem;
        var r = await grains.GetGrain<IDomainGrain>(name).DeleteDepartment(id);
        return r.Status == DomainOpStatus.Ok ? TypedResults.NoContent() : Problem(r, name);
    }
}

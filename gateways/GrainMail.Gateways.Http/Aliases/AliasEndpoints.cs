using GrainMail.Contracts;
using GrainMail.Contracts.Domains;
using GrainMail.Gateways.Http.Problems;
using GrainMail.Gateways.Http.Scopes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Routing;

namespace GrainMail.Gateways.Http.Aliases;

/// <param name="Alias">The local part (or the whole address) of the alias.</param>
public sealed record AliasRequest(string? Alias, List<string>? Targets);

public sealed record AliasResponse(string Address, IReadOnlyList<string> Targets);

/// <summary>/domains/{domain}/aliases: addresses that deliver to one or more others.</summary>
public static class AliasEndpoints
{
    public static void MapAliases(this RouteGroupBuilder api)
    {
        var g = api.MapGroup("/domains/{domain}/aliases").WithTags("Aliases");
        g.MapPost("", Create).Writes(ScopeResource.Domain);
        g.MapGet("", List).Reads(ScopeResource.Domain);
        g.MapDelete("/{alias}", Delete).Writes(ScopeResource.Domain);
    }

    private static async Task<Results<Created<AliasResponse>, ProblemHttpResult>> Create(string domain, [FromBody] AliasRequest? req, IGrainFactory grains)
    {
        if (req is null) return ApiProblem.BadJson();
        if (!RouteNames.TryDomain(domain, out var name, out var problem)) return problem;
        var lp = MailAddress.NormalizeLocalPart(req.Alias?.Contains('@') == true ? req.Alias[..req.Alias.IndexOf('@')] : req.Alias);
        if (lp is null) return ApiProblem.BadRequest("Invalid alias", req.Alias);
        if (req.Targets is not { Count: > 0 }) return ApiProblem.BadRequest("An alias needs at least one target");
        if (req.Targets.Count > AliasLimits.MaxTargets)
            return ApiProblem.BadRequest("Too many targets", $"{req.Targets.Count} targets; an alias has at most {AliasLimits.MaxTargets}");
        var bad = req.Targets.Where(t => MailAddress.Normalize(t) is null).ToList();
        if (bad.Count > 0) return ApiProblem.BadRequest("Invalid target address", string.Join(", ", bad));
        var address = $"{lp}@{name}";
        var targets = req.Targets.Select(t => MailAddress.Normalize(t)!).Distinct(StringComparer.Ordinal).ToList();
        if (targets.Contains(address)) return ApiProblem.BadRequest("Invalid alias", "An alias cannot point to itself");
        return await grains.GetGrain<IDomainGrain>(name).SetAlias(lp, req.Targets) switch
        {
            DomainOpStatus.Ok => TypedResults.Created($"/api/v1/domains/{name}/aliases/{Uri.EscapeDataString(lp)}", new AliasResponse(address, targets)),
            DomainOpStatus.NotFound => ApiProblem.NoSuchDomain(name),
            DomainOpStatus.AlreadyExists => ApiProblem.Conflict("An account has that address", address),
            _ => ApiProblem.BadRequest("Invalid alias", address),
        };
    }

    private static async Task<Results<Ok<List<AliasResponse>>, ProblemHttpResult>> List(string domain, IGrainFactory grains)
    {
        if (!RouteNames.TryDomain(domain, out var name, out var problem)) return problem;
        var g = grains.GetGrain<IDomainGrain>(name);
        if (await g.GetInfo() is null) return ApiProblem.NoSuchDomain(name);
        return TypedResults.Ok((await g.ListAliases()).Select(a => new AliasResponse(a.Address, a.Targets)).ToList());
    }

    private static async Task<Results<NoContent, ProblemHttpResult>> Delete(string domain, string alias, IGrainFactory grains)
    {
        if (!RouteNames.TryDomain(domain, out var name, out var problem)) return problem;
        return await grains.GetGrain<IDomainGrain>(name).DeleteAlias(alias) == DomainOpStatus.Ok
            ? TypedResults.NoContent()
            : ApiProblem.NotFound("No such alias", $"{alias}@{name}");
    }
}

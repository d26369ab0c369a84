using GrainMail.Contracts;
using GrainMail.Contracts.Domains;
using GrainMail.Gateways.Http.Problems;
using GrainMail.Gateways.Http.Scopes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Routing;

namespace GrainMail.Gateways.Http.Domains;

/// <summary>/domains: create, list, read, delete.</summary>
public static class DomainEndpoints
{
    public static void MapDomains(this RouteGroupBuilder api)
    {
        var g = api.MapGroup("/domains").WithTags("Domains");
        g.MapPost("", Create).NodeWide();
        // Everyone with a role may list: the list holds only the domains of the caller's roles.
        g.MapGet("", List).Reads(ScopeResource.CheckedByEndpoint);
        g.MapGet("/{domain}", Get).Reads(ScopeResource.DomainOverview);
        // Removing a tenant is the operator's act.
        g.MapDelete("/{domain}", Delete).NodeWide();
    }

    private static async Task<Results<Created<DomainResponse>, ProblemHttpResult>> Create(
        [FromBody] CreateDomainRequest? req, IGrainFactory grains, AdminApiOptions options, DomainListing listing, CancellationToken ct)
    {
        if (req is null) return ApiProblem.BadJson();
        if (!DomainName.TryParse(req.Name, out var name, out var error)) return ApiProblem.BadRequest("Invalid domain name", $"'{req.Name}': {error}");
        if (name.RegistrationProblem() is { } risky) return ApiProblem.BadRequest("Domain name refused", $"'{req.Name}': {risky}");
        if (req.DefaultQuotaBytes is <= 0 || req.MaxMessageBytes is <= 0) return ApiProblem.BadRequest("Limits must be positive");
        // UTS 39 confusables: a name that looks like a hosted one is refused like a duplicate.
        foreach (var existing in await listing.ListAsync(ct))
        {
            if (DomainName.TryParse(existing.Name, out var other, out _) && name.IsConfusableWith(other))
                return ApiProblem.Conflict("Domain exists", $"{name.Unicode} ({name.Ascii}) is confusable with the hosted domain {other.Unicode} ({other.Ascii})");
        }
        var settings = DomainSettings.Default(string.IsNullOrWhiteSpace(req.HomeRegion) ? options.DefaultRegion : req.HomeRegion.Trim()) with
        {
            DefaultQuotaBytes = req.DefaultQuotaBytes ?? DomainSettings.DefaultQuota,
            MaxMessageBytes = req.MaxMessageBytes ?? DomainSettings.DefaultMaxMessage,
        };
        var grain = grains.GetGrain<IDomainGrain>(name.Ascii);
        if (await grain.Create(settings) == DomainOpStatus.AlreadyExists) return ApiProblem.Conflict("Domain exists", name.Ascii);
        var info = await grain.GetInfo();
        return TypedResults.Created($"/api/v1/domains/{name.Ascii}", DomainResponse.From(info!));
    }

    private static async Task<Ok<IReadOnlyList<DomainSummary>>> List(DomainListing listing, HttpContext http, CancellationToken ct)
    {
        var all = await listing.ListAsync(ct);
        return AdminCaller.Of(http)?.Domains is { } mine ? TypedResults.Ok<IReadOnlyList<DomainSummary>>(all.Where(d => mine.Contains(d.Name)).ToList()) : TypedResults.Ok(all);
    }

    private static async Task<Results<Ok<DomainResponse>, ProblemHttpResult>> Get(string domain, IGrainFactory grains)
    {
        if (!RouteNames.TryDomain(domain, out var name, out var problem)) return problem;
        var info = await grains.GetGrain<IDomainGrain>(name).GetInfo();
        return info is null ? ApiProblem.NoSuchDomain(name) : TypedResults.Ok(DomainResponse.From(info));
    }

    private static async Task<Results<NoContent, ProblemHttpResult>> Delete(string domain, IGrainFactory grains)
    {
        if (!RouteNames.TryDomain(domain, out var name, out var problem)) return problem;
        var g = grains.GetGrain<IDomainGrain>(name);
        var status = await g.Delete();
        if (status == DomainOpStatus.Ok) return TypedResults.NoContent();
        if (status != DomainOpStatus.NotEmpty) return ApiProblem.NoSuchDomain(name);
        // Accounts first, then mailing lists (they hold members and moderated posts): nothing of a domain goes silently.
        if ((await g.ListAccounts()).Count > 0) return ApiProblem.Conflict("Domain still has accounts", "Delete its accounts first");
        var lists = await g.ListLists() ?? [];
        return ApiProblem.Conflict("Domain still has mailing lists", $"Delete its lists first: {string.Join(", ", lists.Select(l => l.Address))}");
    }
}

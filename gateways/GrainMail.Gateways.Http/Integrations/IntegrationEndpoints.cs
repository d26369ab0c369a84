using GrainMail.Contracts.Admin;
using GrainMail.Gateways.Http.Problems;
using GrainMail.Gateways.Http.Scopes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Routing;

namespace GrainMail.Gateways.Http.Integrations;

/// <param name="PublicKey">PEM "PUBLIC KEY" (SubjectPublicKeyInfo): Ed25519, or RSA of 2048 bits or more.</param>
/// <param name="AllowedSources">Addresses or CIDR prefixes the integration calls from (single sign-on is taken from anywhere).</param>
public sealed record IntegrationRequest(string? Name, string? Domain, string? PublicKey, List<string>? AllowedSources);

/// <param name="Algorithm"><c>ed25519</c> or <c>rsa</c> (signatures RSASSA-PKCS1-v1_5 with SHA-256).</param>
public sealed record IntegrationResponse(Guid Id, string Name, string Domain, string Algorithm, IReadOnlyList<string> AllowedSources, string CreatedBy, DateTimeOffset CreatedAt)
{
    public static IntegrationResponse From(Integration i) =>
        new(i.Id, i.Name, i.Domain, i.Algorithm == IntegrationKeyAlgorithm.Ed25519 ? "ed25519" : "rsa", i.AllowedSources, i.CreatedBy, i.CreatedAt);
}

/// <summary>/integrations: an enterprise system's key and source addresses, registered by the super admin or a domain admin of its domain.</summary>
public static class IntegrationEndpoints
{
    public const int MaxNameLength = 100;

    public static void MapIntegrations(this RouteGroupBuilder api)
    {
        var g = api.MapGroup("/integrations").WithTags("Integrations");
        g.MapPost("", Register).Writes(ScopeResource.CheckedByEndpoint);
        g.MapGet("", List).Reads(ScopeResource.CheckedByEndpoint);
        g.MapGet("/{id:guid}", Get).Reads(ScopeResource.CheckedByEndpoint);
        g.MapDelete("/{id:guid}", Delete).Writes(ScopeResource.CheckedByEndpoint);
    }

    private static async Task<Results<Created<IntegrationResponse>, ProblemHttpResult>> Register([FromBody] IntegrationRequest? req, HttpContext http, IGrainFactory grains)
    {
        if (req is null) return ApiProblem.BadJson();
        var name = req.Name?.Trim();
        if (string.IsNullOrEmpty(name) || name.Length > MaxNameLength || name.Any(char.IsControl))
            return ApiProblem.BadRequest("Invalid name", $"1 to {MaxNameLength} characters, no control characters");
        if (!RouteNames.TryDomain(req.Domain, out var domain, out var problem)) return problem;
        var caller = AdminCaller.Of(http)!;
        if (!caller.HasDomainWideRole(domain, write: true)) return Forbidden($"Only the super admin or a domain admin of {domain} registers its integrations");
        if (!IntegrationKeys.TryParse(req.PublicKey, out var key, out var keyProblem)) return ApiProblem.BadRequest("Invalid public key", keyProblem);
        var sources = new List<string>();
        foreach (var s in req.AllowedSources ?? [])
        {
            if (SourceAddresses.Normalize(s) is not { } cidr) return ApiProblem.BadRequest("Invalid source address", $"'{s}': an IP address or a CIDR prefix with its host bits zero");
            if (!sources.Contains(cidr)) sources.Add(cidr);
        }
        if (sources.Count > SourceAddresses.MaxEntries) return ApiProblem.BadRequest("Too many source addresses", $"At most {SourceAddresses.MaxEntries}");

        var integration = new Integration(Guid.NewGuid(), name, domain, key.Algorithm, key.Spki, sources,
            caller.IsSuper ? "super admin" : caller.Account!, DateTimeOffset.UtcNow);
        var store = grains.GetGrain<IIntegrationGrain>(0);
        if (await store.Register(integration) == IntegrationRegisterStatus.NoSuchDomain) return ApiProblem.NoSuchDomain(domain);
        var saved = await store.Get(integration.Id) ?? integration;
        return TypedResults.Created($"{AdminApi.Prefix}/integrations/{saved.Id}", IntegrationResponse.From(saved));
    }

    private static async Task<Results<Ok<List<IntegrationResponse>>, ProblemHttpResult>> List(string? domain, HttpContext http, IGrainFactory grains)
    {
        string? d = null;
        if (domain is not null && !RouteNames.TryDomain(domain, out d, out var problem)) return problem;
        var caller = AdminCaller.Of(http)!;
        var all = await grains.GetGrain<IIntegrationGrain>(0).List(d);
        return TypedResults.Ok(all.Where(i => caller.HasDomainWideRole(i.Domain, write: false)).Select(IntegrationResponse.From).ToList());
    }

    private static async Task<Results<Ok<IntegrationResponse>, ProblemHttpResult>> Get(Guid id, HttpContext http, IGrainFactory grains)
    {
        var i = await grains.GetGrain<IIntegrationGrain>(0).Get(id);
        return i is not null && AdminCaller.Of(http)!.HasDomainWideRole(i.Domain, write: false)
            ? TypedResults.Ok(IntegrationResponse.From(i))
            : ApiProblem.NotFound("No such integration", id.ToString());
    }

    private static async Task<Results<NoContent, ProblemHttpResult>> Delete(Guid id, HttpContext http, IGrainFactory grains)
    {
        var store = grains.GetGrain<IIntegrationGrain>(0);
        var caller = AdminCaller.Of(http)!;
        var i = await store.Get(id);
        if (i is null || !caller.HasDomainWideRole(i.Domain, write: false)) return ApiProblem.NotFound("No such integration", id.ToString());
        if (!caller.HasDomainWideRole(i.Domain, write: true)) return Forbidden($"Only the super admin or a domain admin of {i.Domain} removes its integrations");
        return await store.Delete(id) ? TypedResults.NoContent() : ApiProblem.NotFound("No such integration", id.ToString());
    }

    private static ProblemHttpResult Forbidden(string detail) => ApiProblem.Of(StatusCodes.Status403Forbidden, "Outside your scope", detail);
}

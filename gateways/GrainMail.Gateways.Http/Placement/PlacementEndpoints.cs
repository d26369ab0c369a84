using GrainMail.Contracts;
using GrainMail.Contracts.Accounts;
using GrainMail.Contracts.Domains;
using GrainMail.Contracts.Mailboxes;
using GrainMail.Contracts.Outbound;
using GrainMail.Contracts.Regions;
using GrainMail.Gateways.Http.Problems;
using GrainMail.Gateways.Http.Scopes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Routing;

namespace GrainMail.Gateways.Http.Placement;

public sealed record GrainPlace(string Silo, string? Region)
{
    public static GrainPlace From(GrainLocation l) => new(l.Silo, l.Region);
}

public sealed record AccountPlacementResponse(string Address, string HomeRegion, GrainPlace Domain, GrainPlace Account, GrainPlace Mailbox);

public sealed record RoutePlacementResponse(string Destination, string Silo, string? Region);

/// <summary>Where grains run and where they belong (two-region operation, drills).</summary>
public static class PlacementEndpoints
{
    public static void MapPlacement(this RouteGroupBuilder api)
    {
        api.MapGet("/accounts/{address}/placement", Account).WithTags("Placement").Reads(ScopeResource.Account);
        api.MapGet("/outbound/{destination}/placement", Route).WithTags("Placement").NodeWide();
    }

    private static async Task<Results<Ok<AccountPlacementResponse>, ProblemHttpResult>> Account(string address, IGrainFactory grains)
    {
        if (!RouteNames.TryAddress(address, out var a, out var problem)) return problem;
        var domain = await grains.GetGrain<IDomainGrain>(MailAddress.DomainOf(a)).GetInfo();
        if (domain is null) return ApiProblem.NoSuchDomain(MailAddress.DomainOf(a));
        var locations = await Task.WhenAll(
            grains.GetGrain<IDomainGrain>(domain.Name).Locate(),
            grains.GetGrain<IAccountGrain>(a).Locate(),
            grains.GetGrain<IMailboxGrain>(a).Locate());
        return TypedResults.Ok(new AccountPlacementResponse(
            a, domain.Settings.HomeRegion, GrainPlace.From(locations[0]), GrainPlace.From(locations[1]), GrainPlace.From(locations[2])));
    }

    /// <summary>The silo and region a destination's route runs on (the region its mail leaves from).</summary>
    private static async Task<Ok<RoutePlacementResponse>> Route(string destination, IGrainFactory grains)
    {
        var where = await grains.GetGrain<IOutboundRouteGrain>(destination.Trim().ToLowerInvariant()).Locate();
        return TypedResults.Ok(new RoutePlacementResponse(destination, where.Silo, where.Region));
    }
}

using GrainMail.Contracts.AddressBook;
using GrainMail.Gateways.Http.Problems;
using GrainMail.Gateways.Http.UserAuth;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Routing;
using System.Security.Claims;

namespace GrainMail.Gateways.Http.AddressBook;

/// <summary>
/// /api/v1/me/address-book?q=&amp;limit=: autocomplete for the signed-in mail user (HTTP Basic with
/// the account's address and password or an app password, on the HTTPS listener only).
/// </summary>
public static class MyAddressBookEndpoints
{
    public const int DefaultLimit = 10;
    public const int MaxQueryLength = 256;

    /// <summary>Everything a mail user reaches with their own credentials: the search API and CardDAV.</summary>
    public static IEndpointRouteBuilder MapAddressBookForUsers(this IEndpointRouteBuilder app)
    {
        app.MapMyAddressBook();
        GrainMail.Gateways.Http.CardDav.CardDavEndpoints.MapCardDav(app);
        return app;
    }

    public static IEndpointRouteBuilder MapMyAddressBook(this IEndpointRouteBuilder app)
    {
        var me = app.MapGroup(AdminApi.Prefix + "/me").RequireAuthorization(AccountAuth.Policy).WithTags("Me");
        me.MapGet("/address-book", Search);
        return app;
    }

    private static async Task<Results<Ok<List<AddressBookEntryResponse>>, ProblemHttpResult>> Search(
        ClaimsPrincipal user, IGrainFactory grains, string? q, int? limit)
    {
        if (limit is < 1 or > AddressBookLimits.MaxSearchResults)
            return ApiProblem.BadRequest("Invalid limit", $"1 to {AddressBookLimits.MaxSearchResults}");
        var query = q?.Trim() ?? "";
        if (query.Length > MaxQueryLength) return ApiProblem.BadRequest("Query too long", $"at most {MaxQueryLength} characters");
        var found = await grains.GetGrain<IAddressBookReaderGrain>(0).Search(user.Address(), query, limit ?? DefaultLimit);
        return TypedResults.Ok(found.Select(AddressBookEntryResponse.From).ToList());
    }
}

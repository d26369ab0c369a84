using GrainMail.Contracts.Operations;
using GrainMail.Gateways.Http.Problems;
using GrainMail.Gateways.Http.Scopes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Routing;

namespace GrainMail.Gateways.Http.DeadLetters;

public sealed record DeadLetterList(IReadOnlyList<DeadLetterInfo> DeadLetters);

/// <summary>
/// Dead letters: deliveries that were given up (after the stream's attempts, or refused at
/// delivery with a DSN to the sender), listed newest first, and sent back into their queue by
/// an operator once the cause is mended.
/// </summary>
public static class DeadLetterEndpoints
{
    public static void MapDeadLetters(this RouteGroupBuilder api)
    {
        api.MapGet("/dead-letters", List).WithTags("Dead letters").NodeWide();
        api.MapPost("/dead-letters/{id:long}/redeliver", Redeliver).WithTags("Dead letters").NodeWide();
    }

    private static async Task<Results<Ok<DeadLetterList>, ProblemHttpResult>> List(IGrainFactory grains, int? limit)
    {
        if (limit is < 1 or > 1000) return ApiProblem.BadRequest("limit must be between 1 and 1000");
        return TypedResults.Ok(new DeadLetterList(await grains.GetGrain<IDeadLetterGrain>(0).List(limit ?? 100)));
    }

    private static async Task<Results<Accepted, ProblemHttpResult>> Redeliver(long id, IGrainFactory grains) =>
        await grains.GetGrain<IDeadLetterGrain>(0).Redeliver(id)
            ? TypedResults.Accepted((string?)null)
            : ApiProblem.NotFound("No such dead letter", id.ToString(System.Globalization.CultureInfo.InvariantCulture));
}

using GrainMail.Contracts.Operations;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace GrainMail.Gateways.Http;

/// <summary>
/// Dead letters: deliveries that were given up (after the stream's attempts, or refused at
/// delivery with a DSN to the sender), listed newest first, and sent back into their queue by
/// an operator once the cause is mended.
/// </summary>
public static class DeadLetterEndpoints
{
    public sealed record DeadLetterList(IReadOnlyList<DeadLetterInfo> DeadLetters);

    public static void MapDeadLetters(this RouteGroupBuilder api)
    {
        api.MapGet("/dead-letters", async (IGrainFactory grains, int? limit) =>
        {
            if (limit is < 1 or > 1000) return Results.Problem(statusCode: 400, title: "limit must be between 1 and 1000");
            var list = await grains.GetGrain<IDeadLetterGrain>(0).List(limit ?? 100);
            return Results.Ok(new DeadLetterList(list));
        });

        api.MapPost("/dead-letters/{id:long}/redeliver", async (long id, IGrainFactory grains) =>
            await grains.GetGrain<IDeadLetterGrain>(0).Redeliver(id)
                ? Results.Accepted()
                : Results.Problem(statusCode: 404, title: "No such dead letter", detail: id.ToString(System.Globalization.CultureInfo.InvariantCulture)));
    }
}

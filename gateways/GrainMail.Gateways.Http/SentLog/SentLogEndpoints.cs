using GrainMail.Gateways.Http.Problems;
using GrainMail.Gateways.Http.Scopes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Routing;

namespace GrainMail.Gateways.Http.SentLog;

/// <param name="Outcome">What the attempt came to (delivered, deferred, bounced, …) with the remote's <paramref name="Reply"/>.</param>
public sealed record SentAttemptResponse(Guid MessageId, string Recipient, DateTimeOffset At, string Link, string? Remote, string Outcome, string Reply);

/// <summary>GET /accounts/{address}/sent-log: every delivery attempt of the account's outgoing mail, newest first.</summary>
public static class SentLogEndpoints
{
    public const int DefaultLimit = 100;
    public const int MaxLimit = 1000;

    public static void MapSentLog(this RouteGroupBuilder api) =>
        api.MapGet("/accounts/{address}/sent-log", Get).WithTags("Sent log").Reads(ScopeResource.Account, allowSelf: true);

    private static async Task<Results<Ok<IReadOnlyList<SentAttemptResponse>>, ProblemHttpResult>> Get(
        string address, int? limit, SentLogReader reader, CancellationToken ct)
    {
        if (!RouteNames.TryAddress(address, out var a, out var problem)) return problem;
        return TypedResults.Ok(await reader.AttemptsOfSenderAsync(a, Math.Clamp(limit ?? DefaultLimit, 1, MaxLimit), ct));
    }
}

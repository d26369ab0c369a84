using GrainMail.Contracts.Outbound;
using GrainMail.Gateways.Http.Scopes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Routing;

namespace GrainMail.Gateways.Http.Outbound;

public sealed record QueuedMessageResponse(
    Guid Id, string? Sender, IReadOnlyList<string> Recipients, long Size, DateTimeOffset ReceivedAt, int Attempts, DateTimeOffset NextAttempt, string? LastError);

public sealed record OutboundDestinationResponse(string Destination, IReadOnlyList<QueuedMessageResponse> Messages);

/// <param name="SuccessRate">Share of recent connection attempts that reached the remote, 0 to 1.</param>
public sealed record LinkResponse(
    string Name, string Region, string Kind, string? Host, bool Down, DateTimeOffset? DownUntil, int ConsecutiveFailures, double SuccessRate);

/// <summary>/outbound: what waits to leave and why; the egress links and their shared health.</summary>
public static class OutboundEndpoints
{
    public static void MapOutbound(this RouteGroupBuilder api)
    {
        var g = api.MapGroup("/outbound").WithTags("Outbound").NodeWide();
        g.MapGet("", Queue);
        g.MapGet("/links", Links);
    }

    private static async Task<Ok<List<OutboundDestinationResponse>>> Queue(OutboundQueues queues, IGrainFactory grains, CancellationToken ct)
    {
        var result = new List<OutboundDestinationResponse>();
        foreach (var destination in await queues.DestinationsAsync(ct))
        {
            var queue = await grains.GetGrain<IOutboundRouteGrain>(destination).GetQueue();
            result.Add(new OutboundDestinationResponse(destination, queue.Select(q => new QueuedMessageResponse(
                q.Id, q.Sender, q.Recipients, q.Size, q.ReceivedAt, q.Attempts, q.NextAttempt, q.LastError)).ToList()));
        }
        return TypedResults.Ok(result);
    }

    private static async Task<Ok<List<LinkResponse>>> Links(IGrainFactory grains, AdminApiOptions options)
    {
        var result = new List<LinkResponse>();
        foreach (var link in options.Links)
        {
            var h = await grains.GetGrain<ILinkHealthGrain>(link.Name).GetHealth();
            result.Add(new LinkResponse(link.Name, link.Region, link.Kind, link.Host, h.Down, h.DownUntil, h.ConsecutiveFailures, Math.Round(h.SuccessRate, 3)));
        }
        return TypedResults.Ok(result);
    }
}

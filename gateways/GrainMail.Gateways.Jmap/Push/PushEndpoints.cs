using System.Text.Json.Nodes;
using GrainMail.Gateways.Http.UserAuth;
using GrainMail.Gateways.Jmap.Methods;
using GrainMail.Gateways.Jmap.Protocol;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;

namespace GrainMail.Gateways.Jmap.Push;

/// <summary>Push (RFC 8620 7.3 EventSource, RFC 8887 WebSocket) on the users' HTTPS listener.</summary>
public static class PushEndpoints
{
    public const string EventSourcePath = "/jmap/eventsource";

    public static IServiceCollection AddJmapPush(this IServiceCollection services)
    {
        services.AddSingleton<AccountPushHub>();
        services.AddSingleton<PushConnections>();
        services.AddJmapMethods<WebSocketCapability>();
        return services;
    }

    public static WebApplication MapJmapPush(this WebApplication app)
    {
        app.UseWebSockets();
        // No RequireAuthorization: the handler authenticates itself, so that the access_token query
        // parameter can stand in for the header a browser's EventSource cannot send.
        app.MapGet(EventSourcePath, EventSourceEndpoint.HandleAsync).AllowAnonymous().ExcludeFromDescription();
        app.MapGet(WebSocketEndpoint.Path, WebSocketEndpoint.HandleAsync).RequireAuthorization(AccountAuth.Policy).ExcludeFromDescription();
        return app;
    }

    /// <summary>The WebSocket URL of the session (RFC 8887 4.1): wss for https.</summary>
    public static string WebSocketUrl(string baseUrl) =>
        (baseUrl.StartsWith("https://", StringComparison.OrdinalIgnoreCase) ? "wss://" + baseUrl["https://".Length..] : "ws://" + baseUrl["http://".Length..]) + WebSocketEndpoint.Path;
}

/// <summary>
/// urn:ietf:params:jmap:websocket (RFC 8887 4.1) as a family of the registry with no methods: it puts
/// the capability in the session (the url is filled in by SessionResource, which knows the base URL)
/// and lets clients name it in "using".
/// </summary>
public sealed class WebSocketCapability : IJmapMethods
{
    public string Capability => WebSocketMessages.Capability;

    public JsonObject? SessionCapability(JmapLimits limits) => new() { ["url"] = WebSocketEndpoint.Path, ["supportsPush"] = true };

    public JsonObject? AccountCapability(JmapAccount account) => null;

    public IReadOnlyDictionary<string, JmapMethodHandler> Methods { get; } = new Dictionary<string, JmapMethodHandler>();
}

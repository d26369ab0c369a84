using System.Text.Json;
using System.Text.Json.Nodes;
using GrainMail.Gateways.Jmap.Protocol;

namespace GrainMail.Gateways.Jmap.Push;

/// <summary>A message a client sends over a JMAP WebSocket (RFC 8887 4.3).</summary>
public abstract record WebSocketClientMessage;

/// <summary>A JMAP Request with its optional client id (RFC 8887 4.3.1), echoed as requestId.</summary>
public sealed record WebSocketRequest(string? Id, JmapRequest Request) : WebSocketClientMessage;

/// <summary>WebSocketPushEnable (RFC 8887 4.3.5): the types to push (null for all) and the pushState to resume from.</summary>
public sealed record WebSocketPushEnable(IReadOnlySet<string>? DataTypes, string? PushState) : WebSocketClientMessage;

/// <summary>WebSocketPushDisable (RFC 8887 4.3.5).</summary>
public sealed record WebSocketPushDisable : WebSocketClientMessage;

/// <summary>A message the server refuses: answered with a RequestError (RFC 8887 4.3.4) carrying its id when it had one.</summary>
public sealed record WebSocketBadMessage(string? Id, JmapRequestError Error) : WebSocketClientMessage;

/// <summary>Parses one WebSocket text message. Pure: no I/O.</summary>
public static class WebSocketMessages
{
    public const string Subprotocol = "jmap";
    public const string Capability = "urn:ietf:params:jmap:websocket";

    private static readonly JsonDocumentOptions DocumentOptions = new() { MaxDepth = 64 };

    public static WebSocketClientMessage Parse(ReadOnlySpan<byte> message, IReadOnlySet<string> knownCapabilities, JmapLimits limits)
    {
        if (message.Length > limits.MaxSizeRequest) return TooLarge(null, limits);
        JsonObject? obj;
        try
        {
            obj = JsonNode.Parse(message, documentOptions: DocumentOptions) as JsonObject;
        }
        catch (Exception e) when (e is JsonException or ArgumentException)
        {
            return new WebSocketBadMessage(null, new JmapRequestError(JmapErrors.NotJson, 400, "The message is not valid JSON"));
        }
        if (obj is null) return NotRequest(null, "The message is not a JSON object");
        var id = obj["id"] is JsonValue idValue && idValue.TryGetValue<string>(out var s) ? s : null;
        var type = obj["@type"] is JsonValue t && t.TryGetValue<string>(out var name) ? name : null;
        switch (type)
        {
            case "Request":
                var (request, error) = JmapRequestParser.Parse(message, knownCapabilities, limits);
                return error is not null ? new WebSocketBadMessage(id, error) : new WebSocketRequest(id, request!);
            case "WebSocketPushEnable":
                HashSet<string>? types = null;
                if (obj["dataTypes"] is JsonArray list)
                {
                    types = new HashSet<string>(StringComparer.Ordinal);
                    foreach (var item in list)
                    {
                        if (item is not JsonValue v || !v.TryGetValue<string>(out var typeName)) return NotRequest(id, "dataTypes must be null or an array of type names");
                        types.Add(typeName);
                    }
                }
                else if (obj["dataTypes"] is not null) return NotRequest(id, "dataTypes must be null or an array of type names");
                var pushState = obj["pushState"] is JsonValue p && p.TryGetValue<string>(out var ps) ? ps : null;
                return new WebSocketPushEnable(types, pushState);
            case "WebSocketPushDisable":
                return new WebSocketPushDisable();
            default:
                return NotRequest(id, "@type must be Request, WebSocketPushEnable or WebSocketPushDisable");
        }
    }

    public static WebSocketBadMessage TooLarge(string? id, JmapLimits limits) =>
        new(id, new JmapRequestError(JmapErrors.Limit, 400, $"The message is larger than maxSizeRequest ({limits.MaxSizeRequest} octets)", "maxSizeRequest"));

    private static WebSocketBadMessage NotRequest(string? id, string detail) => new(id, new JmapRequestError(JmapErrors.NotRequest, 400, detail));

    /// <summary>A RequestError (RFC 8887 4.3.4): the problem document with "@type" and the request's id.</summary>
    public static JsonObject RequestError(string? requestId, JmapRequestError error)
    {
        var o = new JsonObject { ["@type"] = "RequestError" };
        if (requestId is not null) o["requestId"] = requestId;
        o["type"] = error.Type;
        o["status"] = error.Status;
        o["detail"] = error.Detail;
        if (error.Limit is not null) o["limit"] = error.Limit;
        return o;
    }

    /// <summary>A Response (RFC 8887 4.3.2): the JMAP response with "@type" and the request's id.</summary>
    public static JsonObject Response(string? requestId, JsonObject response)
    {
        var o = new JsonObject { ["@type"] = "Response" };
        if (requestId is not null) o["requestId"] = requestId;
        foreach (var (k, v) in response.ToList())
        {
            response.Remove(k);
            o[k] = v;
        }
        return o;
    }
}

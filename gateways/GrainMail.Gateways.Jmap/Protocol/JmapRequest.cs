using System.Text.Json;
using System.Text.Json.Nodes;

namespace GrainMail.Gateways.Jmap.Protocol;

/// <summary>One method call of a request: [name, arguments, method call id] (RFC 8620 3.2).</summary>
public sealed record JmapInvocation(string Name, JsonObject Arguments, string CallId);

/// <summary>The Request object (RFC 8620 3.3).</summary>
public sealed record JmapRequest(IReadOnlyList<string> Using, IReadOnlyList<JmapInvocation> MethodCalls, Dictionary<string, string>? CreatedIds);

/// <summary>
/// Parses a request body into a <see cref="JmapRequest"/> or the request-level error RFC 8620 3.6.1
/// names for it. Pure: no I/O, no knowledge of accounts.
/// </summary>
public static class JmapRequestParser
{
    private static readonly JsonDocumentOptions DocumentOptions = new() { MaxDepth = 64 };

    public static (JmapRequest? Request, JmapRequestError? Error) Parse(ReadOnlySpan<byte> body, IReadOnlySet<string> knownCapabilities, JmapLimits limits)
    {
        if (body.Length > limits.MaxSizeRequest)
            return (null, new JmapRequestError(JmapErrors.Limit, 400, $"The request is larger than maxSizeRequest ({limits.MaxSizeRequest} octets)", "maxSizeRequest"));
        JsonNode? root;
        try
        {
            root = JsonNode.Parse(body, documentOptions: DocumentOptions);
        }
        catch (JsonException e)
        {
            return (null, new JmapRequestError(JmapErrors.NotJson, 400, "The body is not valid JSON: " + e.Message));
        }
        catch (ArgumentException e)
        {
            return (null, new JmapRequestError(JmapErrors.NotJson, 400, "The body is not valid UTF-8 JSON: " + e.Message));
        }
        if (root is not JsonObject obj) return NotRequest("The request is not a JSON object");
        if (obj["using"] is not JsonArray usingArray) return NotRequest("'using' must be an array of capability URIs");
        var usingList = new List<string>();
        foreach (var u in usingArray)
        {
            if (u is not JsonValue v || !v.TryGetValue<string>(out var s)) return NotRequest("'using' must hold strings");
            usingList.Add(s);
        }
        if (obj["methodCalls"] is not JsonArray calls) return NotRequest("'methodCalls' must be an array");
        var invocations = new List<JmapInvocation>();
        foreach (var c in calls)
        {
            if (c is not JsonArray triple || triple.Count != 3) return NotRequest("Each method call is an array of [name, arguments, id]");
            if (triple[0] is not JsonValue n || !n.TryGetValue<string>(out var name)) return NotRequest("A method name must be a string");
            if (triple[1] is not JsonObject args) return NotRequest("Method arguments must be an object");
            if (triple[2] is not JsonValue i || !i.TryGetValue<string>(out var callId)) return NotRequest("A method call id must be a string");
            invocations.Add(new JmapInvocation(name, (JsonObject)args.DeepClone(), callId));
        }
        Dictionary<string, string>? created = null;
        if (obj.TryGetPropertyValue("createdIds", out var createdNode) && createdNode is not null)
        {
            if (createdNode is not JsonObject createdObj) return NotRequest("'createdIds' must be an object");
            created = [];
            foreach (var (k, v) in createdObj)
            {
                if (v is not JsonValue cv || !cv.TryGetValue<string>(out var id)) return NotRequest("'createdIds' values must be strings");
                created[k] = id;
            }
        }
        // RFC 8620 3.6.1: an unknown capability fails the whole request.
        foreach (var capability in usingList)
            if (!knownCapabilities.Contains(capability))
                return (null, new JmapRequestError(JmapErrors.UnknownCapability, 400, $"The server does not support the capability '{capability}'"));
        if (invocations.Count > limits.MaxCallsInRequest)
            return (null, new JmapRequestError(JmapErrors.Limit, 400, $"More than maxCallsInRequest ({limits.MaxCallsInRequest}) method calls", "maxCallsInRequest"));
        return (new JmapRequest(usingList, invocations, created), null);
    }

    private static (JmapRequest?, JmapRequestError?) NotRequest(string detail) => (null, new JmapRequestError(JmapErrors.NotRequest, 400, detail));
}

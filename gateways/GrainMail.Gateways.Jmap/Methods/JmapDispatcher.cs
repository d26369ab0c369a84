using System.Text.Json.Nodes;
using GrainMail.Gateways.Jmap.Protocol;
using Microsoft.Extensions.Logging;

namespace GrainMail.Gateways.Jmap.Methods;

/// <summary>
/// Runs a request's method calls in order (RFC 8620 3.3-3.6): result references resolved against
/// the responses so far, each call answered by its response(s) or one "error" invocation.
/// </summary>
public sealed class JmapDispatcher(IEnumerable<IJmapMethods> families, ILogger<JmapDispatcher> log)
{
    private readonly Dictionary<string, (string Capability, JmapMethodHandler Handler)> _methods = Index(families);

    /// <summary>Every capability some family declares: what "using" may name.</summary>
    public IReadOnlySet<string> Capabilities { get; } = families.Select(f => f.Capability).ToHashSet(StringComparer.Ordinal);

    private static Dictionary<string, (string, JmapMethodHandler)> Index(IEnumerable<IJmapMethods> families)
    {
        var index = new Dictionary<string, (string, JmapMethodHandler)>(StringComparer.Ordinal);
        foreach (var f in families)
            foreach (var (name, handler) in f.Methods)
                if (!index.TryAdd(name, (f.Capability, handler)))
                    throw new InvalidOperationException($"JMAP method {name} is registered twice");
        return index;
    }

    public async Task<JsonObject> ExecuteAsync(JmapRequest request, JmapRequestContext context, string sessionState)
    {
        var responses = new List<(string Name, JsonObject Arguments, string CallId)>();
        foreach (var call in request.MethodCalls)
        {
            foreach (var r in await InvokeAsync(call, context, responses)) responses.Add(r);
        }
        var result = new JsonObject
        {
            ["methodResponses"] = new JsonArray(responses.Select(r => (JsonNode)new JsonArray(r.Name, r.Arguments, r.CallId)).ToArray()),
        };
        // createdIds is echoed only when the request had it (RFC 8620 3.4).
        if (request.CreatedIds is not null)
            result["createdIds"] = new JsonObject(context.CreatedIds.Select(kv => KeyValuePair.Create(kv.Key, (JsonNode?)kv.Value)));
        result["sessionState"] = sessionState;
        return result;
    }

    private async Task<IReadOnlyList<(string, JsonObject, string)>> InvokeAsync(
        JmapInvocation call, JmapRequestContext context, List<(string Name, JsonObject Arguments, string CallId)> previous)
    {
        // RFC 8620 3.6.2: a method whose capability the request did not name is unknown to it.
        if (!_methods.TryGetValue(call.Name, out var method) || !context.Using.Contains(method.Capability))
            return [Error(call.CallId, JmapErrors.UnknownMethod, $"Unknown method '{call.Name}' (or its capability is not in 'using')")];
        try
        {
            var args = ResultReferences.Resolve(call.Arguments, previous);
            var jmapCall = new JmapCall(call.Name, args, call.CallId, context);
            var response = await method.Handler(jmapCall);
            var list = new List<(string, JsonObject, string)> { (call.Name, response, call.CallId) };
            list.AddRange(jmapCall.ExtraResponses.Select(x => (x.Name, x.Arguments, call.CallId)));
            return list;
        }
        catch (JmapMethodException e)
        {
            return [Error(call.CallId, e.Type, e.Description)];
        }
        catch (GrainMail.Contracts.StorageUnavailableException e)
        {
            // The database is away (a failover): RFC 8620 3.6.2's temporary error, which a client retries after a
            // pause, not serverFail, which says the method itself went wrong.
            log.LogWarning(e, "JMAP method {Method} met a database failure", call.Name);
            return [Error(call.CallId, JmapErrors.ServerUnavailable, "A server resource is temporarily unavailable, try again")];
        }
        catch (Exception e) when (e is not OperationCanceledException || !context.Aborted.IsCancellationRequested)
        {
            log.LogError(e, "JMAP method {Method} failed", call.Name);
            return [Error(call.CallId, JmapErrors.ServerFail, "The server could not complete the method")];
        }
    }

    public static (string, JsonObject, string) Error(string callId, string type, string? description)
    {
        var args = new JsonObject { ["type"] = type };
        if (description is not null) args["description"] = description;
        return ("error", args, callId);
    }
}

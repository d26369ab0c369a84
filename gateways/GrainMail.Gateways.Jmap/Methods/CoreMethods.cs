using System.Text.Json.Nodes;
using GrainMail.Gateways.Jmap.Protocol;

namespace GrainMail.Gateways.Jmap.Methods;

/// <summary>urn:ietf:params:jmap:core: the limits (RFC 8620 2) and Core/echo (4.1).</summary>
public sealed class CoreMethods : IJmapMethods
{
    public const string Uri = "urn:ietf:params:jmap:core";

    public string Capability => Uri;

    public JsonObject SessionCapability(JmapLimits limits) => new()
    {
        ["maxSizeUpload"] = limits.MaxSizeUpload,
        ["maxConcurrentUpload"] = limits.MaxConcurrentUpload,
        ["maxSizeRequest"] = limits.MaxSizeRequest,
        ["maxConcurrentRequests"] = limits.MaxConcurrentRequests,
        ["maxCallsInRequest"] = limits.MaxCallsInRequest,
        ["maxObjectsInGet"] = limits.MaxObjectsInGet,
        ["maxObjectsInSet"] = limits.MaxObjectsInSet,
        ["collationAlgorithms"] = new JsonArray(limits.CollationAlgorithms.Select(c => (JsonNode)c).ToArray()),
    };

    /// <summary>Core applies to the server, not to accounts (RFC 8620 2: accountCapabilities omit it).</summary>
    public JsonObject? AccountCapability(JmapAccount account) => null;

    public IReadOnlyDictionary<string, JmapMethodHandler> Methods { get; } = new Dictionary<string, JmapMethodHandler>
    {
        // RFC 8620 4.1: the arguments come back unchanged.
        ["Core/echo"] = call => Task.FromResult((JsonObject)call.Arguments.DeepClone()),
    };
}

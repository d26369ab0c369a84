using System.Text.Json;
using System.Text.Json.Nodes;

namespace GrainMail.Gateways.Jmap.Protocol;

/// <summary>Typed reads of method arguments; a wrong type is invalidArguments (RFC 8620 3.6.2).</summary>
public static class Args
{
    public static string? String(JsonObject args, string name, bool required = false)
    {
        if (!args.TryGetPropertyValue(name, out var node) || node is null)
            return required ? throw Invalid($"'{name}' is required") : null;
        return node.GetValueKind() == JsonValueKind.String ? node.GetValue<string>() : throw Invalid($"'{name}' must be a string");
    }

    public static bool Bool(JsonObject args, string name, bool fallback)
    {
        if (!args.TryGetPropertyValue(name, out var node) || node is null) return fallback;
        return node.GetValueKind() switch
        {
            JsonValueKind.True => true,
            JsonValueKind.False => false,
            _ => throw Invalid($"'{name}' must be a boolean"),
        };
    }

    /// <summary>An Int or UnsignedInt (RFC 8620 1.3: within ±2^53-1).</summary>
    public static long? Long(JsonObject args, string name, bool unsigned = false)
    {
        if (!args.TryGetPropertyValue(name, out var node) || node is null) return null;
        if (node.GetValueKind() != JsonValueKind.Number || !node.AsValue().TryGetValue<long>(out var v))
            throw Invalid($"'{name}' must be an integer");
        if (unsigned && v < 0) throw Invalid($"'{name}' must not be negative");
        if (Math.Abs(v) > 9007199254740991) throw Invalid($"'{name}' is out of range");
        return v;
    }

    /// <summary>A list of strings; null when absent or null.</summary>
    public static List<string>? Strings(JsonObject args, string name)
    {
        if (!args.TryGetPropertyValue(name, out var node) || node is null) return null;
        if (node is not JsonArray arr) throw Invalid($"'{name}' must be an array of strings");
        var list = new List<string>(arr.Count);
        foreach (var item in arr)
        {
            if (item is null || item.GetValueKind() != JsonValueKind.String) throw Invalid($"'{name}' must be an array of strings");
            list.Add(item.GetValue<string>());
        }
        return list;
    }

    public static JsonObject? Object(JsonObject args, string name)
    {
        if (!args.TryGetPropertyValue(name, out var node) || node is null) return null;
        return node as JsonObject ?? throw Invalid($"'{name}' must be an object");
    }

    public static JmapMethodException Invalid(string description) => new(JmapErrors.InvalidArguments, description);
}

using System.Text.Json.Nodes;

namespace GrainMail.Gateways.Jmap.Protocol;

/// <summary>
/// Back-references between method calls (RFC 8620 3.7): an argument "#name" holds
/// { resultOf, name, path } and is replaced by the value the JSON pointer selects in an earlier
/// response. Pure code over the responses so far.
/// </summary>
public static class ResultReferences
{
    /// <summary>
    /// Arguments with every "#" argument resolved. Throws <see cref="JmapMethodException"/>
    /// (invalidArguments when both "x" and "#x" are given; invalidResultReference when a reference
    /// does not resolve).
    /// </summary>
    public static JsonObject Resolve(JsonObject arguments, IReadOnlyList<(string Name, JsonObject Arguments, string CallId)> responses)
    {
        var resolved = new JsonObject();
        foreach (var (key, value) in arguments)
        {
            if (!key.StartsWith('#'))
            {
                resolved[key] = value?.DeepClone();
                continue;
            }
            var plain = key[1..];
            if (arguments.ContainsKey(plain))
                throw new JmapMethodException(JmapErrors.InvalidArguments, $"Both '{plain}' and '#{plain}' are given");
            if (value is not JsonObject reference
                || reference["resultOf"] is not JsonValue r || !r.TryGetValue<string>(out var resultOf)
                || reference["name"] is not JsonValue n || !n.TryGetValue<string>(out var name)
                || reference["path"] is not JsonValue p || !p.TryGetValue<string>(out var path))
                throw new JmapMethodException(JmapErrors.InvalidResultReference, $"'#{plain}' is not a ResultReference");
            // The first response with that call id (RFC 8620 3.7); its name must match.
            var source = responses.FirstOrDefault(x => x.CallId == resultOf);
            if (source.Arguments is null || source.Name != name)
                throw new JmapMethodException(JmapErrors.InvalidResultReference, $"No '{name}' response to call '{resultOf}'");
            resolved[plain] = Evaluate(source.Arguments, path)
                ?? throw new JmapMethodException(JmapErrors.InvalidResultReference, $"The path '{path}' selects nothing in the '{name}' response");
        }
        return resolved;
    }

    /// <summary>
    /// JSON Pointer (RFC 6901) with the RFC 8620 3.7 extension: "*" applied to an array maps the rest
    /// of the pointer over its items, and arrays that result are flattened into one. Null when a
    /// token does not resolve.
    /// </summary>
    public static JsonNode? Evaluate(JsonNode? node, string pointer)
    {
        if (pointer.Length == 0) return node?.DeepClone();
        if (pointer[0] != '/') return null;
        var tokens = pointer[1..].Split('/').Select(t => t.Replace("~1", "/").Replace("~0", "~")).ToArray();
        return Walk(node, tokens, 0);
    }

    private static JsonNode? Walk(JsonNode? node, string[] tokens, int index)
    {
        if (index == tokens.Length) return node?.DeepClone();
        var token = tokens[index];
        switch (node)
        {
            case JsonObject obj:
                return obj.TryGetPropertyValue(token, out var child) && child is not null ? Walk(child, tokens, index + 1) : null;
            case JsonArray arr when token == "*":
                var result = new JsonArray();
                foreach (var item in arr)
                {
                    var mapped = Walk(item, tokens, index + 1);
                    if (mapped is null) return null;
                    if (mapped is JsonArray inner)
                        foreach (var x in inner.ToList())
                        {
                            inner.Remove(x);
                            result.Add(x);
                        }
                    else result.Add(mapped);
                }
                return result;
            case JsonArray arr:
                // Array index: digits only, no leading zero (RFC 6901 4).
                if (token.Length == 0 || (token.Length > 1 && token[0] == '0') || !token.All(char.IsAsciiDigit)) return null;
                if (!int.TryParse(token, out var i) || i >= arr.Count) return null;
                return Walk(arr[i], tokens, index + 1);
            default:
                return null;
        }
    }
}

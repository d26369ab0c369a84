namespace GrainMail.Gateways.Http.Audit;

/// <summary>Names an admin action for an endpoint that does not name its own (<see cref="AuditActionAttribute"/>).</summary>
public static class AuditActionNames
{
    // Words that end in s but are not plurals of a resource.
    private static readonly HashSet<string> NotPlural = new(StringComparer.Ordinal) { "settings", "status", "dns", "address", "bulk", "access" };

    /// <summary>
    /// A stable dotted name from the HTTP method and the route pattern (after <c>/api/v1</c>):
    /// a collection with POST is <c>resource.create</c> (<c>POST /domains/{domain}/accounts</c> →
    /// <c>account.create</c>); an item is <c>resource.set|update|delete</c> (<c>PATCH /accounts/{address}</c>
    /// → <c>account.update</c>); a singular word after an item is an action or a property of it
    /// (<c>POST /domains/{domain}/rename</c> → <c>domain.rename</c>, <c>PUT /accounts/{address}/password</c>
    /// → <c>account.password.set</c>). Stable because it depends on the route, never on the request.
    /// </summary>
    public static string Of(string method, string routePattern)
    {
        var path = routePattern.StartsWith(AdminApi.Prefix, StringComparison.OrdinalIgnoreCase) ? routePattern[AdminApi.Prefix.Length..] : routePattern;
        var segments = path.Split('/', StringSplitOptions.RemoveEmptyEntries);
        var literals = new List<string>();
        var endsWithParameter = false;
        foreach (var s in segments)
        {
            endsWithParameter = s.StartsWith('{');
            if (!endsWithParameter) literals.Add(s.ToLowerInvariant());
        }
        if (literals.Count == 0) return "api." + Verb(method, item: true);
        var last = literals[^1];
        if (endsWithParameter) return $"{Singular(last)}.{Verb(method, item: true)}";
        if (IsPlural(last)) return $"{Singular(last)}.{Verb(method, item: false)}";
        if (literals.Count == 1) return $"{last}.{Verb(method, item: true)}";
        var owner = Singular(literals[^2]);
        // POST to a singular word is an action (rename, rotate, release); other methods set, change or remove a property.
        return method.ToUpperInvariant() == "POST" ? $"{owner}.{last}" : $"{owner}.{last}.{Verb(method, item: true)}";
    }

    private static string Verb(string method, bool item) => method.ToUpperInvariant() switch
    {
        "POST" => "create",
        "PUT" => "set",
        "PATCH" => "update",
        "DELETE" => "delete",
        "GET" => item ? "read" : "list",
        var other => other.ToLowerInvariant(),
    };

    private static bool IsPlural(string word) => word.EndsWith('s') && !NotPlural.Contains(word) && !word.EndsWith("ss", StringComparison.Ordinal);

    private static string Singular(string word)
    {
        if (!IsPlural(word)) return word;
        if (word.EndsWith("ies", StringComparison.Ordinal)) return word[..^3] + "y";
        if (word.EndsWith("sses", StringComparison.Ordinal) || word.EndsWith("ases", StringComparison.Ordinal) || word.EndsWith("xes", StringComparison.Ordinal))
            return word[..^2];
        return word[..^1];
    }
}

/// <summary>Names an endpoint's audit action explicitly, where the route alone would say less (e.g. <c>message.purge</c>).</summary>
[AttributeUsage(AttributeTargets.Method | AttributeTargets.Class)]
public sealed class AuditActionAttribute(string name) : Attribute
{
    public string Name { get; } = name;
}

/// <summary>Marks a GET endpoint whose use is itself audited (audit export).</summary>
public sealed record AuditedRead;

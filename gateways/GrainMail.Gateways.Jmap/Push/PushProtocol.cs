using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;

namespace GrainMail.Gateways.Jmap.Push;

/// <summary>The states of one account's data types: type name ("Email") to the state string its /get returns.</summary>
public sealed record AccountStates(string AccountId, IReadOnlyDictionary<string, string> ByType)
{
    /// <summary>
    /// A short digest of every type's state: the EventSource event id and the WebSocket pushState
    /// (RFC 8620 7.3, RFC 8887 4.3.5). A client that presents it again (Last-Event-ID, pushState) is
    /// sent a StateChange at once when the account has moved on since.
    /// </summary>
    public string Digest { get; } = DigestOf(AccountId, ByType);

    private static string DigestOf(string accountId, IReadOnlyDictionary<string, string> byType)
    {
        var text = new StringBuilder(accountId);
        foreach (var (type, state) in byType.OrderBy(kv => kv.Key, StringComparer.Ordinal)) text.Append('\n').Append(type).Append('=').Append(state);
        return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text.ToString())).AsSpan(0, 12));
    }
}

/// <summary>The query of <c>GET /jmap/eventsource</c> (RFC 8620 7.3), checked.</summary>
/// <param name="Types">The data types to push; null for all ("*").</param>
/// <param name="CloseAfterState">closeafter=state: end the response after the first state event (long polling).</param>
/// <param name="PingSeconds">Seconds between pings; 0 for none.</param>
public sealed record EventSourceQuery(IReadOnlySet<string>? Types, bool CloseAfterState, int PingSeconds)
{
    /// <summary>
    /// RFC 8620 7.3 lets a server clamp ping, but its minimum may be no higher than 30 s and its
    /// maximum no lower than 300 s: so 1-29 become 30 and anything above 300 becomes 300. The ping
    /// event's "interval" tells the client the value used.
    /// </summary>
    public const int MinPing = 30;

    public const int MaxPing = 300;

    /// <summary>The checked query, or the reason it is refused (answered 400).</summary>
    public static (EventSourceQuery? Query, string? Error) Parse(string? types, string? closeafter, string? ping)
    {
        IReadOnlySet<string>? typeSet = null;
        if (!string.IsNullOrEmpty(types) && types != "*")
        {
            var names = types.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
            if (names.Length == 0 || names.Any(n => n == "*" || n.Length > 100)) return (null, "types must be '*' or a comma-separated list of type names");
            typeSet = names.ToHashSet(StringComparer.Ordinal);
        }
        bool closeAfterState;
        switch (closeafter)
        {
            case null or "" or "no": closeAfterState = false; break;
            case "state": closeAfterState = true; break;
            default: return (null, "closeafter must be 'state' or 'no'");
        }
        var seconds = 0;
        if (!string.IsNullOrEmpty(ping))
        {
            if (!int.TryParse(ping, NumberStyles.None, CultureInfo.InvariantCulture, out seconds))
                return (null, "ping must be a non-negative number of seconds");
            if (seconds > 0) seconds = Math.Clamp(seconds, MinPing, MaxPing);
        }
        return (new EventSourceQuery(typeSet, closeAfterState, seconds), null);
    }
}

/// <summary>Builds StateChange objects (RFC 8620 7.1) and event-stream frames (HTML Living Standard, server-sent events).</summary>
public static class StateChanges
{
    /// <summary>
    /// The types of <paramref name="now"/> that the client asked for (<paramref name="types"/>, null
    /// for all) and whose state differs from <paramref name="sent"/> (null: none sent yet).
    /// </summary>
    public static Dictionary<string, string> Changed(AccountStates now, AccountStates? sent, IReadOnlySet<string>? types)
    {
        var changed = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (type, state) in now.ByType)
        {
            if (types is not null && !types.Contains(type)) continue;
            if (sent is not null && sent.ByType.TryGetValue(type, out var before) && before == state) continue;
            changed[type] = state;
        }
        return changed;
    }

    /// <summary>A StateChange for one account; null when nothing the client wants changed.</summary>
    public static JsonObject? Build(string accountId, Dictionary<string, string> changed, string? pushState = null)
    {
        if (changed.Count == 0) return null;
        var types = new JsonObject();
        foreach (var (type, state) in changed.OrderBy(kv => kv.Key, StringComparer.Ordinal)) types[type] = state;
        var change = new JsonObject
        {
            ["@type"] = "StateChange",
            ["changed"] = new JsonObject { [accountId] = types },
        };
        // RFC 8887 4.3.5: over a WebSocket the StateChange carries the pushState to resume from.
        if (pushState is not null) change["pushState"] = pushState;
        return change;
    }

    /// <summary>A StateChange naming several accounts (RFC 8620 7.1: "changed" maps each account id to its TypeState); null when none changed.</summary>
    public static JsonObject? Build(Dictionary<string, Dictionary<string, string>> changedByAccount, string? pushState = null)
    {
        if (changedByAccount.Count == 0) return null;
        var accounts = new JsonObject();
        foreach (var (accountId, changed) in changedByAccount.OrderBy(kv => kv.Key, StringComparer.Ordinal))
        {
            var types = new JsonObject();
            foreach (var (type, state) in changed.OrderBy(kv => kv.Key, StringComparer.Ordinal)) types[type] = state;
            accounts[accountId] = types;
        }
        var change = new JsonObject { ["@type"] = "StateChange", ["changed"] = accounts };
        if (pushState is not null) change["pushState"] = pushState;
        return change;
    }

    /// <summary>One event of a text/event-stream; <paramref name="data"/> is one line of JSON.</summary>
    public static string Event(string type, string? id, string data)
    {
        var text = new StringBuilder();
        text.Append("event: ").Append(type).Append('\n');
        if (id is not null) text.Append("id: ").Append(id).Append('\n');
        text.Append("data: ").Append(data.Replace("\n", "", StringComparison.Ordinal).Replace("\r", "", StringComparison.Ordinal)).Append("\n\n");
        return text.ToString();
    }

    /// <summary>The ping event (RFC 8620 7.3): its data says the interval in use, which may differ from the one asked for.</summary>
    public static string Ping(int seconds) => Event("ping", null, new JsonObject { ["interval"] = seconds }.ToJsonString());
}

using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using GrainMail.Contracts.Accounts;
using GrainMail.Contracts.Domains;
using GrainMail.Gateways.Jmap.Methods;
using GrainMail.Gateways.Jmap.Protocol;

namespace GrainMail.Gateways.Jmap.Submission;

/// <summary>
/// Identity (RFC 8621 6) under urn:ietf:params:jmap:submission. For now the identities are derived,
/// not stored: one per address the account may send as — its own address and its account aliases
/// (the same rule as SMTP submission's MAIL FROM check) — named with the account's display name.
/// Identity/set therefore refuses every change with "forbidden" (6.3 lets a server refuse); the
/// state is a hash of the list, so a new alias changes it and /changes says cannotCalculateChanges.
/// </summary>
public sealed class IdentityMethods(IGrainFactory grains) : IJmapMethods
{
    public const string Uri = "urn:ietf:params:jmap:submission";

    public string Capability => Uri;

    // RFC 8621 1.3.2: the session's submission capability is an empty object.
    public JsonObject SessionCapability(JmapLimits limits) => new();

    public JsonObject AccountCapability(JmapAccount account) => new()
    {
        ["maxDelayedSend"] = 0,
        ["submissionExtensions"] = new JsonObject(),
    };

    public IReadOnlyDictionary<string, JmapMethodHandler> Methods => new Dictionary<string, JmapMethodHandler>
    {
        ["Identity/get"] = GetAsync,
        ["Identity/changes"] = ChangesAsync,
        ["Identity/set"] = SetAsync,
    };

    /// <summary>The identity id of an address: stable, the same on every gateway.</summary>
    public static string IdOf(string address) =>
        "I" + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(address.ToLowerInvariant())).AsSpan(0, 12));

    internal async Task<(List<JsonObject> Identities, string State)> IdentitiesAsync(JmapAccount account)
    {
        var at = account.Address.LastIndexOf('@');
        var local = account.Address[..at];
        var domain = account.Address[(at + 1)..];
        var info = await grains.GetGrain<IAccountGrain>(account.Address).GetInfo();
        var aliases = await grains.GetGrain<IDomainGrain>(domain).ListAccountAliases(local) ?? [];
        var name = info?.DisplayName ?? "";
        var addresses = new List<string> { account.Address };
        addresses.AddRange(aliases.Where(a => !a.Equals(account.Address, StringComparison.OrdinalIgnoreCase)).Order(StringComparer.Ordinal));
        var list = addresses.Select(a => new JsonObject
        {
            ["id"] = IdOf(a),
            ["name"] = name,
            ["email"] = a,
            ["replyTo"] = null,
            ["bcc"] = null,
            ["textSignature"] = "",
            ["htmlSignature"] = "",
            ["mayDelete"] = false,
        }).ToList();
        var state = "S" + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(name + "\n" + string.Join('\n', addresses))).AsSpan(0, 8));
        return (list, state);
    }

    private async Task<JsonObject> GetAsync(JmapCall call)
    {
        var account = call.Account(Uri);
        var ids = Args.Strings(call.Arguments, "ids");
        if (ids is not null && ids.Count > call.Request.Limits.MaxObjectsInGet)
            throw new JmapMethodException(JmapErrors.RequestTooLarge, $"at most {call.Request.Limits.MaxObjectsInGet} ids");
        var properties = Args.Strings(call.Arguments, "properties");
        var (identities, state) = await IdentitiesAsync(account);
        var byId = identities.ToDictionary(i => (string)i["id"]!);
        var found = new JsonArray();
        var notFound = new JsonArray();
        foreach (var id in ids ?? [.. byId.Keys])
        {
            if (!byId.TryGetValue(id, out var identity))
            {
                notFound.Add(id);
                continue;
            }
            var copy = (JsonObject)identity.DeepClone();
            if (properties is not null)
            {
                foreach (var key in copy.Select(p => p.Key).ToList())
                {
                    if (key != "id" && !properties.Contains(key)) copy.Remove(key);
                }
            }
            found.Add(copy);
        }
        return new JsonObject { ["accountId"] = account.Id, ["state"] = state, ["list"] = found, ["notFound"] = notFound };
    }

    private async Task<JsonObject> ChangesAsync(JmapCall call)
    {
        var account = call.Account(Uri);
        var since = Args.String(call.Arguments, "sinceState", required: true)!;
        Args.Long(call.Arguments, "maxChanges", unsigned: true);
        var (_, state) = await IdentitiesAsync(account);
        // Only "nothing changed" can be told without a change log (RFC 8620 5.2 allows the error otherwise).
        if (since != state) throw new JmapMethodException(JmapErrors.CannotCalculateChanges, "identities changed; fetch them again with Identity/get");
        return new JsonObject
        {
            ["accountId"] = account.Id,
            ["oldState"] = since,
            ["newState"] = state,
            ["hasMoreChanges"] = false,
            ["created"] = new JsonArray(),
            ["updated"] = new JsonArray(),
            ["destroyed"] = new JsonArray(),
        };
    }

    private async Task<JsonObject> SetAsync(JmapCall call)
    {
        var account = call.Account(Uri, write: true);
        var (identities, state) = await IdentitiesAsync(account);
        if (Args.String(call.Arguments, "ifInState") is { } expected && expected != state)
            throw new JmapMethodException(JmapErrors.StateMismatch, "the identities changed since that state");
        var create = Args.Object(call.Arguments, "create");
        var update = Args.Object(call.Arguments, "update");
        var destroy = Args.Strings(call.Arguments, "destroy");
        var ids = identities.Select(i => (string)i["id"]!).ToHashSet();
        var response = new SetResponse(account.Id, state);
        foreach (var (creationId, _) in create ?? new JsonObject())
            response.NotCreated(creationId, Refused("identities are the account's addresses and aliases; an administrator adds aliases"));
        foreach (var (id, _) in update ?? new JsonObject())
            response.NotUpdated(id, ids.Contains(id) ? Refused("identities cannot be edited yet") : NotFound());
        foreach (var id in destroy ?? [])
            response.NotDestroyed(id, ids.Contains(id) ? Refused("an identity goes when its alias is removed") : NotFound());
        return response.Build(state);
    }

    private static JsonObject Refused(string description) => new() { ["type"] = "forbidden", ["description"] = description };

    private static JsonObject NotFound() => new() { ["type"] = "notFound" };
}

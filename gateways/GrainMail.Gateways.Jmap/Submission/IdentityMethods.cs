using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using GrainMail.Contracts.Jmap;
using GrainMail.Gateways.Jmap.Mail;
using GrainMail.Gateways.Jmap.Methods;
using GrainMail.Gateways.Jmap.Protocol;

namespace GrainMail.Gateways.Jmap.Submission;

/// <summary>
/// Identity (RFC 8621 6) under urn:ietf:params:jmap:submission, stored per account by its
/// <see cref="IJmapIdentityGrain"/>. Each address the account has (its own, its account aliases) has
/// an identity the server makes; the user renames them, gives them signatures, and creates more for
/// any address the account may send as — the SMTP submission sender rule of <see cref="JmapSubmitter"/>,
/// so a domain alias form of an address counts — else forbiddenFrom. The identity of the account's
/// own address is the default and cannot be destroyed (mayDelete false): submissions, the webmail and
/// the vacation reply fall back to it. The state is the grain's counter, so /changes is computed.
/// </summary>
public sealed class IdentityMethods(IGrainFactory grains, JmapSubmitter submitter, Push.AccountPushHub push) : IJmapMethods
{
    public const string Uri = "urn:ietf:params:jmap:submission";

    private static readonly string[] AllProperties = ["id", "name", "email", "replyTo", "bcc", "textSignature", "htmlSignature", "mayDelete"];

    /// <summary>What a client may set: everything but the id and mayDelete; email only at creation (RFC 8621 6: immutable).</summary>
    private static readonly string[] Settable = ["name", "email", "replyTo", "bcc", "textSignature", "htmlSignature"];

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

    /// <summary>The identity id of an address the account has: stable, the same on every gateway.</summary>
    public static string IdOf(string address) => JmapIdentityIds.Derived(address);

    private static string StateOf(long counter) => counter.ToString(CultureInfo.InvariantCulture);

    /// <summary>The live identities as JMAP objects (mayDelete included) and the state.</summary>
    internal async Task<(List<JsonObject> Identities, string State)> IdentitiesAsync(JmapAccount account)
    {
        var log = await grains.GetGrain<IJmapIdentityGrain>(account.Address).Read();
        return (Live(account, log), StateOf(log.State));
    }

    private static List<JsonObject> Live(JmapAccount account, IdentityLog log) =>
        log.Items.Where(i => !i.Destroyed).Select(i => ToJmap(account, i)).ToList();

    private static JsonObject ToJmap(JmapAccount account, StoredIdentity i)
    {
        var stored = (JsonObject)JsonNode.Parse(i.Json)!;
        var o = new JsonObject { ["id"] = i.Id };
        foreach (var p in Settable) o[p] = stored[p]?.DeepClone() ?? (p is "textSignature" or "htmlSignature" or "name" ? "" : null);
        o["email"] = i.Email;
        o["mayDelete"] = !IsDefault(account, i);
        return o;
    }

    private static bool IsDefault(JmapAccount account, StoredIdentity i) => i.Derived && i.Email.Equals(account.Address, StringComparison.OrdinalIgnoreCase);

    private async Task<JsonObject> GetAsync(JmapCall call)
    {
        var account = call.Account(Uri);
        var ids = StandardMethods.Ids(call);
        var props = StandardMethods.Properties(call.Arguments, "properties", AllProperties, p => AllProperties.Contains(p));
        if (!props.Contains("id")) props.Insert(0, "id");
        var (identities, state) = await IdentitiesAsync(account);
        var byId = identities.ToDictionary(i => (string)i["id"]!);
        var found = new JsonArray();
        var notFound = new JsonArray();
        foreach (var raw in ids?.Distinct() ?? byId.Keys)
        {
            var id = StandardMethods.ResolveCreated(call, raw) ?? raw;
            if (!byId.TryGetValue(id, out var identity))
            {
                notFound.Add(raw);
                continue;
            }
            var copy = new JsonObject();
            foreach (var p in props) copy[p] = identity[p]?.DeepClone();
            found.Add(copy);
        }
        return new JsonObject { ["accountId"] = account.Id, ["state"] = state, ["list"] = found, ["notFound"] = notFound };
    }

    /// <summary>RFC 8620 5.2 from the counter: each identity changed since the state, once; a page ends between two counter values.</summary>
    private async Task<JsonObject> ChangesAsync(JmapCall call)
    {
        var account = call.Account(Uri);
        var since = Args.String(call.Arguments, "sinceState", required: true)!;
        var max = Args.Long(call.Arguments, "maxChanges", unsigned: true);
        if (max == 0) throw Args.Invalid("'maxChanges' must be positive");
        var log = await grains.GetGrain<IJmapIdentityGrain>(account.Address).Read();
        if (!long.TryParse(since, NumberStyles.None, CultureInfo.InvariantCulture, out var from) || from > log.State)
            throw new JmapMethodException(JmapErrors.CannotCalculateChanges, "The state is not one of this account's identity states");
        var changed = log.Items.Where(i => i.UpdatedSeq > from).OrderBy(i => i.UpdatedSeq).ToList();
        var upTo = log.State;
        var more = false;
        if (max is long limit && changed.Count > limit)
        {
            var cut = changed[(int)limit - 1].UpdatedSeq;
            if (changed[(int)limit].UpdatedSeq == cut) cut--; // keep one counter value's changes together
            if (cut <= from) throw new JmapMethodException(JmapErrors.CannotCalculateChanges, "More changes at once than maxChanges");
            changed = changed.Where(i => i.UpdatedSeq <= cut).ToList();
            upTo = cut;
            more = true;
        }
        return new JsonObject
        {
            ["accountId"] = account.Id,
            ["oldState"] = since,
            ["newState"] = StateOf(upTo),
            ["hasMoreChanges"] = more,
            ["created"] = StandardMethods.Array(changed.Where(i => !i.Destroyed && i.CreatedSeq > from).Select(i => i.Id)),
            ["updated"] = StandardMethods.Array(changed.Where(i => !i.Destroyed && i.CreatedSeq <= from).Select(i => i.Id)),
            ["destroyed"] = StandardMethods.Array(changed.Where(i => i.Destroyed && i.CreatedSeq <= from).Select(i => i.Id)),
        };
    }

    private async Task<JsonObject> SetAsync(JmapCall call)
    {
        StandardMethods.CheckSetSize(call);
        var account = call.Account(Uri, write: true);
        var grain = grains.GetGrain<IJmapIdentityGrain>(account.Address);
        var log = await grain.Read();
        var oldState = StateOf(log.State);
        StandardMethods.CheckIfInState(call, oldState);
        var create = Args.Object(call.Arguments, "create");
        var update = Args.Object(call.Arguments, "update");
        var destroy = Args.Strings(call.Arguments, "destroy");
        var response = new SetResponse(account.Id, oldState);
        var state = log.State;
        var live = log.Items.Where(i => !i.Destroyed).ToDictionary(i => i.Id, StringComparer.Ordinal);

        foreach (var (cid, node) in create ?? [])
        {
            if (node is not JsonObject props)
            {
                response.NotCreated(cid, StandardMethods.SetError("invalidProperties", "Not an object"));
                continue;
            }
            var (values, error) = IdentityRules.Validate(props, creating: true, current: null);
            if (error is not null)
            {
                response.NotCreated(cid, error);
                continue;
            }
            var email = (string)values!["email"]!;
            // RFC 8621 6.3: forbiddenFrom when the user may not send as that address (the SMTP sender rule).
            if (!await submitter.MaySendAsAsync(account.Address, email))
            {
                response.NotCreated(cid, StandardMethods.SetError("forbiddenFrom", $"This account may not send as <{email}>", ["email"]));
                continue;
            }
            var id = JmapIdentityIds.New();
            state = await grain.Create(id, email, values.ToJsonString());
            call.Request.CreatedIds[cid] = id;
            var serverSet = new JsonObject { ["id"] = id, ["mayDelete"] = true };
            foreach (var p in Settable)
                if (!props.ContainsKey(p)) serverSet[p] = values[p]?.DeepClone(); // defaults the client did not give
            response.Created(cid, serverSet);
        }

        foreach (var (rawId, node) in update ?? [])
        {
            var id = StandardMethods.ResolveCreated(call, rawId) ?? rawId;
            if (!live.TryGetValue(id, out var current) && !call.Request.CreatedIds.ContainsValue(id))
            {
                response.NotUpdated(rawId, StandardMethods.SetError("notFound"));
                continue;
            }
            if (node is not JsonObject patch)
            {
                response.NotUpdated(rawId, StandardMethods.SetError("invalidPatch", "Not an object"));
                continue;
            }
            // An identity created in this same call is read back from the grain.
            current ??= (await grain.Read()).Items.First(i => i.Id == id);
            var stored = (JsonObject)JsonNode.Parse(current.Json)!;
            stored["email"] = current.Email;
            var (values, error) = IdentityRules.Validate(patch, creating: false, current: stored);
            if (error is not null)
            {
                response.NotUpdated(rawId, error);
                continue;
            }
            var next = await grain.Update(id, values!.ToJsonString());
            if (next is null)
            {
                response.NotUpdated(rawId, StandardMethods.SetError("notFound"));
                continue;
            }
            state = next.Value;
            response.Updated(rawId);
        }

        foreach (var rawId in destroy ?? [])
        {
            var id = StandardMethods.ResolveCreated(call, rawId) ?? rawId;
            var known = live.GetValueOrDefault(id);
            if (known is not null && IsDefault(account, known))
            {
                // RFC 8621 6.3 lets the server forbid it: the account's own address always has its identity.
                response.NotDestroyed(rawId, StandardMethods.SetError("forbidden", "The identity of the account's own address cannot be destroyed"));
                continue;
            }
            if (await grain.Destroy(id) is not long next)
            {
                response.NotDestroyed(rawId, StandardMethods.SetError("notFound"));
                continue;
            }
            state = next;
            response.Destroyed(rawId);
        }
        if (state != log.State) push.Poke(account.Address); // the Identity state is pushed (RFC 8620 7.1)
        return response.Build(StateOf(state));
    }
}

/// <summary>The pure checks of Identity/set (RFC 8621 6.3): property names, types, and what may change. No I/O.</summary>
public static class IdentityRules
{
    public const int MaxSignatureLength = 64 * 1024;
    public const int MaxNameLength = 256;
    public const int MaxAddresses = 50;

    /// <summary>
    /// The identity's stored properties after <paramref name="given"/> (a create, or an update's patch of
    /// whole properties on <paramref name="current"/>), or the SetError: unknown or server-set
    /// properties and wrong types are invalidProperties, listing them; email cannot change.
    /// </summary>
    public static (JsonObject? Values, JsonObject? Error) Validate(JsonObject given, bool creating, JsonObject? current)
    {
        var values = current is null
            ? new JsonObject { ["name"] = "", ["email"] = null, ["replyTo"] = null, ["bcc"] = null, ["textSignature"] = "", ["htmlSignature"] = "" }
            : (JsonObject)current.DeepClone();
        var bad = new List<string>();
        foreach (var (key, value) in given)
        {
            var ok = key switch
            {
                "name" => IsString(value, MaxNameLength),
                "textSignature" or "htmlSignature" => IsString(value, MaxSignatureLength),
                "replyTo" or "bcc" => value is null || IsAddressList(value),
                // Immutable once made (RFC 8621 6): an update may only repeat it.
                "email" => creating ? IsString(value, 255) && GrainMail.Contracts.MailAddress.Normalize((string)value!) is not null
                    : value is JsonValue v && v.GetValueKind() == JsonValueKind.String && ((string)v!).Equals((string?)values["email"], StringComparison.OrdinalIgnoreCase),
                // id and mayDelete are the server's; a create may not give them, an update may only repeat them (RFC 8620 5.3).
                "id" or "mayDelete" => false,
                _ => false,
            };
            if (!ok)
            {
                bad.Add(key);
                continue;
            }
            values[key] = value?.DeepClone();
        }
        if (creating && values["email"] is null && !bad.Contains("email")) bad.Add("email");
        if (bad.Count > 0)
            return (null, StandardMethods.SetError("invalidProperties", "Invalid or read-only properties: " + string.Join(", ", bad), bad));
        return (values, null);
    }

    private static bool IsString(JsonNode? node, int maxLength) =>
        node is JsonValue v && v.GetValueKind() == JsonValueKind.String && ((string)v!).Length <= maxLength;

    /// <summary>An EmailAddress[] (RFC 8621 4.1.2.3): objects with a string email and a string or null name.</summary>
    private static bool IsAddressList(JsonNode node) =>
        node is JsonArray list && list.Count <= MaxAddresses && list.All(a => a is JsonObject o
            && o.All(kv => kv.Key is "name" or "email")
            && o["email"] is JsonValue e && e.GetValueKind() == JsonValueKind.String && GrainMail.Contracts.MailAddress.Normalize((string)e!) is not null
            && (o["name"] is null || (o["name"] is JsonValue n && n.GetValueKind() == JsonValueKind.String)));
}

using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using GrainMail.Contracts.Jmap;
using GrainMail.Gateways.Jmap.Mail;
using GrainMail.Gateways.Jmap.Methods;
using GrainMail.Gateways.Jmap.Protocol;
using Microsoft.Extensions.DependencyInjection;

namespace GrainMail.Gateways.Jmap.Submission;

/// <summary>
/// EmailSubmission (RFC 8621 7) under urn:ietf:params:jmap:submission. Creating one sends the Email
/// through <see cref="JmapSubmitter"/> (the SMTP submission path); the objects are kept by the
/// account's <see cref="IEmailSubmissionGrain"/>, whose counter is the state, so /changes and
/// /queryChanges are computed, not refused. Sending is immediate (maxDelayedSend 0): a submission
/// starts "pending" with every recipient "queued" (in a mailbox's delivery stream, the outbound
/// queue, or held for approval); the grain follows the message through the records and moves each
/// recipient to yes, no or unknown (relayed out), the submission to "final", and lists the DSNs and
/// MDNs that come back — each change a new state, pushed.
/// </summary>
public sealed class EmailSubmissionMethods(IGrainFactory grains, MailAccess access, EmailStore store, JmapSubmitter submitter, IdentityMethods identities,
    Push.AccountPushHub push) : IJmapMethods
{
    private static readonly string[] AllProperties =
        ["id", "identityId", "emailId", "threadId", "envelope", "sendAt", "undoStatus", "deliveryStatus", "dsnBlobIds", "mdnBlobIds"];

    public string Capability => IdentityMethods.Uri;

    // The capability objects (maxDelayedSend 0, no submissionExtensions) are Identity's family's.
    public JsonObject? SessionCapability(JmapLimits limits) => null;

    public JsonObject? AccountCapability(JmapAccount account) => null;

    public IReadOnlyDictionary<string, JmapMethodHandler> Methods => new Dictionary<string, JmapMethodHandler>
    {
        ["EmailSubmission/get"] = GetAsync,
        ["EmailSubmission/changes"] = ChangesAsync,
        ["EmailSubmission/query"] = QueryAsync,
        ["EmailSubmission/queryChanges"] = QueryChangesAsync,
        ["EmailSubmission/set"] = SetAsync,
    };

    private static string StateOf(long counter) => counter.ToString(CultureInfo.InvariantCulture);

    /// <summary>A state of ours at or above the floor (the oldest counter whose changes are still known); null otherwise.</summary>
    private static long? ParseState(string state, SubmissionLog log) =>
        long.TryParse(state, NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n >= log.Floor && n <= log.State ? n : null;

    private Task<SubmissionLog> ReadAsync(JmapAccount account) => grains.GetGrain<IEmailSubmissionGrain>(account.Address).Read();

    private static List<JsonObject> Live(SubmissionLog log) =>
        log.Items.Where(i => !i.Destroyed).Select(i => (JsonObject)JsonNode.Parse(i.Json)!).ToList();

    private async Task<JsonObject> GetAsync(JmapCall call)
    {
        var account = call.Account(IdentityMethods.Uri);
        var ids = StandardMethods.Ids(call);
        var props = StandardMethods.Properties(call.Arguments, "properties", AllProperties, p => AllProperties.Contains(p));
        if (!props.Contains("id")) props.Insert(0, "id");
        var log = await ReadAsync(account);
        var byId = Live(log).ToDictionary(o => (string)o["id"]!);
        var list = new JsonArray();
        var notFound = new JsonArray();
        foreach (var raw in ids?.Distinct() ?? byId.Keys)
        {
            var id = StandardMethods.ResolveCreated(call, raw) ?? raw;
            if (!byId.TryGetValue(id, out var o))
            {
                notFound.Add(raw);
                continue;
            }
            var copy = new JsonObject();
            foreach (var p in props) copy[p] = o[p]?.DeepClone();
            list.Add(copy);
        }
        return new JsonObject { ["accountId"] = account.Id, ["state"] = StateOf(log.State), ["list"] = list, ["notFound"] = notFound };
    }

    private async Task<JsonObject> ChangesAsync(JmapCall call)
    {
        var account = call.Account(IdentityMethods.Uri);
        var since = Args.String(call.Arguments, "sinceState", required: true)!;
        var max = Args.Long(call.Arguments, "maxChanges", unsigned: true);
        if (max == 0) throw Args.Invalid("'maxChanges' must be positive");
        var log = await ReadAsync(account);
        var from = ParseState(since, log) ?? throw new JmapMethodException(JmapErrors.CannotCalculateChanges, "The state is unknown or older than the submissions kept");
        // Changes in counter order; a page ends between two counter values, so its newState is exact (RFC 8620 5.2).
        var changed = log.Items.Where(i => i.UpdatedSeq > from).OrderBy(i => i.UpdatedSeq).ToList();
        var upTo = log.State;
        var more = false;
        if (max is long limit && changed.Count > limit)
        {
            var cut = changed[(int)limit - 1].UpdatedSeq;
            if (changed[(int)limit].UpdatedSeq == cut) cut--; // keep a counter value's changes together
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

    /// <summary>The ids matching "filter" in the order of "sort" (RFC 8621 7.3).</summary>
    private static List<string> Query(JmapCall call, List<JsonObject> items)
    {
        var filter = Args.Object(call.Arguments, "filter");
        var sort = call.Arguments["sort"] is null ? null : call.Arguments["sort"] as JsonArray ?? throw Args.Invalid("'sort' must be an array");
        IEnumerable<JsonObject> matching = items;
        if (filter is not null)
        {
            // Checked once against a blank object, so a bad filter is an error even when nothing is there to match.
            Matches(Blank, filter);
            matching = matching.Where(o => Matches(o, filter));
        }
        var list = matching.ToList();
        var comparers = new List<Comparison<JsonObject>>();
        foreach (var s in sort ?? [])
        {
            if (s is not JsonObject c || Args.String(c, "property") is not { } prop) throw Args.Invalid("Each sort is a Comparator with 'property'");
            var asc = Args.Bool(c, "isAscending", true);
            Comparison<JsonObject> cmp = prop switch
            {
                "emailId" or "threadId" => (a, b) => string.CompareOrdinal((string?)a[prop], (string?)b[prop]),
                "sentAt" => (a, b) => string.CompareOrdinal((string?)a["sendAt"], (string?)b["sendAt"]),
                _ => throw new JmapMethodException(JmapErrors.UnsupportedSort, $"Cannot sort submissions by '{prop}'"),
            };
            comparers.Add(asc ? cmp : (a, b) => -cmp(a, b));
        }
        // Stable: ties keep the order of creation.
        var order = list.Select((o, i) => (o, i)).ToList();
        order.Sort((x, y) =>
        {
            foreach (var c in comparers)
                if (c(x.o, y.o) is var r && r != 0) return r;
            return x.i.CompareTo(y.i);
        });
        return order.Select(x => (string)x.o["id"]!).ToList();
    }

    private static readonly JsonObject Blank = new() { ["identityId"] = "", ["emailId"] = "", ["threadId"] = "", ["undoStatus"] = "", ["sendAt"] = "" };

    private static bool Matches(JsonObject o, JsonObject filter)
    {
        if (filter.ContainsKey("operator"))
        {
            var op = Args.String(filter, "operator");
            var conditions = (filter["conditions"] as JsonArray ?? throw Args.Invalid("'conditions' must be an array"))
                .Select(c => c as JsonObject ?? throw Args.Invalid("A condition must be an object")).ToList();
            // Every condition is evaluated (no short cut), so that a bad one is found whatever the others say.
            var results = op is "AND" or "OR" or "NOT" ? conditions.Select(c => Matches(o, c)).ToList()
                : throw new JmapMethodException(JmapErrors.UnsupportedFilter, $"Unknown operator '{op}'");
            return op switch
            {
                "AND" => results.All(r => r),
                "OR" => results.Any(r => r),
                _ => !results.Any(r => r),
            };
        }
        var all = true;
        foreach (var (key, _) in filter)
        {
            var ok = key switch
            {
                "identityIds" => Args.Strings(filter, key)!.Contains((string)o["identityId"]!),
                "emailIds" => Args.Strings(filter, key)!.Contains((string)o["emailId"]!),
                "threadIds" => Args.Strings(filter, key)!.Contains((string?)o["threadId"] ?? ""),
                "undoStatus" => Args.String(filter, key) == (string?)o["undoStatus"],
                "before" => string.CompareOrdinal((string)o["sendAt"]!, UtcDate(filter, key)) < 0,
                "after" => string.CompareOrdinal((string)o["sendAt"]!, UtcDate(filter, key)) >= 0,
                _ => throw new JmapMethodException(JmapErrors.UnsupportedFilter, $"Unknown submission filter '{key}'"),
            };
            all &= ok;
        }
        return all;
    }

    /// <summary>A UTCDate argument (RFC 8620 1.4) in the form sendAt is stored in, so the two compare as strings.</summary>
    private static string UtcDate(JsonObject args, string name)
    {
        var text = Args.String(args, name);
        if (text is null || !DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var d))
            throw Args.Invalid($"'{name}' must be a UTCDate");
        return EmailReader.UtcDate(d);
    }

    private async Task<JsonObject> QueryAsync(JmapCall call)
    {
        var account = call.Account(IdentityMethods.Uri);
        var position = Args.Long(call.Arguments, "position") ?? 0;
        var limit = Args.Long(call.Arguments, "limit", unsigned: true);
        var calculateTotal = Args.Bool(call.Arguments, "calculateTotal", false);
        var anchor = Args.String(call.Arguments, "anchor");
        var anchorOffset = Args.Long(call.Arguments, "anchorOffset") ?? 0;
        var log = await ReadAsync(account);
        var ids = Query(call, Live(log));
        if (anchor is not null)
        {
            // RFC 8620 5.5: the anchor's index plus the offset, clamped at 0; position is ignored.
            var at = ids.IndexOf(anchor);
            if (at < 0) throw new JmapMethodException(JmapErrors.AnchorNotFound, $"'{anchor}' is not in the results");
            position = Math.Max(0, at + anchorOffset);
        }
        return MailboxMethods.QueryResult(account.Id, StateOf(log.State), ids, position, limit, calculateTotal, canCalculateChanges: true);
    }

    /// <summary>
    /// RFC 8620 5.6 computed from the counter: every submission changed since the old state is
    /// "removed" (if it may have been in the old results) and "added" again at its index if it matches
    /// now; those that did not change keep their relative order, so the client's list comes out right.
    /// </summary>
    private async Task<JsonObject> QueryChangesAsync(JmapCall call)
    {
        var account = call.Account(IdentityMethods.Uri);
        var since = Args.String(call.Arguments, "sinceQueryState", required: true)!;
        var max = Args.Long(call.Arguments, "maxChanges", unsigned: true);
        var calculateTotal = Args.Bool(call.Arguments, "calculateTotal", false);
        Args.String(call.Arguments, "upToId"); // an optimisation the server may ignore (RFC 8620 5.6)
        var log = await ReadAsync(account);
        var from = ParseState(since, log) ?? throw new JmapMethodException(JmapErrors.CannotCalculateChanges, "The query state is unknown or older than the submissions kept");
        var changed = log.Items.Where(i => i.UpdatedSeq > from).ToList();
        var ids = Query(call, Live(log));
        var changedIds = changed.Select(i => i.Id).ToHashSet(StringComparer.Ordinal);
        var removed = changed.Where(i => i.CreatedSeq <= from).Select(i => i.Id).ToList();
        var added = new JsonArray();
        for (var index = 0; index < ids.Count; index++)
            if (changedIds.Contains(ids[index])) added.Add(new JsonObject { ["id"] = ids[index], ["index"] = index });
        if (max is long limit && removed.Count + added.Count > limit)
            throw new JmapMethodException(JmapErrors.TooManyChanges, $"More than maxChanges ({limit}) changes");
        var result = new JsonObject
        {
            ["accountId"] = account.Id,
            ["oldQueryState"] = since,
            ["newQueryState"] = StateOf(log.State),
            ["removed"] = StandardMethods.Array(removed),
            ["added"] = added,
        };
        if (calculateTotal) result["total"] = ids.Count;
        return result;
    }

    private async Task<JsonObject> SetAsync(JmapCall call)
    {
        StandardMethods.CheckSetSize(call);
        var account = call.Account(IdentityMethods.Uri, write: true);
        var submissions = grains.GetGrain<IEmailSubmissionGrain>(account.Address);
        var log = await submissions.Read();
        var state = log.State;
        StandardMethods.CheckIfInState(call, StateOf(state));
        var response = new SetResponse(account.Id, StateOf(state));
        var create = Args.Object(call.Arguments, "create");
        var update = Args.Object(call.Arguments, "update");
        var destroy = Args.Strings(call.Arguments, "destroy");
        var onSuccessUpdate = Args.Object(call.Arguments, "onSuccessUpdateEmail");
        var onSuccessDestroy = Args.Strings(call.Arguments, "onSuccessDestroyEmail");
        // Submission id (or "#creationId") → the Email it sent, for the implicit Email/set.
        var emailOf = new Dictionary<string, string>(StringComparer.Ordinal);
        var existing = Live(log).ToDictionary(o => (string)o["id"]!);

        if (create is { Count: > 0 })
        {
            var (known, _) = await identities.IdentitiesAsync(account);
            var identityEmails = known.ToDictionary(i => (string)i["id"]!, i => (string)i["email"]!);
            using var mail = await access.OpenAsync(call, write: true);
            foreach (var (cid, node) in create)
            {
                var outcome = await CreateAsync(call, account, mail, identityEmails, node);
                if (outcome.Error is { } error)
                {
                    response.NotCreated(cid, error);
                    continue;
                }
                var o = outcome.Object!;
                var id = (string)o["id"]!;
                var sendAt = DateTimeOffset.Parse((string)o["sendAt"]!, CultureInfo.InvariantCulture);
                state = outcome.IntakeId is { } intake
                    ? await submissions.AddTracked(id, sendAt, o.ToJsonString(), intake, outcome.MessageId)
                    : await submissions.Add(id, sendAt, o.ToJsonString());
                call.Request.CreatedIds[cid] = id;
                emailOf["#" + cid] = (string)o["emailId"]!;
                response.Created(cid, new JsonObject
                {
                    ["id"] = id,
                    ["threadId"] = o["threadId"]?.DeepClone(),
                    ["sendAt"] = o["sendAt"]?.DeepClone(),
                    ["undoStatus"] = o["undoStatus"]?.DeepClone(),
                    ["deliveryStatus"] = o["deliveryStatus"]?.DeepClone(),
                });
            }
        }

        foreach (var (rawId, node) in update ?? [])
        {
            var id = StandardMethods.ResolveCreated(call, rawId) ?? rawId;
            if (!existing.TryGetValue(id, out var o) && !call.Request.CreatedIds.ContainsValue(id))
            {
                response.NotUpdated(rawId, StandardMethods.SetError("notFound"));
                continue;
            }
            if (node is not JsonObject patch || patch.Any(kv => kv.Key != "undoStatus"))
            {
                response.NotUpdated(rawId, StandardMethods.SetError("invalidProperties", "Only undoStatus may change", ["undoStatus"]));
                continue;
            }
            if (patch["undoStatus"] is JsonValue v && v.GetValueKind() == JsonValueKind.String && (string?)v == "canceled")
            {
                // RFC 8621 7.5: sending is not delayed here (maxDelayedSend 0); a "pending" message is in the delivery
                // queues already, which this server does not take messages out of.
                response.NotUpdated(rawId, StandardMethods.SetError("cannotUnsend", "The message was handed to delivery at once (maxDelayedSend is 0)"));
                continue;
            }
            if (patch.Count > 0 && (string?)patch["undoStatus"] != "final")
            {
                response.NotUpdated(rawId, StandardMethods.SetError("invalidProperties", "undoStatus may only become \"canceled\"", ["undoStatus"]));
                continue;
            }
            response.Updated(rawId);
            if (o is not null) emailOf[rawId] = (string)o["emailId"]!;
        }

        var toDestroy = new List<string>();
        foreach (var rawId in destroy ?? [])
        {
            var id = StandardMethods.ResolveCreated(call, rawId) ?? rawId;
            if (!existing.TryGetValue(id, out var o))
            {
                response.NotDestroyed(rawId, StandardMethods.SetError("notFound"));
                continue;
            }
            // RFC 8621 7.5: destroying the record does not unsend the message.
            toDestroy.Add(id);
            response.Destroyed(rawId);
            emailOf[rawId] = (string)o["emailId"]!;
        }
        if (toDestroy.Count > 0) state = await submissions.Destroy(toDestroy);
        var result = response.Build(StateOf(state));
        if (state != log.State) push.Poke(account.Address); // the EmailSubmission state is pushed (RFC 8620 7.1)
        await ImplicitEmailSetAsync(call, account, response, emailOf, onSuccessUpdate, onSuccessDestroy);
        return result;
    }

    private sealed record Created(JsonObject? Error, JsonObject? Object, Guid? IntakeId = null, string? MessageId = null);

    private async Task<Created> CreateAsync(JmapCall call, JmapAccount account, MailSession mail, Dictionary<string, string> identityEmails, JsonNode? node)
    {
        if (node is not JsonObject props) return new(StandardMethods.SetError("invalidProperties", "Not an object"), null);
        var bad = props.Where(kv => kv.Key is not ("identityId" or "emailId" or "envelope")
            && !(kv.Key is "undoStatus" && (string?)kv.Value is "final")).Select(kv => kv.Key).ToList();
        if (bad.Count > 0) return new(StandardMethods.SetError("invalidProperties", "Only identityId, emailId and envelope can be given (sending is never delayed)", bad), null);
        var identityId = props["identityId"] is JsonValue iv && iv.GetValueKind() == JsonValueKind.String ? (string)iv! : null;
        if (identityId is null || !identityEmails.ContainsKey(identityId))
            return new(StandardMethods.SetError("invalidProperties", "No such identity", ["identityId"]), null);
        var rawEmailId = props["emailId"] is JsonValue ev && ev.GetValueKind() == JsonValueKind.String ? (string)ev! : null;
        var emailId = rawEmailId is null ? null : StandardMethods.ResolveCreated(call, rawEmailId);
        await mail.RefreshAsync();
        var copies = emailId is null ? [] : mail.View.Copies(emailId);
        if (copies.Count == 0) return new(StandardMethods.SetError("invalidProperties", "No such Email", ["emailId"]), null);
        var loaded = await store.LoadAsync(copies[0]);
        if (loaded is null) return new(StandardMethods.SetError("invalidProperties", "The Email is gone", ["emailId"]), null);
        // The id is the message's ENVID (RFC 3461), so it is chosen before the message leaves.
        var id = "S" + Guid.CreateVersion7().ToString("N")[..24];
        var sent = await submitter.SendAsync(account.Address, loaded.Raw, props["envelope"], call.Request.Aborted, envelopeId: id);
        if (sent.Error is { } error) return new(error, null);
        var sendAt = EmailReader.UtcDate(DateTimeOffset.UtcNow);
        var o = new JsonObject
        {
            ["id"] = id,
            ["identityId"] = identityId,
            ["emailId"] = emailId,
            ["threadId"] = await store.ThreadIdAsync(copies[0]),
            ["envelope"] = props["envelope"] is null ? null : sent.Envelope!.ToJson(),
            ["sendAt"] = sendAt,
            // RFC 8621 7: "pending" until the message reaches a recipient; the account's grain moves it to "final".
            ["undoStatus"] = "pending",
            ["deliveryStatus"] = sent.DeliveryStatus,
            ["dsnBlobIds"] = new JsonArray(),
            ["mdnBlobIds"] = new JsonArray(),
            // Private (never in a /get answer): who each recipient became, for the status (Grains/Jmap/SubmissionStatus).
            ["_targets"] = sent.Targets,
        };
        return new(null, o, sent.IntakeId, sent.MessageId);
    }

    /// <summary>
    /// onSuccessUpdateEmail and onSuccessDestroyEmail (RFC 8621 7.5): after the submissions, one
    /// Email/set of the same account, whose response follows this one under the same call id.
    /// Only entries whose submission succeeded in this call take part.
    /// </summary>
    private static async Task ImplicitEmailSetAsync(JmapCall call, JmapAccount account, SetResponse response, Dictionary<string, string> emailOf,
        JsonObject? onSuccessUpdate, List<string>? onSuccessDestroy)
    {
        if (onSuccessUpdate is null && onSuccessDestroy is null) return;
        bool Succeeded(string key) => key.StartsWith('#') ? response.WasCreated(key[1..]) : response.WasUpdated(key) || response.WasDestroyed(key);
        var update = new JsonObject();
        foreach (var (key, patch) in onSuccessUpdate ?? [])
            if (Succeeded(key) && emailOf.TryGetValue(key, out var emailId)) update[emailId] = patch?.DeepClone();
        var destroy = new JsonArray();
        foreach (var key in onSuccessDestroy ?? [])
            if (Succeeded(key) && emailOf.TryGetValue(key, out var emailId)) destroy.Add(emailId);
        if (update.Count == 0 && destroy.Count == 0) return;
        var args = new JsonObject { ["accountId"] = account.Id };
        if (update.Count > 0) args["update"] = update;
        if (destroy.Count > 0) args["destroy"] = destroy;
        await call.AddImplicitCallAsync("Email/set", args);
    }
}

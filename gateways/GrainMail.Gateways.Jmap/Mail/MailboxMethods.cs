using System.Text.Json.Nodes;
using GrainMail.Contracts.Mailboxes;
using GrainMail.Gateways.Jmap.Methods;
using GrainMail.Gateways.Jmap.Protocol;

namespace GrainMail.Gateways.Jmap.Mail;

/// <summary>
/// Mailbox/get, /changes, /query, /queryChanges and /set (RFC 8621 2): the account's IMAP folders,
/// ids from RFC 8474 MAILBOXID, hierarchy by the folder separator '/', role from SPECIAL-USE.
/// </summary>
public sealed class MailboxMethods(MailAccess access, ThreadIndex threads) : IJmapMethods
{
    private const char Separator = '/';

    private static readonly string[] AllProperties =
        ["id", "name", "parentId", "role", "sortOrder", "totalEmails", "unreadEmails", "totalThreads", "unreadThreads", "myRights", "isSubscribed"];

    private static readonly string[] CountProperties = ["totalEmails", "unreadEmails", "totalThreads", "unreadThreads"];

    public string Capability => MailCapability.Uri;

    public JsonObject? SessionCapability(JmapLimits limits) => null;

    public JsonObject? AccountCapability(JmapAccount account) => null;

    public IReadOnlyDictionary<string, JmapMethodHandler> Methods => new Dictionary<string, JmapMethodHandler>
    {
        ["Mailbox/get"] = GetAsync,
        ["Mailbox/changes"] = ChangesAsync,
        ["Mailbox/query"] = QueryAsync,
        ["Mailbox/queryChanges"] = QueryChangesAsync,
        ["Mailbox/set"] = SetAsync,
    };

    public static string? Role(SpecialUse use) => use switch
    {
        SpecialUse.Inbox => "inbox",
        SpecialUse.Sent => "sent",
        SpecialUse.Drafts => "drafts",
        SpecialUse.Trash => "trash",
        SpecialUse.Junk => "junk",
        SpecialUse.Archive => "archive",
        _ => null,
    };

    private static string LeafName(string name) => name.LastIndexOf(Separator) is var i and >= 0 ? name[(i + 1)..] : name;

    private static string? ParentName(string name) => name.LastIndexOf(Separator) is var i and > 0 ? name[..i] : null;

    private JsonObject Mailbox(MailView view, FolderView f, IReadOnlyCollection<string> properties)
    {
        var o = new JsonObject();
        foreach (var p in properties)
        {
            switch (p)
            {
                case "id": o[p] = f.MailboxId; break;
                case "name": o[p] = LeafName(f.Info.Name); break;
                case "parentId":
                    var parent = ParentName(f.Info.Name);
                    o[p] = parent is null ? null : view.Folders.FirstOrDefault(x => x.Info.Name == parent)?.MailboxId;
                    break;
                case "role": o[p] = Role(f.Info.SpecialUse); break;
                case "sortOrder": o[p] = f.Info.SpecialUse == SpecialUse.Inbox ? 0 : f.Info.SpecialUse != SpecialUse.None ? 10 : 100; break;
                case "totalEmails": o[p] = f.ByUid.Count; break;
                case "unreadEmails": o[p] = f.UnreadEmails; break;
                // Kept by the view as copies come and go; a folder with messages not yet given a stored thread id is walked.
                case "totalThreads": o[p] = f.ThreadCountsExact ? f.TotalThreads : f.ByUid.Values.Select(ThreadOf).Distinct().Count(); break;
                case "unreadThreads": o[p] = f.ThreadCountsExact ? f.UnreadThreads : f.ByUid.Values.Where(c => (c.Meta.Flags & MessageFlags.Seen) == 0).Select(ThreadOf).Distinct().Count(); break;
                case "myRights": o[p] = Rights(f); break;
                case "isSubscribed": o[p] = f.Info.Subscribed; break;
            }
        }
        return o;
    }

    private string ThreadOf(EmailCopy c) => c.Meta.ThreadId ?? threads.Known(c.EmailId) ?? c.EmailId;

    private static JsonObject Rights(FolderView f) => new()
    {
        ["mayReadItems"] = true,
        ["mayAddItems"] = true,
        ["mayRemoveItems"] = true,
        ["maySetSeen"] = true,
        ["maySetKeywords"] = true,
        ["mayCreateChild"] = true,
        ["mayRename"] = f.Info.SpecialUse != SpecialUse.Inbox,
        ["mayDelete"] = f.Info.SpecialUse != SpecialUse.Inbox,
        ["maySubmit"] = true,
    };

    private async Task<JsonObject> GetAsync(JmapCall call)
    {
        var ids = StandardMethods.Ids(call);
        var props = StandardMethods.Properties(call.Arguments, "properties", AllProperties, p => AllProperties.Contains(p));
        if (!props.Contains("id")) props.Insert(0, "id");
        using var mail = await access.OpenAsync(call);
        var list = new JsonArray();
        var notFound = new JsonArray();
        var folders = mail.View.Folders.OrderBy(f => f.Info.FolderId).ToList();
        if (ids is null)
            foreach (var f in folders) list.Add(Mailbox(mail.View, f, props));
        else
            foreach (var raw in ids.Distinct())
            {
                var id = StandardMethods.ResolveCreated(call, raw) ?? raw;
                if (mail.View.FolderByMailboxId(id) is { } f) list.Add(Mailbox(mail.View, f, props));
                else notFound.Add(raw);
            }
        return new JsonObject { ["accountId"] = mail.Account.Id, ["state"] = mail.View.State, ["list"] = list, ["notFound"] = notFound };
    }

    /// <summary>Mailbox ids created, updated and destroyed since a state, read from the state token alone.</summary>
    private sealed record MailboxDiff(List<string> Created, List<string> Updated, List<string> Destroyed, bool OnlyCounts, string NewState, bool HasMore);

    private static MailboxDiff Diff(MailSession mail, string since, long? max)
    {
        var old = MailState.Parse(since) ?? throw new JmapMethodException(JmapErrors.CannotCalculateChanges, "Unknown state");
        var now = mail.View.Folders.ToDictionary(f => (f.Info.FolderId, f.Info.UidValidity));
        var marks = old.ToDictionary(m => (m.FolderId, m.UidValidity));
        // One change per folder, in folder order; with maxChanges the intermediate state moves only the folders reported.
        var changes = new List<(int FolderId, string Kind, string Id, FolderMark? Mark, (int, long) Key, bool NameChanged)>();
        foreach (var kv in now.Where(kv => !marks.ContainsKey(kv.Key)))
            changes.Add((kv.Key.FolderId, "created", kv.Value.MailboxId, MailState.Mark(kv.Value.Info), kv.Key, true));
        foreach (var m in old)
        {
            var key = (m.FolderId, m.UidValidity);
            if (!now.TryGetValue(key, out var f))
            {
                changes.Add((m.FolderId, "destroyed", GrainMail.Gateways.Common.Objects.ObjectIds.MailboxId(mail.Account.Address,
                    new FolderInfo("", SpecialUse.None, m.UidValidity, 0, 0, 0, 0, 0, 0, false, m.FolderId)), null, key, true));
                continue;
            }
            var mark = MailState.Mark(f.Info);
            if (mark != m) changes.Add((m.FolderId, "updated", f.MailboxId, mark, key, mark.NameHash != m.NameHash));
        }
        changes.Sort((a, b) => a.FolderId.CompareTo(b.FolderId));
        var hasMore = max is long limit && changes.Count > limit;
        if (hasMore) changes = changes.Take((int)max!.Value).ToList();
        foreach (var c in changes)
        {
            if (c.Mark is { } mk) marks[c.Key] = mk;
            else marks.Remove(c.Key);
        }
        return new MailboxDiff(
            changes.Where(c => c.Kind == "created").Select(c => c.Id).ToList(),
            changes.Where(c => c.Kind == "updated").Select(c => c.Id).ToList(),
            changes.Where(c => c.Kind == "destroyed").Select(c => c.Id).ToList(),
            !changes.Any(c => c.Kind == "updated" && c.NameChanged),
            hasMore ? MailState.Of(marks.Values) : mail.View.State, hasMore);
    }

    private async Task<JsonObject> ChangesAsync(JmapCall call)
    {
        var since = Args.String(call.Arguments, "sinceState", required: true)!;
        var max = Args.Long(call.Arguments, "maxChanges", unsigned: true);
        if (max == 0) throw Args.Invalid("'maxChanges' must be positive");
        using var mail = await access.OpenAsync(call);
        var d = Diff(mail, since, max);
        return new JsonObject
        {
            ["accountId"] = mail.Account.Id,
            ["oldState"] = since,
            ["newState"] = d.NewState,
            ["hasMoreChanges"] = d.HasMore,
            ["created"] = StandardMethods.Array(d.Created),
            ["updated"] = StandardMethods.Array(d.Updated),
            ["destroyed"] = StandardMethods.Array(d.Destroyed),
            // RFC 8621 2.2: only the counts changed, so a client may fetch just those.
            ["updatedProperties"] = d.Updated.Count > 0 && d.OnlyCounts ? StandardMethods.Array(CountProperties) : null,
        };
    }

    private async Task<JsonObject> QueryAsync(JmapCall call)
    {
        var filter = Args.Object(call.Arguments, "filter");
        var sort = call.Arguments["sort"] as JsonArray;
        var sortAsTree = Args.Bool(call.Arguments, "sortAsTree", false);
        var filterAsTree = Args.Bool(call.Arguments, "filterAsTree", false);
        var position = Args.Long(call.Arguments, "position") ?? 0;
        var limit = Args.Long(call.Arguments, "limit", unsigned: true);
        var calculateTotal = Args.Bool(call.Arguments, "calculateTotal", false);
        using var mail = await access.OpenAsync(call);
        var view = mail.View;
        IEnumerable<FolderView> folders = view.Folders;
        if (filter is not null) folders = folders.Where(f => Matches(view, f, filter));
        var ordered = folders.ToList();
        var comparers = new List<Comparison<FolderView>>();
        foreach (var s in sort ?? [])
        {
            if (s is not JsonObject c || Args.String(c, "property") is not { } prop) throw Args.Invalid("Each sort is a Comparator with 'property'");
            var asc = Args.Bool(c, "isAscending", true);
            Comparison<FolderView> cmp = prop switch
            {
                "name" => (a, b) => string.Compare(a.Info.Name, b.Info.Name, StringComparison.OrdinalIgnoreCase),
                "sortOrder" => (a, b) => SortOrder(a).CompareTo(SortOrder(b)),
                _ => throw new JmapMethodException(JmapErrors.UnsupportedSort, $"Cannot sort mailboxes by '{prop}'"),
            };
            comparers.Add(asc ? cmp : (a, b) => -cmp(a, b));
        }
        // Name order keeps parents before their children, which sortAsTree asks for.
        if (sortAsTree || filterAsTree) comparers.Insert(0, (a, b) => string.Compare(a.Info.Name, b.Info.Name, StringComparison.Ordinal));
        ordered.Sort((a, b) =>
        {
            foreach (var c in comparers)
                if (c(a, b) is var r && r != 0) return r;
            return a.Info.FolderId.CompareTo(b.Info.FolderId);
        });
        var ids = ordered.Select(f => f.MailboxId).ToList();
        return QueryResult(mail.Account.Id, view.State, ids, position, limit, calculateTotal, canCalculateChanges: true);
    }

    private static int SortOrder(FolderView f) => f.Info.SpecialUse == SpecialUse.Inbox ? 0 : f.Info.SpecialUse != SpecialUse.None ? 10 : 100;

    public static JsonObject QueryResult(string accountId, string state, IReadOnlyList<string> ids, long position, long? limit, bool calculateTotal, bool canCalculateChanges)
    {
        // RFC 8620 5.5: a negative position counts from the end; beyond the end gives an empty list.
        var start = position < 0 ? Math.Max(0, ids.Count + position) : Math.Min(position, ids.Count);
        var count = (int)Math.Min(ids.Count - start, limit ?? long.MaxValue);
        var o = new JsonObject
        {
            ["accountId"] = accountId,
            ["queryState"] = state,
            ["canCalculateChanges"] = canCalculateChanges,
            ["position"] = start,
            ["ids"] = StandardMethods.Array(ids.Skip((int)start).Take(count)),
        };
        if (calculateTotal) o["total"] = ids.Count;
        if (limit is long l) o["limit"] = Math.Min(l, count);
        return o;
    }

    private static bool Matches(MailView view, FolderView f, JsonObject filter)
    {
        if (filter.ContainsKey("operator"))
        {
            var op = Args.String(filter, "operator");
            var conditions = (filter["conditions"] as JsonArray ?? throw Args.Invalid("'conditions' must be an array")).Select(c => c as JsonObject ?? throw Args.Invalid("A condition must be an object")).ToList();
            return op switch
            {
                "AND" => conditions.All(c => Matches(view, f, c)),
                "OR" => conditions.Any(c => Matches(view, f, c)),
                "NOT" => !conditions.Any(c => Matches(view, f, c)),
                _ => throw new JmapMethodException(JmapErrors.UnsupportedFilter, $"Unknown operator '{op}'"),
            };
        }
        foreach (var (key, value) in filter)
        {
            var ok = key switch
            {
                "parentId" => (value is null ? ParentName(f.Info.Name) is null : ParentName(f.Info.Name) is { } p && view.Folders.FirstOrDefault(x => x.Info.Name == p)?.MailboxId == (string?)value),
                "name" => LeafName(f.Info.Name).Contains((string?)value ?? "", StringComparison.OrdinalIgnoreCase),
                "role" => Role(f.Info.SpecialUse) == (string?)value,
                "hasAnyRole" => (Role(f.Info.SpecialUse) is not null) == (bool)value!,
                "isSubscribed" => f.Info.Subscribed == (bool)value!,
                _ => throw new JmapMethodException(JmapErrors.UnsupportedFilter, $"Unknown mailbox filter '{key}'"),
            };
            if (!ok) return false;
        }
        return true;
    }

    /// <summary>
    /// Mailbox/queryChanges (RFC 8620 5.6) from the state: every mailbox that changed since may have
    /// left or moved in the results, so it is "removed", and "added" at its index when it is in them now.
    /// </summary>
    private async Task<JsonObject> QueryChangesAsync(JmapCall call)
    {
        var since = Args.String(call.Arguments, "sinceQueryState", required: true)!;
        var max = Args.Long(call.Arguments, "maxChanges", unsigned: true);
        if (max == 0) throw Args.Invalid("'maxChanges' must be positive");
        var query = await QueryAsync(call);
        using var mail = await access.OpenAsync(call);
        var d = Diff(mail, since, null);
        var changed = d.Created.Concat(d.Updated).Concat(d.Destroyed).ToHashSet(StringComparer.Ordinal);
        var ids = ((JsonArray)query["ids"]!).Select(x => (string)x!).ToList();
        var added = new JsonArray();
        for (var i = 0; i < ids.Count; i++)
            if (changed.Contains(ids[i])) added.Add(new JsonObject { ["id"] = ids[i], ["index"] = i });
        var removed = d.Updated.Concat(d.Destroyed).ToList();
        if (max is long limit && removed.Count + added.Count > limit)
            throw new JmapMethodException(JmapErrors.TooManyChanges, $"More than maxChanges ({limit}) changes; query again");
        var o = new JsonObject { ["accountId"] = mail.Account.Id, ["oldQueryState"] = since, ["newQueryState"] = (string)query["queryState"]!, ["removed"] = StandardMethods.Array(removed), ["added"] = added };
        if (query["total"] is { } total) o["total"] = total.DeepClone();
        return o;
    }

    private async Task<JsonObject> SetAsync(JmapCall call)
    {
        StandardMethods.CheckSetSize(call);
        using var mail = await access.OpenAsync(call, write: true);
        var oldState = mail.View.State;
        StandardMethods.CheckIfInState(call, oldState);
        var response = new SetResponse(mail.Account.Id, oldState);
        var removeEmails = Args.Bool(call.Arguments, "onDestroyRemoveEmails", false);

        // Creations in an order where parents come first (a child may name its parent by "#creationId").
        foreach (var (cid, node) in Args.Object(call.Arguments, "create") ?? [])
        {
            if (node is not JsonObject props)
            {
                response.NotCreated(cid, StandardMethods.SetError("invalidProperties", "Not an object"));
                continue;
            }
            var bad = props.Select(kv => kv.Key).Where(k => k is not ("name" or "parentId" or "isSubscribed" or "sortOrder" or "role")).ToList();
            if (props["role"] is not null) bad.Add("role");
            var leaf = props["name"] is JsonValue nv && nv.TryGetValue<string>(out var n) ? n : null;
            if (leaf is null || leaf.Length == 0 || leaf.Contains(Separator) || leaf.Length > MailCapability.MaxSizeMailboxName) bad.Add("name");
            string? parentName = null;
            if (props["parentId"] is JsonValue pv && pv.TryGetValue<string>(out var parentId))
            {
                var pid = StandardMethods.ResolveCreated(call, parentId);
                parentName = pid is null ? null : mail.View.FolderByMailboxId(pid)?.Info.Name;
                if (parentName is null) bad.Add("parentId");
            }
            if (bad.Count > 0)
            {
                response.NotCreated(cid, StandardMethods.SetError("invalidProperties", null, bad.Distinct()));
                continue;
            }
            var full = parentName is null ? leaf! : parentName + Separator + leaf;
            var r = await mail.Grain.CreateFolder(full);
            if (r.Status != MailboxOpStatus.Ok)
            {
                response.NotCreated(cid, r.Status == MailboxOpStatus.FolderExists
                    ? StandardMethods.SetError("invalidProperties", "A mailbox of that name exists", ["name"])
                    : StandardMethods.SetError("invalidProperties", r.Status.ToString(), ["name"]));
                continue;
            }
            if (props["isSubscribed"] is JsonValue sv && sv.TryGetValue<bool>(out var sub) && sub) await mail.Grain.Subscribe(full, true);
            await mail.RefreshAsync();
            var folder = mail.View.Folders.First(f => f.Info.Name == full);
            call.Request.CreatedIds[cid] = folder.MailboxId;
            response.Created(cid, Mailbox(mail.View, folder, ["id", "sortOrder", "totalEmails", "unreadEmails", "totalThreads", "unreadThreads", "myRights", "isSubscribed", "role"]));
        }

        foreach (var (rawId, node) in Args.Object(call.Arguments, "update") ?? [])
        {
            var id = StandardMethods.ResolveCreated(call, rawId) ?? rawId;
            var folder = mail.View.FolderByMailboxId(id);
            if (folder is null)
            {
                response.NotUpdated(rawId, StandardMethods.SetError("notFound"));
                continue;
            }
            if (node is not JsonObject patch)
            {
                response.NotUpdated(rawId, StandardMethods.SetError("invalidProperties", "Not an object"));
                continue;
            }
            var bad = patch.Select(kv => kv.Key).Where(k => k is not ("name" or "parentId" or "isSubscribed" or "sortOrder")).ToList();
            var name = folder.Info.Name;
            var leaf = LeafName(name);
            var parent = ParentName(name);
            if (patch.ContainsKey("name"))
            {
                if (patch["name"] is JsonValue v && v.TryGetValue<string>(out var nn) && nn.Length > 0 && !nn.Contains(Separator)) leaf = nn;
                else bad.Add("name");
            }
            if (patch.ContainsKey("parentId"))
            {
                if (patch["parentId"] is null) parent = null;
                else if (patch["parentId"] is JsonValue v && v.TryGetValue<string>(out var pid) && StandardMethods.ResolveCreated(call, pid) is { } resolved
                    && mail.View.FolderByMailboxId(resolved) is { } pf) parent = pf.Info.Name;
                else bad.Add("parentId");
            }
            if (bad.Count > 0)
            {
                response.NotUpdated(rawId, StandardMethods.SetError("invalidProperties", null, bad));
                continue;
            }
            var target = parent is null ? leaf : parent + Separator + leaf;
            if (target != name)
            {
                var r = await mail.Grain.RenameFolder(name, target);
                if (r.Status != MailboxOpStatus.Ok)
                {
                    response.NotUpdated(rawId, r.Status switch
                    {
                        MailboxOpStatus.NotAllowed => StandardMethods.SetError("forbidden", "This mailbox cannot be renamed or moved there"),
                        MailboxOpStatus.FolderExists => StandardMethods.SetError("invalidProperties", "A mailbox of that name exists", ["name"]),
                        _ => StandardMethods.SetError("invalidProperties", r.Status.ToString(), ["name"]),
                    });
                    continue;
                }
            }
            if (patch["isSubscribed"] is JsonValue s && s.TryGetValue<bool>(out var subscribe)) await mail.Grain.Subscribe(target, subscribe);
            response.Updated(rawId);
        }

        foreach (var rawId in Args.Strings(call.Arguments, "destroy") ?? [])
        {
            await mail.RefreshAsync();
            var id = StandardMethods.ResolveCreated(call, rawId) ?? rawId;
            var folder = mail.View.FolderByMailboxId(id);
            if (folder is null)
            {
                response.NotDestroyed(rawId, StandardMethods.SetError("notFound"));
                continue;
            }
            if (mail.View.Folders.Any(f => f.Info.Name.StartsWith(folder.Info.Name + Separator, StringComparison.Ordinal)))
            {
                response.NotDestroyed(rawId, StandardMethods.SetError("mailboxHasChild"));
                continue;
            }
            if (folder.ByUid.Count > 0 && !removeEmails)
            {
                response.NotDestroyed(rawId, StandardMethods.SetError("mailboxHasEmail"));
                continue;
            }
            var r = await mail.Grain.DeleteFolder(folder.Info.Name);
            if (r.Status != MailboxOpStatus.Ok)
            {
                response.NotDestroyed(rawId, StandardMethods.SetError(r.Status == MailboxOpStatus.NotAllowed ? "forbidden" : "notFound"));
                continue;
            }
            response.Destroyed(rawId);
        }
        await mail.RefreshAsync();
        return response.Build(mail.View.State);
    }
}

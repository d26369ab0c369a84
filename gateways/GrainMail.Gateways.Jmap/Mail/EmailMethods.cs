using System.Text.Json.Nodes;
using GrainMail.Contracts.Mailboxes;
using GrainMail.Gateways.Jmap.Methods;
using GrainMail.Gateways.Jmap.Protocol;

namespace GrainMail.Gateways.Jmap.Mail;

/// <summary>
/// Email/get, /changes, /query, /queryChanges (RFC 8621 4.2-4.5). Email ids are IMAP's EMAILID
/// (one id for every copy of a message), so mailboxIds lists the folders that hold a copy.
/// </summary>
public sealed partial class EmailMethods(MailAccess access, EmailStore store, BlobResolver blobs) : IJmapMethods
{
    private static readonly HashSet<string> Metadata = ["id", "blobId", "threadId", "mailboxIds", "keywords", "size", "receivedAt"];
    private static readonly HashSet<string> BodyProps = ["bodyStructure", "bodyValues", "textBody", "htmlBody", "attachments", "headers"];

    public string Capability => MailCapability.Uri;

    public JsonObject? SessionCapability(JmapLimits limits) => null;

    public JsonObject? AccountCapability(JmapAccount account) => null;

    public IReadOnlyDictionary<string, JmapMethodHandler> Methods => new Dictionary<string, JmapMethodHandler>
    {
        ["Email/get"] = GetAsync,
        ["Email/changes"] = ChangesAsync,
        ["Email/query"] = QueryAsync,
        ["Email/queryChanges"] = QueryChangesAsync,
        ["Email/set"] = SetAsync,
        ["Email/import"] = ImportAsync,
        ["Email/parse"] = ParseAsync,
        ["Email/copy"] = CopyAsync,
        ["Thread/get"] = ThreadGetAsync,
        ["Thread/changes"] = ThreadChangesAsync,
        ["SearchSnippet/get"] = SnippetsAsync,
    };

    private static bool KnownProperty(string p) =>
        Metadata.Contains(p) || BodyProps.Contains(p) || EmailReader.SummaryProperties.Contains(p) || EmailReader.ParseHeaderProperty(p) is not null;

    private static bool KnownBodyProperty(string p) =>
        EmailReader.DefaultBodyProperties.Contains(p) || p is "headers" or "subParts" || EmailReader.ParseHeaderProperty(p) is not null;

    private async Task<JsonObject> GetAsync(JmapCall call)
    {
        var ids = StandardMethods.Ids(call);
        var props = StandardMethods.Properties(call.Arguments, "properties", EmailReader.DefaultProperties, KnownProperty);
        if (!props.Contains("id")) props.Insert(0, "id");
        var bodyProps = StandardMethods.Properties(call.Arguments, "bodyProperties", EmailReader.DefaultBodyProperties, KnownBodyProperty);
        var fetchText = Args.Bool(call.Arguments, "fetchTextBodyValues", false);
        var fetchHtml = Args.Bool(call.Arguments, "fetchHTMLBodyValues", false);
        var fetchAll = Args.Bool(call.Arguments, "fetchAllBodyValues", false);
        var maxBytes = Args.Long(call.Arguments, "maxBodyValueBytes", unsigned: true) ?? 0;
        using var mail = await access.OpenAsync(call);
        if (ids is null)
        {
            if (mail.View.EmailCount > call.Request.Limits.MaxObjectsInGet)
                throw new JmapMethodException(JmapErrors.RequestTooLarge, "Too many Emails to get them all; query for ids");
            ids = [.. mail.View.EmailIds];
        }
        var list = new JsonArray();
        var notFound = new JsonArray();
        var needsReader = props.Any(p => BodyProps.Contains(p) || p.StartsWith("header:", StringComparison.Ordinal));
        var needsSummary = props.Any(EmailReader.SummaryProperties.Contains);
        // Content for the whole page in parallel (a list page: 50 blob reads at once, not one after another).
        if ((needsSummary && !needsReader) || props.Contains("threadId"))
            await Parallel.ForEachAsync(ids.Distinct().Select(mail.View.Copies).Where(c => c.Count > 0).Select(c => c[0]).ToList(),
                new ParallelOptions { MaxDegreeOfParallelism = 16, CancellationToken = call.Request.Aborted },
                async (copy, _) =>
                {
                    if (needsSummary && !needsReader) await store.SummaryAsync(copy);
                    if (props.Contains("threadId")) await store.ThreadIdAsync(copy);
                });
        foreach (var id in ids.Distinct())
        {
            var copies = mail.View.Copies(id);
            if (copies.Count == 0)
            {
                notFound.Add(id);
                continue;
            }
            var first = copies[0];
            var o = new JsonObject();
            EmailReader? reader = needsReader ? await store.ReaderAsync(first) : null;
            JsonObject? summary = needsSummary && reader is null ? await store.SummaryAsync(first) : null;
            if ((needsReader && reader is null) || (needsSummary && reader is null && summary is null))
            {
                notFound.Add(id); // the bytes are gone (a concurrent expunge and purge)
                continue;
            }
            foreach (var p in props)
            {
                switch (p)
                {
                    case "id": o[p] = id; break;
                    case "blobId": o[p] = "B" + id[1..]; break;
                    case "threadId": o[p] = await store.ThreadIdAsync(first); break;
                    case "mailboxIds": o[p] = MailboxIds(mail.View, copies); break;
                    case "keywords": o[p] = KeywordsObject(first.Meta); break;
                    case "size": o[p] = first.Meta.Blob.Size; break;
                    case "receivedAt": o[p] = EmailReader.UtcDate(first.Meta.InternalDate); break;
                    case "bodyStructure": o[p] = reader!.BodyPart(reader.Root, bodyProps.Contains("subParts") ? bodyProps : [.. bodyProps, "subParts"]); break;
                    case "textBody": o[p] = new JsonArray(reader!.TextBody.Select(x => (JsonNode)reader.BodyPart(x, bodyProps)).ToArray()); break;
                    case "htmlBody": o[p] = new JsonArray(reader!.HtmlBody.Select(x => (JsonNode)reader.BodyPart(x, bodyProps)).ToArray()); break;
                    case "attachments": o[p] = new JsonArray(reader!.Attachments.Select(x => (JsonNode)reader.BodyPart(x, bodyProps)).ToArray()); break;
                    case "bodyValues":
                        var values = new JsonObject();
                        var parts = new List<EmailPart>();
                        if (fetchAll) parts.AddRange(reader!.AllParts().Where(x => x.Entity is MimeKit.TextPart));
                        if (fetchText) parts.AddRange(reader!.TextBody.Where(x => x.Entity is MimeKit.TextPart));
                        if (fetchHtml) parts.AddRange(reader!.HtmlBody.Where(x => x.Entity is MimeKit.TextPart));
                        foreach (var part in parts.DistinctBy(x => x.PartId)) values[part.PartId] = EmailReader.BodyValue(part, maxBytes);
                        o[p] = values;
                        break;
                    default:
                        if (reader is not null && reader.TryHeaderProperty(p, out var v)) o[p] = v;
                        else if (summary is not null) o[p] = summary[p]?.DeepClone();
                        break;
                }
            }
            list.Add(o);
        }
        return new JsonObject { ["accountId"] = mail.Account.Id, ["state"] = mail.View.State, ["list"] = list, ["notFound"] = notFound };
    }

    private static JsonObject MailboxIds(MailView view, IReadOnlyList<EmailCopy> copies)
    {
        var o = new JsonObject();
        foreach (var c in copies)
            if (view.Folder(c.FolderId) is { } f) o[f.MailboxId] = true;
        return o;
    }

    private static JsonObject KeywordsObject(MessageMeta meta)
    {
        var o = new JsonObject();
        foreach (var k in Keywords.Of(meta)) o[k] = true;
        return o;
    }

    /// <summary>Email ids created, updated and destroyed since a state (see <see cref="MailState"/>); throws cannotCalculateChanges when the view cannot tell.</summary>
    public static (List<string> Created, List<string> Updated, List<string> Destroyed) Diff(MailView view, string since)
    {
        var old = MailState.Parse(since) ?? throw new JmapMethodException(JmapErrors.CannotCalculateChanges, "Unknown state");
        var oldByKey = old.ToDictionary(m => (m.FolderId, m.UidValidity));
        var appeared = new HashSet<string>(StringComparer.Ordinal);
        var touched = new HashSet<string>(StringComparer.Ordinal);
        var removed = new HashSet<string>(StringComparer.Ordinal);
        foreach (var f in view.Folders)
        {
            if (!oldByKey.TryGetValue((f.Info.FolderId, f.Info.UidValidity), out var mark))
            {
                foreach (var c in f.ByUid.Values) appeared.Add(c.EmailId);
                continue;
            }
            if (mark.HighestModSeq == f.Info.HighestModSeq && mark.UidNext == f.Info.UidNext) continue;
            // Removals before the view started watching the folder are unknown to it.
            if (mark.HighestModSeq < f.Baseline) throw new JmapMethodException(JmapErrors.CannotCalculateChanges, "The state is older than this server's record of changes");
            foreach (var c in f.ByUid.Values)
            {
                if (c.Meta.Uid >= mark.UidNext) appeared.Add(c.EmailId);
                else if (c.Meta.ModSeq > mark.HighestModSeq) touched.Add(c.EmailId);
            }
            foreach (var (at, id) in f.Removed)
                if (at > mark.HighestModSeq) removed.Add(id);
        }
        foreach (var m in old)
        {
            if (view.Folders.Any(f => f.Info.FolderId == m.FolderId && f.Info.UidValidity == m.UidValidity)) continue;
            var dropped = view.DroppedFolders.FirstOrDefault(d => d.Mark.FolderId == m.FolderId && d.Mark.UidValidity == m.UidValidity);
            if (dropped.EmailIds is null) throw new JmapMethodException(JmapErrors.CannotCalculateChanges, "A mailbox went away before this server saw it");
            foreach (var id in dropped.EmailIds) removed.Add(id);
        }
        bool ExistedBefore(string id) => removed.Contains(id) || view.Copies(id).Any(c =>
            view.Folder(c.FolderId) is { } f && oldByKey.TryGetValue((f.Info.FolderId, f.Info.UidValidity), out var mk) && c.Meta.Uid < mk.UidNext);
        var created = new List<string>();
        var updated = new List<string>();
        var destroyed = new List<string>();
        foreach (var id in appeared.Concat(touched).Concat(removed).Distinct())
        {
            var exists = view.Copies(id).Count > 0;
            var before = ExistedBefore(id);
            if (exists && before) updated.Add(id);
            else if (exists) created.Add(id);
            else if (before) destroyed.Add(id);
        }
        return (created, updated, destroyed);
    }

    private async Task<JsonObject> ChangesAsync(JmapCall call)
    {
        var since = Args.String(call.Arguments, "sinceState", required: true)!;
        var max = Args.Long(call.Arguments, "maxChanges", unsigned: true);
        if (max == 0) throw Args.Invalid("'maxChanges' must be positive");
        using var mail = await access.OpenAsync(call);
        var (created, updated, destroyed) = Diff(mail.View, since);
        if (max is long limit && created.Count + updated.Count + destroyed.Count > limit)
            throw new JmapMethodException(JmapErrors.CannotCalculateChanges, "More changes than maxChanges; resynchronise");
        return new JsonObject
        {
            ["accountId"] = mail.Account.Id,
            ["oldState"] = since,
            ["newState"] = mail.View.State,
            ["hasMoreChanges"] = false,
            ["created"] = StandardMethods.Array(created),
            ["updated"] = StandardMethods.Array(updated),
            ["destroyed"] = StandardMethods.Array(destroyed),
        };
    }
}

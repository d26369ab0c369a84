using System.Text.Json.Nodes;
using GrainMail.Contracts.Mailboxes;
using GrainMail.Gateways.Common.Messages;
using GrainMail.Gateways.Jmap.Methods;
using GrainMail.Gateways.Jmap.Protocol;

namespace GrainMail.Gateways.Jmap.Mail;

/// <summary>
/// Email/get, /changes, /query, /queryChanges (RFC 8621 4.2-4.5). Email ids are IMAP's EMAILID
/// (one id for every copy of a message), so mailboxIds lists the folders that hold a copy.
/// </summary>
public sealed partial class EmailMethods(MailAccess access, EmailStore store, BlobResolver blobs, MessageLimits? limits = null) : IJmapMethods
{
    /// <summary>The header limits of every way in (<see cref="MessageLimits.Section"/>), for what Email/set and Email/import store.</summary>
    private MessageTextLimits TextLimits { get; } = limits?.Text ?? MessageTextLimits.Default;

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
        var timings = call.Request.Timings;
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        using var mail = await access.OpenAsync(call);
        timings.Since("view", started);
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
        // A list page's summaries not yet cached are read in one batch: one grain call and one PostgreSQL
        // statement for all of them (issue 18: the p99 tail was a page of 50 uncached messages, one read each).
        started = System.Diagnostics.Stopwatch.GetTimestamp();
        var pageCopies = ids.Distinct().Select(mail.View.Copies).Where(c => c.Count > 0).Select(c => c[0]).ToList();
        if (needsSummary && !needsReader) await store.SummariesAsync(pageCopies, timings, call.Request.Aborted);
        if (props.Contains("threadId") && pageCopies.Any(c => c.Meta.ThreadId is null))
            await Parallel.ForEachAsync(pageCopies.Where(c => c.Meta.ThreadId is null).ToList(),
                new ParallelOptions { MaxDegreeOfParallelism = 16, CancellationToken = call.Request.Aborted },
                async (copy, _) => await store.ThreadIdAsync(copy));
        timings.Since("load", started);
        started = System.Diagnostics.Stopwatch.GetTimestamp();
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
        timings.Since("build", started);
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

    private async Task<JsonObject> ChangesAsync(JmapCall call)
    {
        var since = Args.String(call.Arguments, "sinceState", required: true)!;
        var max = Args.Long(call.Arguments, "maxChanges", unsigned: true);
        if (max == 0) throw Args.Invalid("'maxChanges' must be positive");
        using var mail = await access.OpenAsync(call);
        var diff = await EmailChanges.ComputeAsync(mail, access.History, since, max);
        return new JsonObject
        {
            ["accountId"] = mail.Account.Id,
            ["oldState"] = since,
            ["newState"] = diff.NewState,
            ["hasMoreChanges"] = diff.HasMore,
            ["created"] = StandardMethods.Array(diff.Created),
            ["updated"] = StandardMethods.Array(diff.Updated),
            ["destroyed"] = StandardMethods.Array(diff.Destroyed),
        };
    }
}

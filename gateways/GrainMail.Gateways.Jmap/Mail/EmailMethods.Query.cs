using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using GrainMail.Gateways.Jmap.Methods;
using GrainMail.Gateways.Jmap.Protocol;
using GrainMail.Gateways.Common.Sorting;

namespace GrainMail.Gateways.Jmap.Mail;

/// <summary>Email/query, Email/queryChanges and SearchSnippet/get (RFC 8621 4.4, 4.5, 5).</summary>
public sealed partial class EmailMethods
{
    private sealed record SortKey(string Property, bool Ascending, string? Keyword);

    private async Task<JsonObject> QueryAsync(JmapCall call)
    {
        var filterNode = Args.Object(call.Arguments, "filter");
        var sorts = ParseSort(call.Arguments["sort"]);
        var collapse = Args.Bool(call.Arguments, "collapseThreads", false);
        var position = Args.Long(call.Arguments, "position") ?? 0;
        var anchor = Args.String(call.Arguments, "anchor");
        var anchorOffset = Args.Long(call.Arguments, "anchorOffset") ?? 0;
        var limit = Args.Long(call.Arguments, "limit", unsigned: true);
        var calculateTotal = Args.Bool(call.Arguments, "calculateTotal", false);
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        using var mail = await access.OpenAsync(call);
        call.Request.Timings.Since("view", started);
        var view = mail.View;
        started = System.Diagnostics.Stopwatch.GetTimestamp();
        var ids = await ResultsAsync(call, view, filterNode, sorts, collapse);
        call.Request.Timings.Since("query", started);
        if (anchor is not null)
        {
            var at = IndexOf(ids, anchor);
            if (at < 0) throw new JmapMethodException(JmapErrors.AnchorNotFound, "The anchor is not in the results");
            position = Math.Max(0, at + anchorOffset);
        }
        return MailboxMethods.QueryResult(mail.Account.Id, view.State, ids, position, limit, calculateTotal, canCalculateChanges: true);
    }

    /// <summary>The sorted, filtered ids, kept for the current state: the next page is a slice.</summary>
    private async Task<IReadOnlyList<string>> ResultsAsync(JmapCall call, MailView view, JsonObject? filterNode, List<SortKey> sorts, bool collapse)
    {
        var filter = EmailFilter.Parse(filterNode, view.FolderByMailboxId);
        var key = (filterNode?.ToJsonString() ?? "") + "|" + (call.Arguments["sort"]?.ToJsonString() ?? "") + "|" + collapse;
        var ids = view.CachedQuery(key);
        if (ids is null)
        {
            ids = await RunQueryAsync(view, filterNode, filter, sorts, collapse);
            view.CacheQuery(key, ids);
        }
        return ids;
    }

    private static int IndexOf(IReadOnlyList<string> ids, string id)
    {
        for (var i = 0; i < ids.Count; i++)
            if (ids[i] == id) return i;
        return -1;
    }

    private static List<SortKey> ParseSort(JsonNode? node)
    {
        if (node is null) return [new SortKey("receivedAt", false, null)];
        if (node is not JsonArray arr) throw Args.Invalid("'sort' must be an array of Comparators");
        var list = new List<SortKey>();
        foreach (var s in arr)
        {
            if (s is not JsonObject c || Args.String(c, "property") is not { } prop) throw Args.Invalid("Each sort is a Comparator with 'property'");
            if (prop is not ("receivedAt" or "sentAt" or "size" or "from" or "to" or "subject" or "hasKeyword" or "allInThreadHaveKeyword" or "someInThreadHaveKeyword"))
                throw new JmapMethodException(JmapErrors.UnsupportedSort, $"Cannot sort Emails by '{prop}'");
            var keyword = Args.String(c, "keyword");
            if (prop.EndsWith("Keyword", StringComparison.Ordinal) && keyword is null) throw Args.Invalid($"Sorting by '{prop}' needs 'keyword'");
            if (Args.String(c, "collation") is { } coll && coll is not ("i;ascii-numeric" or "i;ascii-casemap" or "i;unicode-casemap"))
                throw new JmapMethodException(JmapErrors.UnsupportedSort, $"Unknown collation '{coll}'");
            list.Add(new SortKey(prop, Args.Bool(c, "isAscending", true), keyword));
        }
        return list;
    }

    private async Task<IReadOnlyList<string>> RunQueryAsync(MailView view, JsonObject? filterNode, EmailFilter filter, List<SortKey> sorts, bool collapse)
    {
        // The common case, a folder's list: its own copies, not the whole account.
        IEnumerable<string> source = filterNode is { Count: 1 } && filterNode["inMailbox"] is JsonValue v && v.TryGetValue<string>(out var mid)
            && view.FolderByMailboxId(mid) is { } folder
            ? folder.ByUid.Values.Select(c => c.EmailId).Distinct()
            : view.EmailIds.ToList();
        var context = new FilterContext(store, view);
        var matched = new List<EmailCandidate>();
        foreach (var id in source)
        {
            var copies = view.Copies(id);
            if (copies.Count == 0) continue;
            var candidate = new EmailCandidate(id, copies);
            if (await filter.MatchAsync(candidate, context)) matched.Add(candidate);
        }
        var needsHeaders = sorts.Any(s => s.Property is "sentAt" or "from" or "to" or "subject");
        var summaries = new Dictionary<string, MessageSummary?>(StringComparer.Ordinal);
        if (needsHeaders)
            foreach (var m in matched) summaries[m.EmailId] = await store.SortKeysAsync(m.First);
        Dictionary<string, List<EmailCandidate>>? threads = null;
        // collapseThreads alone needs only each Email's thread id, stored with it when the view has them all.
        if (sorts.Any(s => s.Property.EndsWith("InThreadHaveKeyword", StringComparison.Ordinal)) || (collapse && !view.ThreadsStored))
            threads = await FilterContext.ThreadsAsync(store, view);
        var threadOf = new Dictionary<string, string>(StringComparer.Ordinal);
        if (threads is not null)
            foreach (var (tid, members) in threads)
                foreach (var member in members) threadOf[member.EmailId] = tid;

        int Compare(EmailCandidate a, EmailCandidate b)
        {
            foreach (var s in sorts)
            {
                var r = s.Property switch
                {
                    "receivedAt" => a.First.Meta.InternalDate.CompareTo(b.First.Meta.InternalDate),
                    "size" => a.First.Meta.Blob.Size.CompareTo(b.First.Meta.Blob.Size),
                    "sentAt" => (summaries[a.EmailId]?.SortDate ?? a.First.Meta.InternalDate).CompareTo(summaries[b.EmailId]?.SortDate ?? b.First.Meta.InternalDate),
                    "from" => string.Compare(summaries[a.EmailId]?.DisplayFrom, summaries[b.EmailId]?.DisplayFrom, StringComparison.OrdinalIgnoreCase),
                    "to" => string.Compare(summaries[a.EmailId]?.DisplayTo, summaries[b.EmailId]?.DisplayTo, StringComparison.OrdinalIgnoreCase),
                    "subject" => string.Compare(BaseSubjectOf(summaries[a.EmailId]), BaseSubjectOf(summaries[b.EmailId]), StringComparison.OrdinalIgnoreCase),
                    "hasKeyword" => Keywords.Has(a.First.Meta, s.Keyword!).CompareTo(Keywords.Has(b.First.Meta, s.Keyword!)),
                    "allInThreadHaveKeyword" => ThreadKeyword(a, s.Keyword!, all: true).CompareTo(ThreadKeyword(b, s.Keyword!, all: true)),
                    _ => ThreadKeyword(a, s.Keyword!, all: false).CompareTo(ThreadKeyword(b, s.Keyword!, all: false)),
                };
                if (r != 0) return s.Ascending ? r : -r;
            }
            // A stable order for ties: newest UID first, then the id.
            var t = b.First.Meta.Uid.CompareTo(a.First.Meta.Uid);
            return t != 0 ? t : string.CompareOrdinal(a.EmailId, b.EmailId);
        }

        bool ThreadKeyword(EmailCandidate e, string keyword, bool all)
        {
            if (threads is null || !threadOf.TryGetValue(e.EmailId, out var tid)) return Keywords.Has(e.First.Meta, keyword);
            return all ? threads[tid].All(m => Keywords.Has(m.First.Meta, keyword)) : threads[tid].Any(m => Keywords.Has(m.First.Meta, keyword));
        }

        matched.Sort(Compare);
        if (!collapse) return matched.Select(m => m.EmailId).ToList();
        // collapseThreads (RFC 8621 4.4.3): the first Email of each thread in sort order stands for it.
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var result = new List<string>();
        foreach (var m in matched)
            if (seen.Add(threadOf.GetValueOrDefault(m.EmailId) ?? m.First.Meta.ThreadId ?? m.EmailId)) result.Add(m.EmailId);
        return result;
    }

    private static string BaseSubjectOf(MessageSummary? s) => s is null ? "" : BaseSubject.Extract(s.Subject).Subject;

    // Filter conditions and sorts on properties an Email can change after it is stored (keywords,
    // mailboxes, its thread's keywords): with them, upToId cannot shorten the answer (RFC 8620 5.6).
    private static readonly HashSet<string> MutableFilters =
        ["inMailbox", "inMailboxOtherThan", "hasKeyword", "notKeyword", "allInThreadHaveKeyword", "someInThreadHaveKeyword", "noneInThreadHaveKeyword"];

    /// <summary>
    /// Email/queryChanges (RFC 8620 5.6, RFC 8621 4.5) from the query state, which is the mail state:
    /// every Email that changed since it (Email/changes' created, updated and destroyed) may have left
    /// or moved in the results, so the changed ones that were there before are "removed", and every
    /// changed one in the results now is "added" with its index. With collapseThreads the other Emails
    /// of a changed Email's thread count as changed too (which one stands for the thread may change).
    /// cannotCalculateChanges only where Email/changes cannot calculate, or when a removed Email's
    /// thread is unknown to this gateway under collapseThreads.
    /// </summary>
    private async Task<JsonObject> QueryChangesAsync(JmapCall call)
    {
        var since = Args.String(call.Arguments, "sinceQueryState", required: true)!;
        var filterNode = Args.Object(call.Arguments, "filter");
        var sorts = ParseSort(call.Arguments["sort"]);
        var collapse = Args.Bool(call.Arguments, "collapseThreads", false);
        var max = Args.Long(call.Arguments, "maxChanges", unsigned: true);
        if (max == 0) throw Args.Invalid("'maxChanges' must be positive");
        var upToId = Args.String(call.Arguments, "upToId");
        var calculateTotal = Args.Bool(call.Arguments, "calculateTotal", false);
        using var mail = await access.OpenAsync(call);
        var view = mail.View;
        var ids = await ResultsAsync(call, view, filterNode, sorts, collapse);
        var diff = await EmailChanges.ComputeAsync(mail, access.History, since, null);
        var changed = diff.All.ToHashSet(StringComparer.Ordinal);
        if (collapse && changed.Count > 0)
        {
            var threads = await FilterContext.ThreadsAsync(store, view);
            foreach (var id in changed.ToList())
            {
                var thread = view.Copies(id) is { Count: > 0 } copies ? await store.ThreadIdAsync(copies[0]) : diff.ThreadOfRemoved(id, store.Threads)
                    ?? throw new JmapMethodException(JmapErrors.CannotCalculateChanges, "A removed Email's thread is not known to this server; query again");
                if (threads.TryGetValue(thread, out var members))
                    foreach (var m in members) changed.Add(m.EmailId);
            }
        }
        var created = diff.Created.ToHashSet(StringComparer.Ordinal);
        var removed = changed.Where(id => !created.Contains(id)).ToList();
        var mutable = collapse || sorts.Any(s => s.Keyword is not null)
            || (filterNode is not null && MutableFilters.Any(f => filterNode.ToJsonString().Contains('"' + f + '"', StringComparison.Ordinal)));
        var last = upToId is not null && !mutable && IndexOf(ids, upToId) is var at && at >= 0 ? at : int.MaxValue;
        var added = new JsonArray();
        for (var i = 0; i < ids.Count && i <= last; i++)
            if (changed.Contains(ids[i])) added.Add(new JsonObject { ["id"] = ids[i], ["index"] = i });
        if (max is long limit && removed.Count + added.Count > limit)
            throw new JmapMethodException(JmapErrors.TooManyChanges, $"More than maxChanges ({limit}) changes; query again");
        var o = new JsonObject
        {
            ["accountId"] = mail.Account.Id,
            ["oldQueryState"] = since,
            ["newQueryState"] = view.State,
            ["removed"] = StandardMethods.Array(removed),
            ["added"] = added,
        };
        if (calculateTotal) o["total"] = ids.Count;
        return o;
    }

    private async Task<JsonObject> SnippetsAsync(JmapCall call)
    {
        var ids = Args.Strings(call.Arguments, "emailIds") ?? throw Args.Invalid("'emailIds' is required");
        if (ids.Count > call.Request.Limits.MaxObjectsInGet) throw new JmapMethodException(JmapErrors.RequestTooLarge, "Too many emailIds");
        var filterNode = Args.Object(call.Arguments, "filter");
        using var mail = await access.OpenAsync(call);
        var filter = EmailFilter.Parse(filterNode, mail.View.FolderByMailboxId);
        var terms = filter.Terms.Where(t => t.Length > 0).Distinct(StringComparer.OrdinalIgnoreCase).ToList();
        var list = new JsonArray();
        var notFound = new JsonArray();
        foreach (var id in ids.Distinct())
        {
            var copies = mail.View.Copies(id);
            if (copies.Count == 0 || await store.ReaderAsync(copies[0]) is not { } reader)
            {
                notFound.Add(id);
                continue;
            }
            reader.TryHeaderProperty("subject", out var subjectNode);
            var subject = (string?)subjectNode ?? "";
            var body = reader.TextBody.Concat(reader.HtmlBody).Select(p => p.Entity).OfType<MimeKit.TextPart>().Select(EmailReader.SafeText).FirstOrDefault() ?? "";
            list.Add(new JsonObject
            {
                ["emailId"] = id,
                ["subject"] = terms.Any(t => subject.Contains(t, StringComparison.OrdinalIgnoreCase)) ? Highlight(subject, terms) : null,
                ["preview"] = Excerpt(body, terms),
            });
        }
        return new JsonObject { ["accountId"] = mail.Account.Id, ["list"] = list, ["notFound"] = notFound };
    }

    /// <summary>HTML-escaped text with every match of a term in &lt;mark&gt; (RFC 8621 5).</summary>
    public static string Highlight(string text, IReadOnlyList<string> terms)
    {
        var sb = new StringBuilder();
        var i = 0;
        while (i < text.Length)
        {
            var (at, len) = (-1, 0);
            foreach (var t in terms)
            {
                var p = text.IndexOf(t, i, StringComparison.OrdinalIgnoreCase);
                if (p >= 0 && (at < 0 || p < at)) (at, len) = (p, t.Length);
            }
            if (at < 0)
            {
                sb.Append(WebUtility.HtmlEncode(text[i..]));
                break;
            }
            sb.Append(WebUtility.HtmlEncode(text[i..at])).Append("<mark>").Append(WebUtility.HtmlEncode(text.Substring(at, len))).Append("</mark>");
            i = at + len;
        }
        return sb.ToString();
    }

    /// <summary>Up to 255 characters of body text around the first match, highlighted; null when nothing matches.</summary>
    public static string? Excerpt(string body, IReadOnlyList<string> terms)
    {
        var flat = string.Join(' ', body.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries));
        var first = terms.Select(t => flat.IndexOf(t, StringComparison.OrdinalIgnoreCase)).Where(p => p >= 0).DefaultIfEmpty(-1).Min();
        if (first < 0) return null;
        var start = Math.Max(0, first - 60);
        var piece = flat.Substring(start, Math.Min(255, flat.Length - start));
        return Highlight(piece, terms);
    }
}

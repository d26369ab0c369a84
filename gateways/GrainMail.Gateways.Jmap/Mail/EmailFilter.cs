using System.Text.Json.Nodes;
using GrainMail.Gateways.Jmap.Protocol;
using MimeKit;
using GrainMail.Gateways.Common.Mime;

namespace GrainMail.Gateways.Jmap.Mail;

/// <summary>One Email as a query sees it: its id and its copies (one per folder it is in).</summary>
public sealed record EmailCandidate(string EmailId, IReadOnlyList<EmailCopy> Copies)
{
    public EmailCopy First => Copies[0];
}

/// <summary>
/// An Email/query FilterOperator or FilterCondition (RFC 8621 4.4.1), parsed once and matched per
/// Email. Text conditions search the decoded text with IMAP SEARCH's code (charsets such as GB2312
/// and GBK decoded before comparing), so both protocols find the same messages.
/// </summary>
public abstract class EmailFilter
{
    public virtual bool NeedsContent => false;

    public virtual bool NeedsThreads => false;

    public abstract ValueTask<bool> MatchAsync(EmailCandidate e, FilterContext c);

    public static EmailFilter Parse(JsonObject? node, Func<string, FolderView?> folder)
    {
        if (node is null) return new All();
        if (node.ContainsKey("operator"))
        {
            var op = Args.String(node, "operator");
            if (node["conditions"] is not JsonArray list) throw Args.Invalid("A FilterOperator needs 'conditions'");
            var parts = list.Select(n => Parse(n as JsonObject ?? throw Args.Invalid("A condition must be an object"), folder)).ToList();
            return op switch
            {
                "AND" => new Combine(parts, CombineKind.And),
                "OR" => new Combine(parts, CombineKind.Or),
                "NOT" => new Combine(parts, CombineKind.Not),
                _ => throw new Protocol.JmapMethodException(JmapErrors.UnsupportedFilter, $"Unknown operator '{op}'"),
            };
        }
        var conditions = new List<EmailFilter>();
        foreach (var (key, _) in node)
        {
            conditions.Add(key switch
            {
                "inMailbox" => new InMailbox(folder(Args.String(node, key, true)!)?.Info.FolderId ?? -1),
                "inMailboxOtherThan" => new OtherThan((Args.Strings(node, key) ?? []).Select(id => folder(id)?.Info.FolderId ?? -1).ToHashSet()),
                "before" => new Received(Date(node, key), before: true),
                "after" => new Received(Date(node, key), before: false),
                "minSize" => new Size(Args.Long(node, key, true) ?? 0, min: true),
                "maxSize" => new Size(Args.Long(node, key, true) ?? 0, min: false),
                "hasKeyword" => new Keyword(Args.String(node, key, true)!, true),
                "notKeyword" => new Keyword(Args.String(node, key, true)!, false),
                "allInThreadHaveKeyword" => new ThreadKeyword(Args.String(node, key, true)!, ThreadRule.All),
                "someInThreadHaveKeyword" => new ThreadKeyword(Args.String(node, key, true)!, ThreadRule.Some),
                "noneInThreadHaveKeyword" => new ThreadKeyword(Args.String(node, key, true)!, ThreadRule.None),
                "hasAttachment" => new HasAttachment(Args.Bool(node, key, false)),
                "text" => new Text(Args.String(node, key, true)!, TextWhere.All),
                "from" => new Text(Args.String(node, key, true)!, TextWhere.From),
                "to" => new Text(Args.String(node, key, true)!, TextWhere.To),
                "cc" => new Text(Args.String(node, key, true)!, TextWhere.Cc),
                "bcc" => new Text(Args.String(node, key, true)!, TextWhere.Bcc),
                "subject" => new Text(Args.String(node, key, true)!, TextWhere.Subject),
                "body" => new Text(Args.String(node, key, true)!, TextWhere.Body),
                "header" => Header(node),
                _ => throw new Protocol.JmapMethodException(JmapErrors.UnsupportedFilter, $"Unknown email filter '{key}'"),
            });
        }
        return conditions.Count == 1 ? conditions[0] : new Combine(conditions, CombineKind.And);
    }

    private static DateTimeOffset Date(JsonObject node, string key) =>
        DateTimeOffset.TryParse(Args.String(node, key, true), System.Globalization.CultureInfo.InvariantCulture, System.Globalization.DateTimeStyles.AssumeUniversal, out var d)
            ? d : throw Args.Invalid($"'{key}' must be a UTCDate");

    private static EmailFilter Header(JsonObject node)
    {
        var list = Args.Strings(node, "header") ?? [];
        if (list.Count is < 1 or > 2) throw Args.Invalid("'header' is [name] or [name, value]");
        return new HeaderText(list[0], list.Count == 2 ? list[1] : null);
    }

    /// <summary>The words a text condition looks for (for SearchSnippet highlighting).</summary>
    public virtual IEnumerable<string> Terms => [];

    private sealed class All : EmailFilter
    {
        public override ValueTask<bool> MatchAsync(EmailCandidate e, FilterContext c) => ValueTask.FromResult(true);
    }

    private enum CombineKind
    {
        And,
        Or,
        Not,
    }

    private sealed class Combine(List<EmailFilter> parts, CombineKind kind) : EmailFilter
    {
        public override bool NeedsContent => parts.Any(p => p.NeedsContent);
        public override bool NeedsThreads => parts.Any(p => p.NeedsThreads);
        public override IEnumerable<string> Terms => kind == CombineKind.Not ? [] : parts.SelectMany(p => p.Terms);

        public override async ValueTask<bool> MatchAsync(EmailCandidate e, FilterContext c)
        {
            // Cheap conditions first: content is read only for Emails the others let through.
            foreach (var p in parts.OrderBy(p => p.NeedsContent))
            {
                var m = await p.MatchAsync(e, c);
                if (kind == CombineKind.And && !m) return false;
                if (kind == CombineKind.Or && m) return true;
                if (kind == CombineKind.Not && m) return false;
            }
            return kind != CombineKind.Or;
        }
    }

    private sealed class InMailbox(int folderId) : EmailFilter
    {
        public override ValueTask<bool> MatchAsync(EmailCandidate e, FilterContext c) => ValueTask.FromResult(e.Copies.Any(x => x.FolderId == folderId));
    }

    private sealed class OtherThan(HashSet<int> folders) : EmailFilter
    {
        public override ValueTask<bool> MatchAsync(EmailCandidate e, FilterContext c) => ValueTask.FromResult(e.Copies.Any(x => !folders.Contains(x.FolderId)));
    }

    private sealed class Received(DateTimeOffset at, bool before) : EmailFilter
    {
        public override ValueTask<bool> MatchAsync(EmailCandidate e, FilterContext c) =>
            ValueTask.FromResult(before ? e.First.Meta.InternalDate < at : e.First.Meta.InternalDate >= at);
    }

    private sealed class Size(long size, bool min) : EmailFilter
    {
        public override ValueTask<bool> MatchAsync(EmailCandidate e, FilterContext c) =>
            ValueTask.FromResult(min ? e.First.Meta.Blob.Size >= size : e.First.Meta.Blob.Size < size);
    }

    private sealed class Keyword(string keyword, bool set) : EmailFilter
    {
        public override ValueTask<bool> MatchAsync(EmailCandidate e, FilterContext c) => ValueTask.FromResult(Keywords.Has(e.First.Meta, keyword) == set);
    }

    private enum ThreadRule
    {
        All,
        Some,
        None,
    }

    private sealed class ThreadKeyword(string keyword, ThreadRule rule) : EmailFilter
    {
        public override bool NeedsThreads => true;

        public override async ValueTask<bool> MatchAsync(EmailCandidate e, FilterContext c)
        {
            var members = await c.ThreadMembersAsync(e);
            var with = members.Count(m => Keywords.Has(m.First.Meta, keyword));
            return rule switch
            {
                ThreadRule.All => with == members.Count,
                ThreadRule.Some => with > 0,
                _ => with == 0,
            };
        }
    }

    private sealed class HasAttachment(bool want) : EmailFilter
    {
        public override bool NeedsContent => true;

        public override async ValueTask<bool> MatchAsync(EmailCandidate e, FilterContext c) =>
            (await c.Store.HasAttachmentAsync(e.First) == true) == want;
    }

    private enum TextWhere
    {
        All,
        From,
        To,
        Cc,
        Bcc,
        Subject,
        Body,
    }

    private sealed class Text(string text, TextWhere where) : EmailFilter
    {
        public override bool NeedsContent => true;
        public override IEnumerable<string> Terms => where is TextWhere.All or TextWhere.Subject or TextWhere.Body ? [text] : [];

        public override async ValueTask<bool> MatchAsync(EmailCandidate e, FilterContext c)
        {
            var content = await c.Store.LoadAsync(e.First);
            if (content is null) return false;
            var headers = content.Root.Headers;
            bool Field(string name) => headers.Any(h => h.Field.Equals(name, StringComparison.OrdinalIgnoreCase)
                && (TextSearch.DecodedValue(h).Contains(text, StringComparison.OrdinalIgnoreCase) || TextSearch.AddressesText(h).Contains(text, StringComparison.OrdinalIgnoreCase)));
            return where switch
            {
                TextWhere.From => Field("From"),
                TextWhere.To => Field("To"),
                TextWhere.Cc => Field("Cc"),
                TextWhere.Bcc => Field("Bcc"),
                TextWhere.Subject => headers.Any(h => h.Field.Equals("Subject", StringComparison.OrdinalIgnoreCase) && TextSearch.DecodedValue(h).Contains(text, StringComparison.OrdinalIgnoreCase)),
                TextWhere.Body => TextSearch.BodyContains(content.Raw, content.Root, text, headers: false),
                // RFC 8621 4.4.1 text: From, To, Cc, Bcc, Subject and the text bodies (attachments' text too, as IMAP TEXT).
                _ => Field("From") || Field("To") || Field("Cc") || Field("Bcc") || Field("Subject") || TextSearch.BodyContains(content.Raw, content.Root, text, headers: true),
            };
        }
    }

    private sealed class HeaderText(string name, string? value) : EmailFilter
    {
        public override bool NeedsContent => true;

        public override async ValueTask<bool> MatchAsync(EmailCandidate e, FilterContext c)
        {
            var content = await c.Store.LoadAsync(e.First);
            if (content is null) return false;
            return content.Root.Headers.Any(h => h.Field.Equals(name, StringComparison.OrdinalIgnoreCase)
                && (value is null || TextSearch.DecodedValue(h).Contains(value, StringComparison.OrdinalIgnoreCase)));
        }
    }
}

/// <summary>What matching needs beyond one Email: content and (lazily) the account's threads.</summary>
public sealed class FilterContext(EmailStore store, MailView view)
{
    private Dictionary<string, List<EmailCandidate>>? _threads;

    public EmailStore Store => store;

    public async Task<IReadOnlyList<EmailCandidate>> ThreadMembersAsync(EmailCandidate e)
    {
        _threads ??= await ThreadsAsync(store, view);
        var id = await store.ThreadIdAsync(e.First);
        return _threads.TryGetValue(id, out var l) ? l : [e];
    }

    /// <summary>
    /// Every Email of the account by thread id, kept for the view's current state. From the thread ids
    /// stored with the messages when all have one; else each message without one is read once (its
    /// thread id then cached by Email id).
    /// </summary>
    public static async Task<Dictionary<string, List<EmailCandidate>>> ThreadsAsync(EmailStore store, MailView view)
    {
        if (view.CachedThreads is Dictionary<string, List<EmailCandidate>> cached) return cached;
        var map = view.ThreadsStored ? StoredThreads(view) : await ReadThreadsAsync(store, view);
        view.CachedThreads = map;
        return map;
    }

    private static Dictionary<string, List<EmailCandidate>> StoredThreads(MailView view)
    {
        var map = new Dictionary<string, List<EmailCandidate>>(StringComparer.Ordinal);
        foreach (var (thread, members) in view.StoredThreads)
            map[thread] = [.. members.Select(id => new EmailCandidate(id, view.Copies(id))).Where(c => c.Copies.Count > 0)];
        return map;
    }

    private static async Task<Dictionary<string, List<EmailCandidate>>> ReadThreadsAsync(EmailStore store, MailView view)
    {
        var map = new Dictionary<string, List<EmailCandidate>>(StringComparer.Ordinal);
        foreach (var id in view.EmailIds.ToList())
        {
            var copies = view.Copies(id);
            if (copies.Count == 0) continue;
            var t = await store.ThreadIdAsync(copies[0]);
            if (!map.TryGetValue(t, out var l)) map[t] = l = [];
            l.Add(new EmailCandidate(id, copies));
        }
        return map;
    }
}

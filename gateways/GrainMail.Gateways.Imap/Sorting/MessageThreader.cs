using System.Text;
using GrainMail.Gateways.Common.Sorting;

namespace GrainMail.Gateways.Imap.Sorting;

/// <summary>A THREAD algorithm (RFC 5256 4).</summary>
public enum ThreadAlgorithm
{
    OrderedSubject,
    References,
}

/// <summary>A node of a thread tree: a message, or (RFC 5256 REFERENCES) a dummy that only holds children.</summary>
public sealed class ThreadNode(MessageSummary? message)
{
    public MessageSummary? Message { get; } = message;

    public List<ThreadNode> Children { get; } = [];

    public bool IsDummy => Message is null;
}

/// <summary>
/// The THREAD algorithms of RFC 5256 as pure functions from message summaries to thread trees,
/// and the thread-list format of the THREAD response.
/// </summary>
public static class MessageThreader
{
    public static List<ThreadNode> Thread(IReadOnlyList<MessageSummary> messages, ThreadAlgorithm algorithm) =>
        algorithm == ThreadAlgorithm.OrderedSubject ? OrderedSubject(messages) : References(messages);

    /// <summary>
    /// ORDEREDSUBJECT (RFC 5256 4): sort by base subject then sent date; each run of one subject
    /// is a thread whose first message is the parent of all the others; threads in the order of
    /// their first message's sent date.
    /// </summary>
    public static List<ThreadNode> OrderedSubject(IReadOnlyList<MessageSummary> messages)
    {
        var sorted = messages.Select(m => (Key: BaseSubject.Key(m.Subject), Message: m))
            .OrderBy(x => x.Key, StringComparer.Ordinal).ThenBy(x => x.Message.SortDate).ThenBy(x => x.Message.Sequence).ToList();
        var threads = new List<ThreadNode>();
        string? current = null;
        ThreadNode? parent = null;
        foreach (var (key, m) in sorted)
        {
            if (parent is null || key != current)
            {
                parent = new ThreadNode(m);
                threads.Add(parent);
                current = key;
                continue;
            }
            parent.Children.Add(new ThreadNode(m));
        }
        return [.. threads.OrderBy(t => t.Message!.SortDate).ThenBy(t => t.Message!.Sequence)];
    }

    private sealed class Container
    {
        public MessageSummary? Message;
        public Container? Parent;
        public readonly List<Container> Children = [];

        public bool IsAncestorOf(Container c)
        {
            for (var p = c; p is not null; p = p.Parent)
                if (p == this) return true;
            return false;
        }

        public void Unlink()
        {
            Parent?.Children.Remove(this);
            Parent = null;
        }

        public void AddChild(Container c)
        {
            c.Unlink();
            c.Parent = this;
            Children.Add(c);
        }
    }

    /// <summary>THREAD=REFERENCES (RFC 5256 4), steps 1 to 6.</summary>
    public static List<ThreadNode> References(IReadOnlyList<MessageSummary> messages)
    {
        var byId = new Dictionary<string, Container>(StringComparer.Ordinal);
        var unique = 0;
        Container Get(string id)
        {
            if (!byId.TryGetValue(id, out var c)) byId[id] = c = new Container();
            return c;
        }
        foreach (var m in messages.OrderBy(m => m.Sequence))
        {
            // Step 1A: link the references in order, parent before child, where neither has a parent yet and no loop forms.
            Container? previous = null;
            foreach (var id in m.References)
            {
                var c = Get(id);
                if (previous is not null && c.Parent is null && c != previous && !c.IsAncestorOf(previous)) previous.AddChild(c);
                previous = c;
            }
            // Step 1B: the message's own container; a missing or duplicate Message-ID gets a fresh one.
            var ownId = m.MessageId;
            if (ownId is null || (byId.TryGetValue(ownId, out var existing) && existing.Message is not null)) ownId = "\0unique" + unique++;
            var own = Get(ownId);
            own.Message = m;
            // Step 1C: the last reference is the parent (replacing any earlier guess), unless that makes a loop.
            own.Unlink();
            if (previous is not null && previous != own && !own.IsAncestorOf(previous)) previous.AddChild(own);
        }
        // Step 2: the root set.
        var roots = byId.Values.Where(c => c.Parent is null).ToList();
        // Step 3: prune dummies.
        roots = Prune(roots, atRoot: true);
        // Step 4: siblings by sent date.
        SortSiblings(roots);
        // Step 5: gather the root set by base subject.
        roots = GroupBySubject(roots);
        // Step 6: sort again.
        SortSiblings(roots);
        return [.. roots.Select(ToNode)];
    }

    private static List<Container> Prune(List<Container> level, bool atRoot)
    {
        var result = new List<Container>();
        foreach (var c in level)
        {
            var kept = Prune(c.Children, atRoot: false);
            c.Children.Clear();
            foreach (var k in kept)
            {
                k.Parent = c;
                c.Children.Add(k);
            }
            if (c.Message is not null)
            {
                result.Add(c);
                continue;
            }
            // 3A: an empty dummy goes. 3B: a dummy's children take its place, but not at the root unless there is only one.
            if (c.Children.Count == 0) continue;
            if (atRoot && c.Children.Count > 1)
            {
                result.Add(c);
                continue;
            }
            foreach (var k in c.Children)
            {
                k.Parent = atRoot ? null : c.Parent;
                result.Add(k);
            }
            c.Children.Clear();
        }
        return result;
    }

    private static DateTimeOffset SortDateOf(Container c) =>
        c.Message?.SortDate ?? (c.Children.Count > 0 ? SortDateOf(c.Children[0]) : DateTimeOffset.MinValue);

    private static int SequenceOf(Container c) =>
        c.Message?.Sequence ?? (c.Children.Count > 0 ? SequenceOf(c.Children[0]) : int.MaxValue);

    private static void SortSiblings(List<Container> level)
    {
        // Children first: a dummy sorts by its first child's date (RFC 5256 step 4).
        foreach (var c in level) SortSiblings(c.Children);
        level.Sort((a, b) =>
        {
            var r = SortDateOf(a).CompareTo(SortDateOf(b));
            return r != 0 ? r : SequenceOf(a).CompareTo(SequenceOf(b));
        });
    }

    private static MessageSummary? SubjectMessage(Container c) => c.Message ?? (c.Children.Count > 0 ? c.Children[0].Message : null);

    private static List<Container> GroupBySubject(List<Container> roots)
    {
        // 5A/5B: the subject table, preferring a dummy, then a message that is not a reply or forward.
        var table = new Dictionary<string, Container>(StringComparer.Ordinal);
        foreach (var c in roots)
        {
            if (SubjectMessage(c) is not { } m) continue;
            var (subject, _) = BaseSubject.Extract(m.Subject);
            if (subject.Length == 0) continue;
            var key = subject.ToUpperInvariant();
            if (!table.TryGetValue(key, out var old)) table[key] = c;
            else if (old.Message is not null && (c.Message is null || (IsReplyOrForward(old) && !IsReplyOrForward(c)))) table[key] = c;
        }
        // 5C: merge the root set entries that share a subject; a new dummy takes its table entry's place.
        var order = new List<Container>(roots);
        foreach (var c in roots)
        {
            if (c.Parent is not null) continue;
            var m = SubjectMessage(c);
            var key = m is null ? "" : BaseSubject.Key(m.Subject);
            if (key.Length == 0 || !table.TryGetValue(key, out var t) || t == c) continue;
            if (t.Message is null && c.Message is null)
            {
                foreach (var k in c.Children.ToList()) t.AddChild(k);
            }
            else if (t.Message is null || (!IsReplyOrForward(t) && IsReplyOrForward(c)))
            {
                t.AddChild(c);
            }
            else
            {
                var dummy = new Container();
                var at = order.IndexOf(t);
                dummy.AddChild(t);
                dummy.AddChild(c);
                order[at] = dummy;
                table[key] = dummy;
            }
        }
        return [.. order.Where(c => c.Parent is null && (c.Message is not null || c.Children.Count > 0))];
    }

    private static bool IsReplyOrForward(Container c) => c.Message is { } m && BaseSubject.Extract(m.Subject).IsReplyOrForward;

    private static ThreadNode ToNode(Container c)
    {
        var node = new ThreadNode(c.Message);
        foreach (var k in c.Children) node.Children.Add(ToNode(k));
        return node;
    }

    /// <summary>The THREAD response's thread-lists (RFC 5256 4, RFC 9051 grammar), e.g. <c>(2)(3 6 (4 23)(44 7 96))</c>.</summary>
    public static string Format(IEnumerable<ThreadNode> threads)
    {
        var sb = new StringBuilder();
        foreach (var t in threads)
        {
            sb.Append('(');
            Members(sb, t);
            sb.Append(')');
        }
        return sb.ToString();
    }

    private static void Members(StringBuilder sb, ThreadNode node)
    {
        var n = node;
        var first = true;
        // A chain of single children is one run of numbers; a fork is a nested list per branch.
        while (true)
        {
            if (n.Message is { } m)
            {
                if (!first) sb.Append(' ');
                sb.Append(m.Number);
                first = false;
            }
            if (n.Children.Count == 1 && !n.IsDummy)
            {
                n = n.Children[0];
                continue;
            }
            if (n.Children.Count == 0) return;
            if (!first) sb.Append(' ');
            foreach (var child in n.Children)
            {
                sb.Append('(');
                Members(sb, child);
                sb.Append(')');
            }
            return;
        }
    }
}

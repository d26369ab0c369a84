namespace GrainMail.Gateways.Imap.Protocol;

/// <summary>
/// An IMAP sequence set (RFC 3501 9: <c>seq-set</c>): ranges of numbers where <c>*</c> is the
/// largest number in use; <c>$</c> stands for the last search result (RFC 5182).
/// </summary>
public sealed class SequenceSet
{
    private const long Star = long.MaxValue;
    private readonly List<(long From, long To)> _ranges;

    private SequenceSet(List<(long, long)> ranges, bool saved)
    {
        _ranges = ranges;
        IsSavedResult = saved;
    }

    public bool IsSavedResult { get; }

    public static SequenceSet Parse(string text)
    {
        if (text == "$") return new SequenceSet([], true);
        var ranges = new List<(long, long)>();
        foreach (var item in text.Split(','))
        {
            var colon = item.IndexOf(':');
            if (colon < 0)
            {
                var n = Number(item);
                ranges.Add((n, n));
            }
            else
            {
                ranges.Add((Number(item[..colon]), Number(item[(colon + 1)..])));
            }
        }
        return new SequenceSet(ranges, false);
    }

    private static long Number(string s)
    {
        if (s == "*") return Star;
        if (s.Length == 0 || s.Length > 10 || !long.TryParse(s, System.Globalization.NumberStyles.None, null, out var n) || n == 0 || n > uint.MaxValue)
            throw new ImapSyntaxException("Invalid sequence set");
        return n;
    }

    /// <summary>True when <paramref name="n"/> is in the set, with <c>*</c> meaning <paramref name="largest"/>.</summary>
    public bool Contains(long n, long largest)
    {
        foreach (var (a, b) in _ranges)
        {
            var x = a == Star ? largest : a;
            var y = b == Star ? largest : b;
            if (x > y) (x, y) = (y, x);
            if (n >= x && n <= y) return true;
        }
        return false;
    }

    /// <summary>The members among <paramref name="sorted"/> values (ascending), e.g. the UIDs of a folder.</summary>
    public IEnumerable<int> IndexesIn(IReadOnlyList<long> sorted)
    {
        if (sorted.Count == 0) yield break;
        var largest = sorted[^1];
        if (_ranges.Count == 1)
        {
            // The common case (1:*, n:m, one UID) without the set.
            var (a1, b1) = _ranges[0];
            var x1 = a1 == Star ? largest : a1;
            var y1 = b1 == Star ? largest : b1;
            if (x1 > y1) (x1, y1) = (y1, x1);
            for (var i = LowerBound(sorted, x1); i < sorted.Count && sorted[i] <= y1; i++) yield return i;
            yield break;
        }
        // Ranges are resolved to [x, y] and each is found by binary search: 1:* over 100,000 UIDs is one pass.
        var hits = new SortedSet<int>();
        foreach (var (a, b) in _ranges)
        {
            var x = a == Star ? largest : a;
            var y = b == Star ? largest : b;
            if (x > y) (x, y) = (y, x);
            for (var i = LowerBound(sorted, x); i < sorted.Count && sorted[i] <= y; i++) hits.Add(i);
        }
        foreach (var i in hits) yield return i;
    }

    /// <summary>Message sequence numbers in the set as 0-based indexes; null when one is beyond <paramref name="count"/>.</summary>
    public IReadOnlyList<int>? SequenceIndexes(int count)
    {
        if (count == 0) return [];
        var hits = new SortedSet<int>();
        foreach (var (a, b) in _ranges)
        {
            var x = a == Star ? count : a;
            var y = b == Star ? count : b;
            if (x > y) (x, y) = (y, x);
            if (y > count || x < 1) return null;
            if (x == 1 && y == count && hits.Count == 0) return Enumerable.Range(0, count).ToList();
            for (var i = x; i <= y; i++) hits.Add((int)i - 1);
        }
        return hits.ToList();
    }

    private static int LowerBound(IReadOnlyList<long> list, long v)
    {
        int lo = 0, hi = list.Count;
        while (lo < hi)
        {
            var mid = (lo + hi) >>> 1;
            if (list[mid] < v) lo = mid + 1;
            else hi = mid;
        }
        return lo;
    }

    /// <summary>Formats ascending numbers compactly, e.g. for COPYUID: <c>1:3,7</c>.</summary>
    public static string Format(IEnumerable<long> numbers)
    {
        var sb = new System.Text.StringBuilder();
        long start = -1, prev = -1;
        foreach (var n in numbers)
        {
            if (start < 0) { start = prev = n; continue; }
            if (n == prev + 1) { prev = n; continue; }
            Append(sb, start, prev);
            start = prev = n;
        }
        if (start >= 0) Append(sb, start, prev);
        return sb.ToString();

        static void Append(System.Text.StringBuilder sb, long a, long b)
        {
            if (sb.Length > 0) sb.Append(',');
            sb.Append(a);
            if (b != a) sb.Append(':').Append(b);
        }
    }
}

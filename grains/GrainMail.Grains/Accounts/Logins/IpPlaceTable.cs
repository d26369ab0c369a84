using System.Net;
using System.Net.Sockets;
using GrainMail.Storage.Logins;

namespace GrainMail.Grains.Accounts.Logins;

/// <summary>
/// Networks mapped to places, flattened once into disjoint address intervals sorted by start, so
/// that a lookup is one binary search. CIDR blocks are either nested or apart, so the sweep that
/// builds the intervals gives each address the place of the longest prefix that covers it.
/// IPv4 lives in the IPv4-mapped part of the IPv6 space (RFC 4291 2.5.5.2), one table for both.
/// </summary>
public sealed class IpPlaceTable
{
    private readonly UInt128[] _starts;
    private readonly UInt128[] _ends;
    private readonly LoginPlace[] _places;

    private IpPlaceTable(UInt128[] starts, UInt128[] ends, LoginPlace[] places)
    {
        _starts = starts;
        _ends = ends;
        _places = places;
    }

    public static readonly IpPlaceTable Empty = new([], [], []);

    public int Intervals => _starts.Length;

    public LoginPlace? Find(IPAddress address)
    {
        var key = Key(address);
        // The last interval that starts at or before the address.
        int lo = 0, hi = _starts.Length - 1, found = -1;
        while (lo <= hi)
        {
            var mid = (lo + hi) >>> 1;
            if (_starts[mid] <= key)
            {
                found = mid;
                lo = mid + 1;
            }
            else hi = mid - 1;
        }
        return found >= 0 && key <= _ends[found] ? _places[found] : null;
    }

    public static UInt128 Key(IPAddress address)
    {
        Span<byte> bytes = stackalloc byte[16];
        var v6 = address.AddressFamily == AddressFamily.InterNetwork ? address.MapToIPv6() : address;
        v6.TryWriteBytes(bytes, out _);
        return System.Buffers.Binary.BinaryPrimitives.ReadUInt128BigEndian(bytes);
    }

    /// <summary>Builds the table from networks in any order; of two equal networks the later wins.</summary>
    public static IpPlaceTable Build(IEnumerable<(IPNetwork Network, LoginPlace Place)> entries)
    {
        var ranges = new List<(UInt128 Start, UInt128 End, int Order, LoginPlace Place)>();
        var order = 0;
        foreach (var (network, place) in entries)
        {
            var start = Key(network.BaseAddress);
            var bits = network.BaseAddress.AddressFamily == AddressFamily.InterNetwork ? network.PrefixLength + 96 : network.PrefixLength;
            var hostMask = bits >= 128 ? UInt128.Zero : UInt128.MaxValue >> bits;
            ranges.Add((start & ~hostMask, (start & ~hostMask) | hostMask, order++, place));
        }
        // Outer blocks before the blocks inside them; equal blocks in file order, so the later is innermost.
        ranges.Sort((a, b) => a.Start != b.Start ? a.Start.CompareTo(b.Start) : a.End != b.End ? b.End.CompareTo(a.End) : a.Order.CompareTo(b.Order));

        var starts = new List<UInt128>();
        var ends = new List<UInt128>();
        var places = new List<LoginPlace>();
        var stack = new Stack<(UInt128 End, LoginPlace Place)>();
        UInt128 cursor = 0;
        var exhausted = false; // the cursor went past the last address
        void Emit(UInt128 from, UInt128 to, LoginPlace place)
        {
            if (exhausted || from > to) return;
            starts.Add(from);
            ends.Add(to);
            places.Add(place);
        }
        void Close()
        {
            var top = stack.Pop();
            if (!exhausted && cursor <= top.End) Emit(cursor, top.End, top.Place);
            if (top.End == UInt128.MaxValue) exhausted = true;
            else if (cursor <= top.End) cursor = top.End + 1;
        }
        foreach (var r in ranges)
        {
            while (stack.Count > 0 && stack.Peek().End < r.Start) Close();
            if (stack.Count > 0 && cursor < r.Start) Emit(cursor, r.Start - 1, stack.Peek().Place);
            if (cursor < r.Start) cursor = r.Start;
            stack.Push((r.End, r.Place));
        }
        while (stack.Count > 0) Close();
        return new IpPlaceTable([.. starts], [.. ends], [.. places]);
    }
}

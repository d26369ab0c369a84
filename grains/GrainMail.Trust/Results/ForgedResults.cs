using System.Text;

namespace GrainMail.Trust.Results;

/// <summary>
/// Byte-level work on a message's header section as received, so the rest of the message stays byte
/// for byte what the sender signed: find the Authentication-Results fields that claim our authserv-id
/// (RFC 8601 5: they must be removed) and write our own fields in front.
/// </summary>
public static class ForgedResults
{
    /// <summary>Byte ranges (start, length) of Authentication-Results fields in the header section of
    /// <paramref name="raw"/> that claim <paramref name="authservId"/>, each with its folded lines.</summary>
    public static List<(int Start, int Length)> Find(ReadOnlySpan<byte> raw, string authservId)
    {
        var found = new List<(int, int)>();
        var pos = 0;
        while (pos < raw.Length)
        {
            var end = FieldEnd(raw, pos);
            if (end == pos) break; // the empty line: the header section ends
            var field = raw[pos..end];
            var colon = field.IndexOf((byte)':');
            if (colon > 0)
            {
                var name = Encoding.ASCII.GetString(field[..colon]).Trim();
                if (name.Equals(AuthenticationResults.HeaderName, StringComparison.OrdinalIgnoreCase))
                {
                    var value = Encoding.UTF8.GetString(field[(colon + 1)..]).Replace("\r\n", "").Replace("\n", "");
                    if (AuthenticationResults.ClaimsId(value, authservId)) found.Add((pos, end - pos));
                }
            }
            pos = end;
        }
        return found;
    }

    /// <summary><paramref name="prefix"/> followed by <paramref name="raw"/> without the byte ranges in <paramref name="remove"/> (ascending).</summary>
    public static byte[] Rewrite(ReadOnlySpan<byte> raw, string prefix, IReadOnlyList<(int Start, int Length)> remove)
    {
        var head = Encoding.UTF8.GetBytes(prefix);
        var size = head.Length + raw.Length - remove.Sum(r => r.Length);
        var result = new byte[size];
        head.CopyTo(result, 0);
        var at = head.Length;
        var from = 0;
        foreach (var (start, length) in remove)
        {
            raw[from..start].CopyTo(result.AsSpan(at));
            at += start - from;
            from = start + length;
        }
        raw[from..].CopyTo(result.AsSpan(at));
        return result;
    }

    /// <summary>Where the field starting at <paramref name="pos"/> ends: after its last line's LF, taking in
    /// continuation lines (those starting with SP or HT). Returns <paramref name="pos"/> at the empty line.</summary>
    private static int FieldEnd(ReadOnlySpan<byte> raw, int pos)
    {
        if (raw[pos] == (byte)'\n' || (raw[pos] == (byte)'\r' && pos + 1 < raw.Length && raw[pos + 1] == (byte)'\n')) return pos;
        var i = pos;
        while (true)
        {
            var lf = raw[i..].IndexOf((byte)'\n');
            if (lf < 0) return raw.Length;
            i += lf + 1;
            if (i >= raw.Length || (raw[i] != (byte)' ' && raw[i] != (byte)'\t')) return i;
        }
    }
}

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
            // A name shorter than the header's cannot be it, trimmed or not: most fields are decided without a string.
            if (colon >= AuthenticationResults.HeaderName.Length)
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
        var removed = 0;
        foreach (var (_, length) in remove) removed += length;
        // The prefix encoded straight into the result, not into an array of its own first.
        var headLength = Encoding.UTF8.GetByteCount(prefix);
        var result = new byte[headLength + raw.Length - removed];
        Encoding.UTF8.GetBytes(prefix, result);
        var at = headLength;
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

using System.Globalization;

namespace GrainMail.Gateways.Http.LargeFiles;

public enum RangeKind
{
    /// <summary>No usable Range: the whole representation, 200.</summary>
    Whole,
    /// <summary>One satisfiable range: 206.</summary>
    Partial,
    /// <summary>A valid range that starts past the end: 416.</summary>
    Unsatisfiable,
}

/// <summary>The answer to a Range header: <see cref="First"/> to <see cref="Last"/> inclusive when partial.</summary>
public readonly record struct ByteRange(RangeKind Kind, long First, long Last)
{
    public long Length => Last - First + 1;
}

/// <summary>
/// The Range header of a download (RFC 9110 14.2), pure. One range of the "bytes" unit is served
/// as 206; a syntactically invalid header, another unit, or several ranges are ignored and the
/// whole file is sent (14.2 lets a server ignore Range; a resuming downloader asks for one range);
/// a valid range that starts at or past the end is 416.
/// </summary>
public static class ByteRangeHeader
{
    public static ByteRange Parse(string? header, long length)
    {
        var whole = new ByteRange(RangeKind.Whole, 0, length - 1);
        if (string.IsNullOrWhiteSpace(header)) return whole;
        var text = header.Trim();
        var eq = text.IndexOf('=');
        if (eq <= 0 || !text[..eq].Trim().Equals("bytes", StringComparison.OrdinalIgnoreCase)) return whole;
        var spec = text[(eq + 1)..].Trim();
        if (spec.Contains(',')) return whole;
        var dash = spec.IndexOf('-');
        if (dash < 0) return whole;
        var firstText = spec[..dash].Trim();
        var lastText = spec[(dash + 1)..].Trim();
        if (firstText.Length == 0)
        {
            // Suffix range: the last n bytes (14.1.2); "-0" asks for nothing.
            if (!Digits(lastText, out var suffix)) return whole;
            if (suffix == 0 || length == 0) return new ByteRange(RangeKind.Unsatisfiable, 0, 0);
            return new ByteRange(RangeKind.Partial, Math.Max(0, length - suffix), length - 1);
        }
        if (!Digits(firstText, out var first)) return whole;
        long last;
        if (lastText.Length == 0) last = long.MaxValue;
        else if (!Digits(lastText, out last) || last < first) return whole;
        if (first >= length) return new ByteRange(RangeKind.Unsatisfiable, 0, 0);
        return new ByteRange(RangeKind.Partial, first, Math.Min(last, length - 1));
    }

    private static bool Digits(string s, out long value)
    {
        value = 0;
        return s.Length is > 0 and <= 18 && s.All(char.IsAsciiDigit) && long.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out value);
    }
}

using System.Globalization;

namespace GrainMail.Sieve;

/// <summary>Date parts and zones of RFC 5260 (date and currentdate).</summary>
public static class SieveDates
{
    /// <summary>"+hhmm" or "-hhmm" (RFC 5260 4.1).</summary>
    public static bool TryParseZone(string s, out TimeSpan offset)
    {
        offset = default;
        if (s.Length != 5 || s[0] is not ('+' or '-') || !s.AsSpan(1).ToString().All(char.IsAsciiDigit)) return false;
        var h = int.Parse(s.AsSpan(1, 2), CultureInfo.InvariantCulture);
        var m = int.Parse(s.AsSpan(3, 2), CultureInfo.InvariantCulture);
        if (h > 14 || m > 59) return false;
        offset = new TimeSpan(h, m, 0);
        if (s[0] == '-') offset = -offset;
        return true;
    }

    public static string Zone(TimeSpan offset) =>
        (offset < TimeSpan.Zero ? "-" : "+") + Math.Abs(offset.Hours).ToString("00", CultureInfo.InvariantCulture) + Math.Abs(offset.Minutes).ToString("00", CultureInfo.InvariantCulture);

    /// <summary>RFC 5260 4.3: the value of one date part.</summary>
    public static string Part(DateTimeOffset d, string part)
    {
        var c = CultureInfo.InvariantCulture;
        return part.ToLowerInvariant() switch
        {
            "year" => d.Year.ToString("0000", c),
            "month" => d.Month.ToString("00", c),
            "day" => d.Day.ToString("00", c),
            "date" => d.ToString("yyyy-MM-dd", c),
            // Modified Julian Day: days since 1858-11-17.
            "julian" => ((long)Math.Floor((d.Date - new DateTime(1858, 11, 17)).TotalDays)).ToString(c),
            "hour" => d.Hour.ToString("00", c),
            "minute" => d.Minute.ToString("00", c),
            "second" => d.Second.ToString("00", c),
            "time" => d.ToString("HH:mm:ss", c),
            "iso8601" => d.ToString("yyyy-MM-dd'T'HH:mm:ss", c) + (d.Offset == TimeSpan.Zero ? "Z" : d.ToString("zzz", c)),
            "std11" => d.ToString("ddd, dd MMM yyyy HH:mm:ss ", c) + Zone(d.Offset),
            "zone" => Zone(d.Offset),
            "weekday" => ((int)d.DayOfWeek).ToString(c),
            _ => "",
        };
    }
}

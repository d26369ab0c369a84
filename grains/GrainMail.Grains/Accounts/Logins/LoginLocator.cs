using System.Net;
using GrainMail.Storage.Logins;
using Microsoft.Extensions.Logging;

namespace GrainMail.Grains.Accounts.Logins;

/// <summary>Where login locations come from (section GrainMail:Logins).</summary>
public sealed class LoginSecurityOptions
{
    public const string Section = "GrainMail:Logins";

    /// <summary>The operator's CSV (<c>GRAINMAIL_GEOIP</c>): header <c>network,country,region,city</c>, CIDR v4/v6.</summary>
    public string? GeoIpCsv { get; set; }

    /// <summary>Debian's geoip-database, used for addresses the CSV does not cover (country only).</summary>
    public string GeoIpDat { get; set; } = "/usr/share/GeoIP/GeoIP.dat";

    public string GeoIpV6Dat { get; set; } = "/usr/share/GeoIP/GeoIPv6.dat";

    /// <summary>A successful login from a place not used within this time sends the user a notice.</summary>
    public TimeSpan NewLocationWindow { get; set; } = TimeSpan.FromDays(30);

    /// <summary>Login records waiting for the database; beyond it refusals are written at once and successes dropped (counted).</summary>
    public int RecordQueueCapacity { get; set; } = 20_000;

    /// <summary>
    /// HTTP Basic sends the password with every request (RFC 7617 has no session), so one client's
    /// use is hundreds of successful checks: a success is recorded when it is the first of its
    /// account, address, client and acting-for within this time. Failures are always recorded. Zero records every request.
    /// </summary>
    public TimeSpan RepeatedBasicLoginWindow { get; set; } = TimeSpan.FromMinutes(5);
}

/// <summary>
/// Names the place of a client address from local data only (no online lookup): the operator's
/// CSV first (longest prefix wins), then the legacy GeoIP country files when installed. Loaded
/// once, at first use.
/// </summary>
public sealed class LoginLocator(LoginSecurityOptions options, ILogger<LoginLocator> logger)
{
    private readonly Lazy<(IpPlaceTable Csv, LegacyGeoIpCountry? V4, LegacyGeoIpCountry? V6)> _data = new(() => Load(options, logger));

    public LoginPlace Locate(string remoteIp)
    {
        if (!IPAddress.TryParse(remoteIp, out var ip)) return new LoginPlace(null, null, null);
        if (ip.IsIPv4MappedToIPv6) ip = ip.MapToIPv4();
        var (csv, v4, v6) = _data.Value;
        if (csv.Find(ip) is { } place) return place;
        var country = ip.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork ? v4?.Country(ip) : v6?.Country(ip);
        return new LoginPlace(country, null, null);
    }

    private static (IpPlaceTable, LegacyGeoIpCountry?, LegacyGeoIpCountry?) Load(LoginSecurityOptions options, ILogger logger)
    {
        var csv = IpPlaceTable.Empty;
        if (!string.IsNullOrWhiteSpace(options.GeoIpCsv))
        {
            try
            {
                var (entries, errors) = IpPlaceCsv.Parse(File.ReadLines(options.GeoIpCsv));
                foreach (var e in errors.Take(10)) logger.LogWarning("GeoIP CSV {Path}: {Error}", options.GeoIpCsv, e);
                csv = IpPlaceTable.Build(entries);
                logger.LogInformation("GeoIP CSV {Path}: {Networks} networks, {Intervals} intervals", options.GeoIpCsv, entries.Count, csv.Intervals);
            }
            catch (IOException e)
            {
                logger.LogError(e, "GeoIP CSV {Path} could not be read; logins are located by the GeoIP country files only", options.GeoIpCsv);
            }
        }
        LegacyGeoIpCountry? Open(string path)
        {
            try
            {
                return LegacyGeoIpCountry.Open(path);
            }
            catch (IOException e)
            {
                logger.LogWarning(e, "GeoIP file {Path} could not be read", path);
                return null;
            }
        }
        return (csv, Open(options.GeoIpDat), Open(options.GeoIpV6Dat));
    }
}

/// <summary>The operator's CSV: <c>network,country,region,city</c> with a header line; fields may be quoted (RFC 4180).</summary>
public static class IpPlaceCsv
{
    public static (List<(IPNetwork Network, LoginPlace Place)> Entries, List<string> Errors) Parse(IEnumerable<string> lines)
    {
        var entries = new List<(IPNetwork, LoginPlace)>();
        var errors = new List<string>();
        var number = 0;
        foreach (var line in lines)
        {
            number++;
            if (line.Length == 0 || line.StartsWith('#')) continue;
            var fields = Fields(line);
            if (number == 1 && fields.Count > 0 && fields[0].Trim().Equals("network", StringComparison.OrdinalIgnoreCase)) continue;
            if (fields.Count < 2 || !TryParseCanonical(fields[0].Trim(), out var network))
            {
                errors.Add($"line {number}: expected network,country,region,city with a CIDR prefix whose host bits are zero");
                continue;
            }
            string? Field(int i) => i < fields.Count && fields[i].Trim() is { Length: > 0 } f ? f : null;
            var country = Field(1);
            if (country is null)
            {
                errors.Add($"line {number}: no country");
                continue;
            }
            entries.Add((network, new LoginPlace(country, Field(2), Field(3))));
        }
        return (entries, errors);
    }

    /// <summary>
    /// A CIDR prefix written canonically: <c>10.0.0.0/8</c>, not <c>10.0.0.1/8</c> (which .NET would
    /// quietly mask), since a stray host bit usually means a typo in the prefix length.
    /// </summary>
    public static bool TryParseCanonical(string text, out IPNetwork network)
    {
        network = default;
        var slash = text.IndexOf('/');
        if (slash <= 0 || !IPAddress.TryParse(text.AsSpan(0, slash), out var address) || !IPNetwork.TryParse(text, out var parsed)) return false;
        if (!parsed.BaseAddress.Equals(address)) return false;
        network = parsed;
        return true;
    }

    private static List<string> Fields(string line)
    {
        var fields = new List<string>();
        var current = new System.Text.StringBuilder();
        var quoted = false;
        for (var i = 0; i < line.Length; i++)
        {
            var c = line[i];
            if (quoted)
            {
                if (c == '"' && i + 1 < line.Length && line[i + 1] == '"') { current.Append('"'); i++; }
                else if (c == '"') quoted = false;
                else current.Append(c);
            }
            else if (c == '"') quoted = true;
            else if (c == ',') { fields.Add(current.ToString()); current.Clear(); }
            else current.Append(c);
        }
        fields.Add(current.ToString());
        return fields;
    }
}

using System.Net;
using System.Net.Sockets;

namespace GrainMail.Grains.Accounts.Logins;

/// <summary>
/// Reader of the legacy GeoIP country databases that Debian's <c>geoip-database</c> installs
/// (<c>/usr/share/GeoIP/GeoIP.dat</c> for IPv4, <c>GeoIPv6.dat</c> for IPv6). The file is a binary
/// trie walked from the most significant bit: node n is 6 bytes at n*6, two 3-byte little-endian
/// records (bit 0, bit 1). A record at or above the country segment base (0xFFFF00) is a leaf whose
/// distance from the base indexes the edition's fixed country-code list; below it, the next node.
/// The edition is named by the byte after three 0xFF bytes near the end of the file (1: country,
/// 12: country IPv6). The whole file is read into memory once (2 and 8 MB).
/// </summary>
public sealed class LegacyGeoIpCountry
{
    private const int CountrySegment = 0xFFFF00;
    private const byte CountryEdition = 1;
    private const byte CountryEditionV6 = 12;

    private readonly byte[] _data;
    private readonly int _bits;

    private LegacyGeoIpCountry(byte[] data, int bits)
    {
        _data = data;
        _bits = bits;
    }

    /// <summary>The database in the file, or null when it is missing or not a country edition.</summary>
    public static LegacyGeoIpCountry? Open(string path)
    {
        if (!File.Exists(path)) return null;
        var data = File.ReadAllBytes(path);
        return Edition(data) switch
        {
            CountryEdition => new LegacyGeoIpCountry(data, 32),
            CountryEditionV6 => new LegacyGeoIpCountry(data, 128),
            _ => null,
        };
    }

    /// <summary>The edition byte: it follows the last 0xFF 0xFF 0xFF within the file's final bytes.</summary>
    public static byte? Edition(byte[] data)
    {
        for (var i = data.Length - 4; i >= Math.Max(0, data.Length - 64); i--)
        {
            if (data[i] == 0xFF && data[i + 1] == 0xFF && data[i + 2] == 0xFF) return data[i + 3];
        }
        return null;
    }

    public bool IsIPv6 => _bits == 128;

    /// <summary>The two-letter code, or null for unknown, reserved and anonymous ranges ("--", A1, A2, AP, EU, O1).</summary>
    public string? Country(IPAddress address)
    {
        var family = IsIPv6 ? AddressFamily.InterNetworkV6 : AddressFamily.InterNetwork;
        if (address.IsIPv4MappedToIPv6 && !IsIPv6) address = address.MapToIPv4();
        if (address.AddressFamily != family) return null;
        Span<byte> bytes = stackalloc byte[16];
        address.TryWriteBytes(bytes, out var written);
        var node = 0;
        for (var bit = 0; bit < _bits; bit++)
        {
            var set = (bytes[bit / 8] >> (7 - bit % 8) & 1) == 1;
            var at = (long)node * 6 + (set ? 3 : 0);
            if (at + 3 > _data.Length) return null; // a damaged file: no answer rather than a wrong one
            var record = _data[at] | _data[at + 1] << 8 | _data[at + 2] << 16;
            if (record >= CountrySegment)
            {
                var index = record - CountrySegment;
                var code = index < Codes.Length ? Codes[index] : "--";
                return code is "--" or "A1" or "A2" or "AP" or "EU" or "O1" ? null : code;
            }
            node = record;
        }
        return null;
    }

    // The country editions' code list, in the order their leaves index it.
    private static readonly string[] Codes =
    [
        "--", "AP", "EU", "AD", "AE", "AF", "AG", "AI", "AL", "AM", "CW", "AO", "AQ", "AR", "AS", "AT", "AU", "AW", "AZ", "BA",
        "BB", "BD", "BE", "BF", "BG", "BH", "BI", "BJ", "BM", "BN", "BO", "BR", "BS", "BT", "BV", "BW", "BY", "BZ", "CA", "CC",
        "CD", "CF", "CG", "CH", "CI", "CK", "CL", "CM", "CN", "CO", "CR", "CU", "CV", "CX", "CY", "CZ", "DE", "DJ", "DK", "DM",
        "DO", "DZ", "EC", "EE", "EG", "EH", "ER", "ES", "ET", "FI", "FJ", "FK", "FM", "FO", "FR", "SX", "GA", "GB", "GD", "GE",
        "GF", "GH", "GI", "GL", "GM", "GN", "GP", "GQ", "GR", "GS", "GT", "GU", "GW", "GY", "HK", "HM", "HN", "HR", "HT", "HU",
        "ID", "IE", "IL", "IN", "IO", "IQ", "IR", "IS", "IT", "JM", "JO", "JP", "KE", "KG", "KH", "KI", "KM", "KN", "KP", "KR",
        "KW", "KY", "KZ", "LA", "LB", "LC", "LI", "LK", "LR", "LS", "LT", "LU", "LV", "LY", "MA", "MC", "MD", "MG", "MH", "MK",
        "ML", "MM", "MN", "MO", "MP", "MQ", "MR", "MS", "MT", "MU", "MV", "MW", "MX", "MY", "MZ", "NA", "NC", "NE", "NF", "NG",
        "NI", "NL", "NO", "NP", "NR", "NU", "NZ", "OM", "PA", "PE", "PF", "PG", "PH", "PK", "PL", "PM", "PN", "PR", "PS", "PT",
        "PW", "PY", "QA", "RE", "RO", "RU", "RW", "SA", "SB", "SC", "SD", "SE", "SG", "SH", "SI", "SJ", "SK", "SL", "SM", "SN",
        "SO", "SR", "ST", "SV", "SY", "SZ", "TC", "TD", "TF", "TG", "TH", "TJ", "TK", "TM", "TN", "TO", "TL", "TR", "TT", "TV",
        "TW", "TZ", "UA", "UG", "UM", "US", "UY", "UZ", "VA", "VC", "VE", "VG", "VI", "VN", "VU", "WF", "WS", "YE", "YT", "RS",
        "ZA", "ZM", "ME", "ZW", "A1", "A2", "O1", "AX", "GG", "IM", "JE", "BL", "MF", "BQ", "SS", "O1",
    ];
}

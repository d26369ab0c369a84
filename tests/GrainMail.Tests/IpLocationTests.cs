using System.Diagnostics;
using System.Net;
using GrainMail.Grains.Accounts.Logins;
using GrainMail.Storage.Logins;

namespace GrainMail.Tests;

/// <summary>The login locator's data: the operator's CSV (longest prefix wins) and Debian's legacy GeoIP country files.</summary>
public sealed class IpLocationTests
{
    private static IpPlaceTable Table(params string[] lines)
    {
        var (entries, errors) = IpPlaceCsv.Parse(["network,country,region,city", .. lines]);
        Assert.Empty(errors);
        return IpPlaceTable.Build(entries);
    }

    private static string? At(IpPlaceTable t, string ip) => t.Find(IPAddress.Parse(ip)) is { } p ? $"{p.Country}/{p.Region}/{p.City}" : null;

    [Theory]
    [InlineData("10.1.2.3", "DE/Bayern/München")]     // the /24 inside the /16 inside the /8
    [InlineData("10.1.9.9", "DE/Bayern/")]            // the /16
    [InlineData("10.0.0.0", "DE//")]                  // the /8's first address
    [InlineData("10.255.255.255", "DE//")]            // and its last
    [InlineData("11.0.0.0", null)]
    [InlineData("9.255.255.255", null)]
    [InlineData("192.0.2.77", "FR/Île-de-France/Paris, 15e")]
    [InlineData("2001:db8::1", "NL/Noord-Holland/Amsterdam")]
    [InlineData("2001:db8:1::1", "NL/Utrecht/")]
    [InlineData("2001:db9::1", null)]
    [InlineData("::ffff:10.1.2.3", "DE/Bayern/München")] // IPv4-mapped IPv6 is the IPv4 address
    public void The_longest_prefix_wins(string ip, string? expected)
    {
        var t = Table(
            "10.1.2.0/24,DE,Bayern,München",
            "10.0.0.0/8,DE,,",
            "10.1.0.0/16,DE,Bayern,",
            "192.0.2.64/26,FR,Île-de-France,\"Paris, 15e\"",
            "2001:db8::/32,NL,Noord-Holland,Amsterdam",
            "2001:db8:1::/48,NL,Utrecht,");
        Assert.Equal(expected, At(t, ip));
    }

    [Fact]
    public void Whole_spaces_and_repeated_networks_have_one_answer()
    {
        // ::/0 ends at the last address: nothing may wrap around.
        var t = Table("::/0,XX,,", "0.0.0.0/0,YY,,", "1.2.3.4/32,AA,,", "1.2.3.4/32,BB,,");
        Assert.Equal("BB//", At(t, "1.2.3.4"));     // the later of two equal lines
        Assert.Equal("YY//", At(t, "1.2.3.5"));
        Assert.Equal("XX//", At(t, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"));
        Assert.Equal("XX//", At(t, "::1"));
    }

    [Fact]
    public void Bad_lines_are_reported_with_their_number()
    {
        var (entries, errors) = IpPlaceCsv.Parse(["network,country,region,city", "10.0.0.0/8,DE,,", "not-a-network,DE", "10.0.0.1/8,DE", "10.2.0.0/16,,x,y"]);
        Assert.Single(entries);
        Assert.Equal(["line 3", "line 4", "line 5"], errors.Select(e => e[..6]));
    }

    [Fact]
    public void Fuzzed_csv_lines_give_an_entry_or_an_error_and_never_throw()
    {
        var random = new Random(1604);
        string[] valid = ["10.0.0.0/8,DE,Bayern,München", "2001:db8::/32,NL,\"Noord, Holland\",Amsterdam", "192.0.2.1/32,FR,,"];
        const string alphabet = "0123456789abcdef.:/,\"\\ xyz\t\u00e9\u4e2d-";
        for (var i = 0; i < 3000; i++)
        {
            string line;
            if (i % 3 == 0)
            {
                line = new string(Enumerable.Range(0, random.Next(0, 60)).Select(_ => (char)random.Next(1, 0x3000)).ToArray());
            }
            else
            {
                var chars = valid[random.Next(valid.Length)].ToCharArray().ToList();
                for (var m = random.Next(1, 5); m > 0 && chars.Count > 0; m--)
                {
                    var at = random.Next(chars.Count);
                    switch (random.Next(3))
                    {
                        case 0: chars.RemoveAt(at); break;
                        case 1: chars.Insert(at, alphabet[random.Next(alphabet.Length)]); break;
                        default: chars[at] = alphabet[random.Next(alphabet.Length)]; break;
                    }
                }
                line = new string(chars.ToArray());
            }
            var (entries, errors) = IpPlaceCsv.Parse(["network,country,region,city", line]);
            var counted = line.Length == 0 || line.StartsWith('#') ? 0 : 1;
            Assert.Equal(counted, entries.Count + errors.Count);
            if (entries.Count == 1) Assert.NotNull(IpPlaceTable.Build(entries).Find(entries[0].Network.BaseAddress));
        }
    }

    [Fact]
    public void Random_networks_agree_with_a_linear_scan()
    {
        var random = new Random(4242);
        var networks = new List<(IPNetwork, LoginPlace)>();
        for (var i = 0; i < 400; i++)
        {
            var bits = random.Next(8, 33);
            var raw = (uint)random.Next(0x0A000000, 0x0A100000) & (bits == 32 ? uint.MaxValue : ~(uint.MaxValue >> bits)); // within 10.0.0.0/12: many nest
            var bytes = BitConverter.GetBytes(raw);
            Array.Reverse(bytes);
            networks.Add((new IPNetwork(new IPAddress(bytes), bits), new LoginPlace($"C{i}", null, null)));
        }
        var table = IpPlaceTable.Build(networks);
        for (var i = 0; i < 3000; i++)
        {
            var bytes = BitConverter.GetBytes((uint)random.Next(0x09FF0000, 0x0A110000));
            Array.Reverse(bytes);
            var ip = new IPAddress(bytes);
            // The reference: the longest containing prefix, the later line among equals.
            var expected = networks.Select((n, index) => (n, index)).Where(x => x.n.Item1.Contains(ip))
                .OrderByDescending(x => x.n.Item1.PrefixLength).ThenByDescending(x => x.index).Select(x => x.n.Item2.Country).FirstOrDefault();
            Assert.Equal(expected, table.Find(ip)?.Country);
        }
    }

    /// <summary>Debian's country databases, read by our reader, agree with libGeoIP's own geoiplookup.</summary>
    [Theory]
    [InlineData("/usr/share/GeoIP/GeoIP.dat", "geoiplookup", new[] { "8.8.8.8", "193.0.6.139", "202.12.27.33", "200.160.0.8", "196.216.2.1", "1.1.1.1", "81.2.69.160", "133.242.0.3" })]
    [InlineData("/usr/share/GeoIP/GeoIPv6.dat", "geoiplookup6", new[] { "2001:4860:4860::8888", "2001:67c:2e8:22::c100:68b", "2001:dc3::35", "2a00:1450:4001:80b::200e" })]
    public void The_legacy_country_files_agree_with_geoiplookup(string path, string tool, string[] addresses)
    {
        if (!File.Exists(path)) Assert.Skip($"{path} is not installed (Debian package geoip-database)");
        var db = LegacyGeoIpCountry.Open(path);
        Assert.NotNull(db);
        foreach (var a in addresses)
        {
            var psi = new ProcessStartInfo(tool, a) { RedirectStandardOutput = true };
            using var p = Process.Start(psi)!;
            var line = p.StandardOutput.ReadToEnd();
            p.WaitForExit();
            // "GeoIP Country Edition: US, United States" or "...: IP Address not found"
            var colon = line.IndexOf(": ", StringComparison.Ordinal);
            var answer = line[(colon + 2)..].Trim();
            var expected = answer.Contains("not found", StringComparison.Ordinal) ? null : answer[..2];
            Assert.True(expected == db!.Country(IPAddress.Parse(a)), $"{a}: geoiplookup says {answer}, we say {db.Country(IPAddress.Parse(a))}");
        }
        // Private and loopback space has no country.
        Assert.Null(db!.Country(IPAddress.Parse(db.IsIPv6 ? "::1" : "127.0.0.1")));
    }

    [Fact]
    public void The_locator_asks_the_csv_first_then_the_country_files()
    {
        var csv = Path.GetTempFileName();
        File.WriteAllText(csv, "network,country,region,city\n8.8.8.0/24,ZZ,Test,Here\n");
        try
        {
            var locator = new LoginLocator(new LoginSecurityOptions { GeoIpCsv = csv },
                Microsoft.Extensions.Logging.Abstractions.NullLogger<LoginLocator>.Instance);
            Assert.Equal(new LoginPlace("ZZ", "Test", "Here"), locator.Locate("8.8.8.8"));
            Assert.Equal(new LoginPlace(null, null, null), locator.Locate("not an address"));
            if (File.Exists("/usr/share/GeoIP/GeoIP.dat")) Assert.Equal(new LoginPlace("US", null, null), locator.Locate("8.8.4.4"));
        }
        finally
        {
            File.Delete(csv);
        }
    }
}

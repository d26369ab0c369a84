using System.IO.Compression;
using System.Net;
using GrainMail.Trust.Spf;
using YamlDotNet.RepresentationModel;

namespace GrainMail.Protocol.Tests.Trust;

/// <summary>RFC 7208's published test suite (as Debian's python3-spf ships it), every scenario run against
/// <see cref="SpfChecker"/> with DNS fed from the scenario's zonedata.</summary>
public sealed class Rfc7208SuiteTests
{
    public const string SuitePath = "/usr/share/doc/python3-spf/rfc7208-tests.yml.gz";

    /// <summary>Scenarios in the 2014.04 release of the suite.</summary>
    private const int SuiteScenarios = 203;

    /// <summary>Scenarios deliberately not run, with the reason.</summary>
    private static readonly Dictionary<string, string> Skipped = new()
    {
    };

    internal sealed record Scenario(string Section, string Name, string Helo, string Host, string MailFrom, string[] Results, string? Explanation, ZoneDns Dns);

    internal static List<Scenario> Load()
    {
        Assert.True(File.Exists(SuitePath), $"{SuitePath} is missing: install Debian's python3-spf (tests/run-tests.sh does)");
        using var gz = new GZipStream(File.OpenRead(SuitePath), CompressionMode.Decompress);
        using var reader = new StreamReader(gz);
        var yaml = new YamlStream();
        yaml.Load(reader);
        var scenarios = new List<Scenario>();
        foreach (var document in yaml.Documents)
        {
            var root = (YamlMappingNode)document.RootNode;
            var section = Scalar(root, "description") ?? "";
            var zone = new ZoneDns();
            if (root.Children.TryGetValue(new YamlScalarNode("zonedata"), out var zonedata) && zonedata is YamlMappingNode zones)
            {
                foreach (var (nameNode, recordsNode) in zones.Children)
                {
                    var name = ((YamlScalarNode)nameNode).Value!;
                    foreach (var record in (YamlSequenceNode)recordsNode)
                    {
                        if (record is YamlScalarNode { Value: "TIMEOUT" }) { zone.Timeout(name); continue; }
                        foreach (var (typeNode, valueNode) in ((YamlMappingNode)record).Children)
                        {
                            var value = valueNode switch
                            {
                                YamlScalarNode s => s.Value ?? "",
                                // SPF/TXT strings of one record are joined; MX is [preference, host].
                                YamlSequenceNode seq when ((YamlScalarNode)typeNode).Value == "MX" =>
                                    string.Join(' ', seq.Children.Select(c => ((YamlScalarNode)c).Value)),
                                YamlSequenceNode seq => string.Concat(seq.Children.Select(c => ((YamlScalarNode)c).Value)),
                                _ => "",
                            };
                            zone.Add(name, ((YamlScalarNode)typeNode).Value!, value);
                        }
                    }
                }
            }
            foreach (var (nameNode, testNode) in (YamlMappingNode)root.Children[new YamlScalarNode("tests")])
            {
                var test = (YamlMappingNode)testNode;
                var resultNode = test.Children[new YamlScalarNode("result")];
                string[] results = resultNode is YamlSequenceNode many
                    ? [.. many.Children.Select(c => ((YamlScalarNode)c).Value!)]
                    : [((YamlScalarNode)resultNode).Value!];
                scenarios.Add(new Scenario(section, ((YamlScalarNode)nameNode).Value!, Scalar(test, "helo") ?? "", Scalar(test, "host") ?? "",
                    Scalar(test, "mailfrom") ?? "", results, Scalar(test, "explanation"), zone));
            }
        }
        return scenarios;
    }

    private static string? Scalar(YamlMappingNode node, string key) =>
        node.Children.TryGetValue(new YamlScalarNode(key), out var v) ? ((YamlScalarNode)v).Value : null;

    [Fact]
    public async Task Every_scenario_of_the_suite_gives_the_expected_result()
    {
        var scenarios = Load();
        Assert.Equal(SuiteScenarios, scenarios.Count);
        var failures = new List<string>();
        var run = 0;
        foreach (var s in scenarios)
        {
            if (Skipped.ContainsKey(s.Name)) continue;
            run++;
            var checker = new SpfChecker(s.Dns, "unknown", TimeProvider.System);
            var ip = IPAddress.Parse(s.Host);
            // The suite's driver: MAIL FROM when there is one, else the HELO identity.
            var check = s.MailFrom.Length > 0
                ? await checker.CheckMailFromAsync(ip, s.MailFrom, s.Helo, TestContext.Current.CancellationToken)
                : await checker.CheckHeloAsync(ip, s.Helo, TestContext.Current.CancellationToken);
            var got = check.Verdict.Result.ToString().ToLowerInvariant();
            if (!s.Results.Contains(got))
            {
                failures.Add($"{s.Section} / {s.Name}: expected {string.Join('|', s.Results)}, got {got} ({check.Verdict.Reason})");
                continue;
            }
            // "DEFAULT" is the receiver's own explanation: the domain gave none.
            if (s.Explanation is not null && got == "fail")
            {
                var expected = s.Explanation == "DEFAULT" ? null : s.Explanation;
                // Case-blind: the suite writes %{i} of an IPv6 address in upper-case hex, RFC 7208 7.3's own
                // example in lower case; both name the same DNS labels.
                if (!string.Equals(check.Verdict.Explanation, expected, StringComparison.OrdinalIgnoreCase))
                    failures.Add($"{s.Section} / {s.Name}: explanation expected '{expected}', got '{check.Verdict.Explanation}'");
            }
        }
        Assert.True(failures.Count == 0, $"{failures.Count} of {run} scenarios failed:\n" + string.Join('\n', failures));
        Assert.Equal(SuiteScenarios - Skipped.Count, run);
    }
}

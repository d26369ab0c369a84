using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using GrainMail.Tests.Infrastructure;

namespace GrainMail.Tests;

/// <summary>
/// The Grafana dashboard in k8s/ queries only metrics the running product exports, and the
/// Orleans dashboard on the HTTP listener is closed without the admin token.
/// </summary>
public sealed class DashboardMetricsTests(TelemetryHostFixture host) : IClassFixture<TelemetryHostFixture>
{
    [Fact]
    public async Task Every_metric_a_Grafana_panel_queries_is_on_the_running_hosts_metrics()
    {
        var used = GrafanaMetricNames(RepoFiles.PathOf("k8s", "grafana", "grainmail-dashboard.json"));
        // The views the issue asks for are all there (a dashboard that queried nothing would pass the check below).
        foreach (var required in new[]
        {
            "grainmail_smtp_messages_accepted_total", "grainmail_delivery_delivered_total", "grainmail_smtp_rejected_total",
            "grainmail_smtp_commit_duration_milliseconds_bucket", "grainmail_imap_command_duration_milliseconds_bucket",
            "grainmail_storage_pg_duration_milliseconds_bucket", "grainmail_delivery_queue_lag_seconds", "grainmail_cluster_silos",
            "orleans_catalog_activations", "grainmail_outbound_queue_messages", "grainmail_pop3_sessions", "grainmail_pop3_commands_total",
        })
        {
            Assert.Contains(required, used);
        }

        var exported = Prometheus.Names(await host.RunTrafficAsync());
        var missing = used.Where(n => !exported.Contains(n)).Order(StringComparer.Ordinal).ToList();
        Assert.True(missing.Count == 0, "queried by the dashboard but not exported: " + string.Join(", ", missing));
    }

    [Fact]
    public void Metric_names_are_read_from_PromQL_without_functions_labels_or_ranges()
    {
        Assert.Equal(["a_bucket"], PromQlMetricNames("histogram_quantile(0.95, sum by (le, command) (rate(a_bucket{x=\"by\"}[$__rate_interval])))"));
        Assert.Equal(["b", "c_total"], PromQlMetricNames("max(b) / on (pod) group_left sum without (le) (increase(c_total[5m] offset 1h))"));
    }

    [Fact]
    public async Task The_Orleans_dashboard_needs_the_admin_token()
    {
        using var anonymous = new HttpClient { BaseAddress = new Uri(host.Host.BaseUrl) };
        foreach (var path in new[] { "/dashboard", "/dashboard/", "/dashboard/index.html", "/dashboard/anything" })
        {
            var r = await anonymous.GetAsync(path);
            Assert.Equal(HttpStatusCode.Unauthorized, r.StatusCode);
            Assert.Contains(r.Headers.WwwAuthenticate, h => h.Scheme == "Basic");
        }

        using var wrong = new HttpRequestMessage(HttpMethod.Get, "/dashboard/");
        wrong.Headers.Authorization = new AuthenticationHeaderValue("Bearer", "not-the-token");
        Assert.Equal(HttpStatusCode.Unauthorized, (await anonymous.SendAsync(wrong)).StatusCode);

        using var bearer = new HttpRequestMessage(HttpMethod.Get, "/dashboard/");
        bearer.Headers.Authorization = new AuthenticationHeaderValue("Bearer", HostProcess.Token);
        var page = await anonymous.SendAsync(bearer);
        Assert.Equal(HttpStatusCode.OK, page.StatusCode);
        Assert.Contains("Orleans Dashboard", await page.Content.ReadAsStringAsync());

        // What a browser sends after its password prompt: any user name, the token as password.
        using var basic = new HttpRequestMessage(HttpMethod.Get, "/dashboard/");
        basic.Headers.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes("ops:" + HostProcess.Token)));
        Assert.Equal(HttpStatusCode.OK, (await anonymous.SendAsync(basic)).StatusCode);

        // The rest of the listener is unchanged: health stays open, the API keeps its bearer check.
        Assert.Equal(HttpStatusCode.OK, (await anonymous.GetAsync("/healthz")).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await anonymous.GetAsync("/api/v1/domains")).StatusCode);
    }

    /// <summary>Every metric name in the PromQL of every panel (rows' nested panels included).</summary>
    private static HashSet<string> GrafanaMetricNames(string path)
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(path));
        var names = new HashSet<string>(StringComparer.Ordinal);
        var exprs = 0;
        void Walk(JsonElement panels)
        {
            foreach (var panel in panels.EnumerateArray())
            {
                if (panel.TryGetProperty("panels", out var nested)) Walk(nested);
                if (!panel.TryGetProperty("targets", out var targets)) continue;
                foreach (var t in targets.EnumerateArray())
                {
                    var expr = t.GetProperty("expr").GetString()!;
                    exprs++;
                    var found = PromQlMetricNames(expr);
                    Assert.True(found.Count > 0, $"panel {panel.GetProperty("title")}: no metric in {expr}");
                    names.UnionWith(found);
                }
            }
        }
        Walk(doc.RootElement.GetProperty("panels"));
        Assert.True(exprs >= 10, $"only {exprs} queries");
        return names;
    }

    private static readonly HashSet<string> Keywords = new(StringComparer.Ordinal)
    {
        "by", "without", "on", "ignoring", "group_left", "group_right", "bool", "and", "or", "unless", "offset", "inf", "nan",
    };

    /// <summary>
    /// Metric names in one PromQL expression: identifiers that are not functions (followed by a
    /// parenthesis), not label names (inside braces or a by/without/on/ignoring list), not
    /// ranges, strings or keywords.
    /// </summary>
    internal static List<string> PromQlMetricNames(string expr)
    {
        var s = Regex.Replace(expr, "\"(?:[^\"\\\\]|\\\\.)*\"", "\"\""); // strings
        s = Regex.Replace(s, @"\{[^}]*\}", " ");                          // label matchers
        s = Regex.Replace(s, @"\[[^\]]*\]", " ");                         // ranges, $__rate_interval
        s = Regex.Replace(s, @"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ");
        s = Regex.Replace(s, @"\boffset\s+\S+", " ");
        return Regex.Matches(s, @"(?<![\w.$])([a-zA-Z_:][a-zA-Z0-9_:]*)\b(?!\s*\()")
            .Select(m => m.Groups[1].Value)
            .Where(n => !Keywords.Contains(n))
            .Distinct(StringComparer.Ordinal)
            .ToList();
    }
}

using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using GrainMail.Tests.Infrastructure;
using Microsoft.Playwright;

namespace GrainMail.Tests.Bench;

/// <summary>
/// The webmail timings of docs/benchmarks.md in Debian's Chromium (Playwright, as WebmailTests):
/// login → first page of the INBOX list, and a click on a row → its message shown. Explicit, so the
/// suite never runs it: tests/bench/webmail-open.sh starts a host, fills a 100,000-message INBOX and
/// runs it with BENCH_URL, BENCH_USER, BENCH_PASSWORD and BENCH_OUT set.
/// </summary>
public sealed class WebmailBench
{
    [Fact(Explicit = true)]
    public async Task First_page_after_login_and_opening_a_message()
    {
        var url = Environment.GetEnvironmentVariable("BENCH_URL") ?? throw new InvalidOperationException("BENCH_URL not set");
        var user = Environment.GetEnvironmentVariable("BENCH_USER")!;
        var password = Environment.GetEnvironmentVariable("BENCH_PASSWORD")!;
        var rounds = int.Parse(Environment.GetEnvironmentVariable("BENCH_ROUNDS") ?? "12", CultureInfo.InvariantCulture);
        using var playwright = await Playwright.CreateAsync();
        await using var browser = await playwright.Chromium.LaunchAsync(new() { ExecutablePath = WebmailHostFixture.ChromiumPath, Headless = true, Args = WebmailHostFixture.ChromiumArgs });
        var firstPage = new List<double>();
        var afterLogin = new List<double>();
        var open = new List<double>();
        var waterfalls = new StringBuilder();
        for (var round = 0; round < rounds; round++)
        {
            // A fresh context each round: no session, no HTTP cache of the API (assets cached as a returning user has them).
            await using var context = await browser.NewContextAsync(new() { IgnoreHTTPSErrors = true, Locale = "en-US", ViewportSize = new() { Width = 1400, Height = 860 } });
            var page = await context.NewPageAsync();
            await page.GotoAsync(url + "/mail/");
            await page.FillAsync("input[name=address]", user);
            await page.FillAsync("input[name=password]", password);
            var clock = Stopwatch.StartNew();
            // Where the time goes: each request as it ends (ms since the click), with the JMAP methods it carried.
            var requests = new List<(double At, string What)>();
            page.RequestFinished += (_, r) =>
            {
                var methods = string.Join("+", Regex.Matches(r.PostData ?? "", "\\[\"([A-Za-z]+/[a-zA-Z]+)\"").Select(m => m.Groups[1].Value));
                var at = clock.Elapsed.TotalMilliseconds;
                lock (requests) requests.Add((at, string.Create(CultureInfo.InvariantCulture,
                    $"{r.Method} {new Uri(r.Url).AbsolutePath} {methods} (took {r.Timing.ResponseEnd:F0} ms, server {r.Timing.ResponseStart - r.Timing.RequestStart:F0} ms)")));
            };
            await page.ClickAsync("button[type=submit]");
            await page.GetByTestId("row").First.WaitForAsync(new() { Timeout = 60_000 });
            firstPage.Add(clock.Elapsed.TotalMilliseconds);
            lock (requests)
            {
                // The login request itself runs the deliberately slow password hash: the page's own part starts when it ends.
                var login = requests.FirstOrDefault(r => r.What.Contains("/api/v1/me/sessions", StringComparison.Ordinal));
                afterLogin.Add(firstPage[^1] - login.At);
            }
            var loginRequests = requests.Count;

            // Open a different row each round (a message not opened before).
            var rows = page.GetByTestId("row");
            var row = rows.Nth(1 + round % Math.Max(1, Math.Min(20, await rows.CountAsync() - 1)));
            var emailId = (await row.GetAttributeAsync("data-email-id"))!;
            // BENCH_TRACE: the last round's opening recorded in Chromium's performance timeline (where the client's time goes).
            var trace = round == rounds - 1 ? Environment.GetEnvironmentVariable("BENCH_TRACE") : null;
            var traced = new List<System.Text.Json.JsonElement>();
            var traceDone = new TaskCompletionSource();
            ICDPSession? cdp = null;
            if (trace is not null)
            {
                // Chromium's tracing through the DevTools protocol (the timeline a profiler shows): events arrive in batches.
                cdp = await context.NewCDPSessionAsync(page);
                cdp.Event("Tracing.dataCollected").OnEvent += (_, e) =>
                {
                    if (e is { } v) lock (traced) traced.AddRange(v.GetProperty("value").EnumerateArray().Select(x => x.Clone()));
                };
                cdp.Event("Tracing.tracingComplete").OnEvent += (_, _) => traceDone.TrySetResult();
                await cdp.SendAsync("Tracing.start", new()
                {
                    ["transferMode"] = "ReportEvents",
                    ["traceConfig"] = new Dictionary<string, object> { ["includedCategories"] = new[] { "devtools.timeline", "disabled-by-default-devtools.timeline", "blink.user_timing", "v8.execute", "toplevel", "loading", "netlog" } },
                });
            }
            clock.Restart();
            await row.ClickAsync();
            await page.GetByTestId("subject").WaitForAsync(new() { Timeout = 60_000 });
            await page.FrameLocator("[data-testid=message-body]").Locator("body").WaitForAsync(new() { Timeout = 60_000 });
            open.Add(clock.Elapsed.TotalMilliseconds);
            if (cdp is not null)
            {
                await cdp.SendAsync("Tracing.end");
                await traceDone.Task.WaitAsync(TimeSpan.FromSeconds(30));
                string[] raw;
                lock (traced) raw = traced.Select(x => x.GetRawText()).ToArray();
                await File.WriteAllTextAsync(trace!, "{\"traceEvents\":[" + string.Join(",", raw) + "]}");
            }
            if (round is 1 || round == rounds - 1)
                lock (requests)
                {
                    waterfalls.Append(CultureInfo.InvariantCulture, $"round {round}: first row at {firstPage[^1]:F0} ms, message shown {open[^1]:F0} ms after its click\n");
                    foreach (var (at, what) in requests.Take(loginRequests)) waterfalls.Append(CultureInfo.InvariantCulture, $"  login +{at:F0} ms {what}\n");
                    foreach (var (at, what) in requests.Skip(loginRequests)) waterfalls.Append(CultureInfo.InvariantCulture, $"  open  +{at:F0} ms {what}\n");
                }
            Assert.False(string.IsNullOrEmpty(emailId));
            if (round == 0) await page.ScreenshotAsync(new() { Path = Path.Combine(Path.GetTempPath(), "webmail-bench.png") });
        }
        static string Stats(List<double> t)
        {
            // The first round loads the view and the caches: reported apart.
            var warm = t.Skip(1).Order().ToList();
            return string.Create(CultureInfo.InvariantCulture, $"first {t[0]:F0} ms; then p50 {warm[warm.Count / 2]:F0} ms, max {warm[^1]:F0} ms (n={warm.Count})");
        }
        var report = $"first page of the list after login: {Stats(firstPage)}\n"
            + $"  of which after the login request ended: {Stats(afterLogin)}\nopening a message: {Stats(open)}\n{waterfalls}";
        await File.WriteAllTextAsync(Environment.GetEnvironmentVariable("BENCH_OUT") ?? Path.Combine(Path.GetTempPath(), "webmail-bench.txt"), report);
    }
}

using System.Net;
using System.Text.Json.Nodes;
using GrainMail.Tests.Infrastructure;

namespace GrainMail.Tests;

/// <summary>
/// JMAP core (RFC 8620) over real HTTPS against a real host: the session resource, authentication
/// by bearer token and by Basic, Core/echo, result references, and every request- and method-level
/// error a client can provoke at this level.
/// </summary>
public sealed class JmapCoreTests(JmapHostFixture fixture) : IClassFixture<JmapHostFixture>
{
    [Fact]
    public async Task The_session_resource_lists_capabilities_limits_account_and_urls()
    {
        var address = await fixture.NewAccountAsync();
        using var client = await fixture.LoginAsync(address);
        var s = client.Session;
        var core = (JsonObject)s["capabilities"]![JmapClient.Core]!;
        foreach (var limit in new[] { "maxSizeUpload", "maxConcurrentUpload", "maxSizeRequest", "maxConcurrentRequests", "maxCallsInRequest", "maxObjectsInGet", "maxObjectsInSet" })
            Assert.True((long)core[limit]! > 0, limit);
        Assert.Contains("i;unicode-casemap", ((JsonArray)core["collationAlgorithms"]!).Select(x => (string)x!));
        Assert.NotNull(s["capabilities"]![JmapClient.Mail]);
        var accountId = client.AccountId;
        Assert.Matches("^A[0-9a-f]{24}$", accountId);
        var account = s["accounts"]![accountId]!;
        Assert.Equal(address, (string)account["name"]!);
        Assert.True((bool)account["isPersonal"]!);
        Assert.False((bool)account["isReadOnly"]!);
        Assert.NotNull(account["accountCapabilities"]![JmapClient.Mail]);
        Assert.Equal(address, (string)s["username"]!);
        var origin = $"https://127.0.0.1:{fixture.HttpsPort}";
        Assert.Equal(origin + "/jmap/api", (string)s["apiUrl"]!);
        Assert.Equal(origin + "/jmap/upload/{accountId}/", (string)s["uploadUrl"]!);
        Assert.Equal(origin + "/jmap/download/{accountId}/{blobId}/{name}?accept={type}", (string)s["downloadUrl"]!);
        Assert.Equal(origin + "/jmap/eventsource?types={types}&closeafter={closeafter}&ping={ping}", (string)s["eventSourceUrl"]!);
        Assert.False(string.IsNullOrEmpty((string)s["state"]!));

        // The same account id by Basic with the password (no two-factor here), and deterministic.
        using var basic = new JmapClient(fixture.Https(JmapHostFixture.Basic(address, JmapHostFixture.Password)));
        await basic.LoadSessionAsync();
        Assert.Equal(accountId, basic.AccountId);
        Assert.Equal((string)s["state"]!, (string)basic.Session["state"]!);
    }

    [Fact]
    public async Task Without_credentials_or_over_plain_http_nothing_is_served()
    {
        var address = await fixture.NewAccountAsync();
        using var anon = fixture.Https();
        Assert.Equal(HttpStatusCode.Unauthorized, (await anon.GetAsync("/.well-known/jmap")).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await anon.PostAsync("/jmap/api", new StringContent("{}"))).StatusCode);
        using var wrong = fixture.Https(JmapHostFixture.Basic(address, "not the password"));
        Assert.Equal(HttpStatusCode.Unauthorized, (await wrong.GetAsync("/.well-known/jmap")).StatusCode);
        using var bogus = fixture.Https(new("Bearer", "gms_not-a-session"));
        Assert.Equal(HttpStatusCode.Unauthorized, (await bogus.GetAsync("/.well-known/jmap")).StatusCode);
        // The admin listener is plain HTTP: a session token works there for /api/v1/me, but JMAP stays on HTTPS.
        using var client = await fixture.LoginAsync(address);
        using var plain = new HttpClient { BaseAddress = new Uri(fixture.Host.BaseUrl) };
        plain.DefaultRequestHeaders.Authorization = client.Http.DefaultRequestHeaders.Authorization;
        Assert.Equal(HttpStatusCode.Forbidden, (await plain.GetAsync("/.well-known/jmap")).StatusCode);
    }

    [Fact]
    public async Task Core_echo_returns_its_arguments_and_result_references_resolve()
    {
        using var client = await fixture.LoginAsync(await fixture.NewAccountAsync());
        var echoed = await client.CallAsync("Core/echo", new { hello = true, high = 5, 汉字 = "中文" }, JmapClient.Core);
        var args = echoed.Of("Core/echo");
        Assert.True((bool)args["hello"]!);
        Assert.Equal(5, (int)args["high"]!);
        Assert.Equal("中文", (string)args["汉字"]!);
        Assert.False(string.IsNullOrEmpty((string)echoed.Body["sessionState"]!));

        // A reference into an earlier response, with the '*' rule over an array of objects.
        var list = new JsonObject { ["list"] = new JsonArray(new JsonObject { ["id"] = "a", ["n"] = new JsonArray("x", "y") }, new JsonObject { ["id"] = "b", ["n"] = new JsonArray("z") }) };
        var r = await client.RequestAsync([JmapClient.Core],
            ("Core/echo", list, "first"),
            ("Core/echo", new JsonObject { ["#ids"] = Ref("first", "Core/echo", "/list/*/id"), ["#names"] = Ref("first", "Core/echo", "/list/*/n") }, "second"),
            ("Core/echo", new JsonObject { ["#ids"] = Ref("first", "Core/echo", "/list/7/id") }, "bad-path"),
            ("Core/echo", new JsonObject { ["#ids"] = Ref("nowhere", "Core/echo", "/list") }, "bad-call"),
            ("Core/echo", new JsonObject { ["#ids"] = Ref("first", "Mailbox/get", "/list") }, "bad-name"),
            ("Core/echo", new JsonObject { ["ids"] = 1, ["#ids"] = Ref("first", "Core/echo", "/list") }, "both"),
            ("No/such", new JsonObject(), "unknown"));
        var second = r.Of("Core/echo", "second");
        Assert.Equal(["a", "b"], ((JsonArray)second["ids"]!).Select(x => (string)x!));
        Assert.Equal(["x", "y", "z"], ((JsonArray)second["names"]!).Select(x => (string)x!));
        Assert.Equal("invalidResultReference", r.ErrorType("bad-path"));
        Assert.Equal("invalidResultReference", r.ErrorType("bad-call"));
        Assert.Equal("invalidResultReference", r.ErrorType("bad-name"));
        Assert.Equal("invalidArguments", r.ErrorType("both"));
        Assert.Equal("unknownMethod", r.ErrorType("unknown"));
        // A method whose capability is not in "using" is unknown to that request (RFC 8620 3.6.2).
        var noMail = await client.RequestAsync([JmapClient.Core], ("Mailbox/get", new { accountId = client.AccountId }, "m"));
        Assert.Equal("unknownMethod", noMail.ErrorType("m"));
        // createdIds comes back when it was sent.
        var (status, withCreated) = await client.PostRawAsync("""{"using":["urn:ietf:params:jmap:core"],"methodCalls":[["Core/echo",{},"0"]],"createdIds":{"k1":"M1"}}""");
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("M1", (string)withCreated!["createdIds"]!["k1"]!);
    }

    private static JsonObject Ref(string resultOf, string name, string path) => new() { ["resultOf"] = resultOf, ["name"] = name, ["path"] = path };

    [Theory]
    [InlineData("not json at all", "urn:ietf:params:jmap:error:notJSON", null)]
    [InlineData("{\"using\":[", "urn:ietf:params:jmap:error:notJSON", null)]
    [InlineData("[1,2]", "urn:ietf:params:jmap:error:notRequest", null)]
    [InlineData("{\"using\":[\"urn:ietf:params:jmap:core\"]}", "urn:ietf:params:jmap:error:notRequest", null)]
    [InlineData("{\"using\":[\"urn:ietf:params:jmap:core\"],\"methodCalls\":[[\"Core/echo\",{}]]}", "urn:ietf:params:jmap:error:notRequest", null)]
    [InlineData("{\"using\":[\"urn:example:nothing\"],\"methodCalls\":[]}", "urn:ietf:params:jmap:error:unknownCapability", null)]
    public async Task Bad_requests_get_a_problem_document_with_the_rfc_type(string body, string type, string? limit)
    {
        using var client = await fixture.LoginAsync(await fixture.NewAccountAsync());
        var (status, problem) = await client.PostRawAsync(body);
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal(type, (string)problem!["type"]!);
        Assert.Equal(400, (int)problem["status"]!);
        Assert.Equal(limit, (string?)problem["limit"]);
    }

    [Fact]
    public async Task Limits_are_enforced_as_advertised()
    {
        using var client = await fixture.LoginAsync(await fixture.NewAccountAsync());
        var core = client.Session["capabilities"]![JmapClient.Core]!;
        var maxCalls = (int)core["maxCallsInRequest"]!;
        var calls = string.Join(",", Enumerable.Range(0, maxCalls + 1).Select(i => $"[\"Core/echo\",{{}},\"{i}\"]"));
        var (s1, p1) = await client.PostRawAsync($"{{\"using\":[\"urn:ietf:params:jmap:core\"],\"methodCalls\":[{calls}]}}");
        Assert.Equal(HttpStatusCode.BadRequest, s1);
        Assert.Equal("urn:ietf:params:jmap:error:limit", (string)p1!["type"]!);
        Assert.Equal("maxCallsInRequest", (string)p1["limit"]!);
        // Exactly the limit is fine.
        calls = string.Join(",", Enumerable.Range(0, maxCalls).Select(i => $"[\"Core/echo\",{{}},\"{i}\"]"));
        Assert.Equal(HttpStatusCode.OK, (await client.PostRawAsync($"{{\"using\":[\"urn:ietf:params:jmap:core\"],\"methodCalls\":[{calls}]}}")).Status);

    }

    [Fact]
    public async Task A_request_over_maxSizeRequest_gets_the_limit_problem_over_https_not_a_broken_pipe()
    {
        using var client = await fixture.LoginAsync(await fixture.NewAccountAsync());
        var max = (long)client.Session["capabilities"]![JmapClient.Core]!["maxSizeRequest"]!;
        // Just over the limit, and over Kestrel's own 30,000,000-byte default (which used to cut the connection).
        foreach (var size in new[] { max + 1, Math.Max(max * 3, 31_000_000) })
        {
            const string head = "{\"using\":[\"urn:ietf:params:jmap:core\"],\"methodCalls\":[[\"Core/echo\",{\"pad\":\"";
            const string tail = "\"},\"0\"]]}";
            var body = head + new string('x', (int)(size - head.Length - tail.Length)) + tail;
            Assert.Equal(size, body.Length);
            var (status, problem) = await client.PostRawAsync(body);
            Assert.Equal(HttpStatusCode.BadRequest, status);
            Assert.Equal("urn:ietf:params:jmap:error:limit", (string)problem!["type"]!);
            Assert.Equal("maxSizeRequest", (string)problem["limit"]!);
        }
        // The client goes on working after the refusals.
        Assert.Equal("after", (string)(await client.CallAsync("Core/echo", new { said = "after" }, JmapClient.Core)).Of("Core/echo")["said"]!);
    }
}

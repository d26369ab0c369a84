using System.Text;
using System.Text.Json.Nodes;
using GrainMail.Gateways.Jmap.Protocol;

namespace GrainMail.Protocol.Tests;

/// <summary>The JMAP request envelope (RFC 8620 3.3), result references (3.7) and their errors, as pure code.</summary>
public sealed class JmapProtocolTests
{
    private static readonly HashSet<string> Known = ["urn:ietf:params:jmap:core", "urn:ietf:params:jmap:mail"];
    private const string Mutations = "{}[]\",:0a\\ \u00e9#/*";
    private static readonly JmapLimits Limits = new() { MaxCallsInRequest = 4, MaxSizeRequest = 2000 };

    [Theory]
    [InlineData("", JmapErrors.NotJson)]
    [InlineData("{", JmapErrors.NotJson)]
    [InlineData("{\"using\":[],\"methodCalls\":[]} trailing", JmapErrors.NotJson)]
    [InlineData("\"a string\"", JmapErrors.NotRequest)]
    [InlineData("null", JmapErrors.NotRequest)]
    [InlineData("{}", JmapErrors.NotRequest)]
    [InlineData("{\"using\":\"urn:ietf:params:jmap:core\",\"methodCalls\":[]}", JmapErrors.NotRequest)]
    [InlineData("{\"using\":[1],\"methodCalls\":[]}", JmapErrors.NotRequest)]
    [InlineData("{\"using\":[],\"methodCalls\":{}}", JmapErrors.NotRequest)]
    [InlineData("{\"using\":[],\"methodCalls\":[[\"Core/echo\",{},\"0\",4]]}", JmapErrors.NotRequest)]
    [InlineData("{\"using\":[],\"methodCalls\":[[1,{},\"0\"]]}", JmapErrors.NotRequest)]
    [InlineData("{\"using\":[],\"methodCalls\":[[\"Core/echo\",[],\"0\"]]}", JmapErrors.NotRequest)]
    [InlineData("{\"using\":[],\"methodCalls\":[[\"Core/echo\",{},0]]}", JmapErrors.NotRequest)]
    [InlineData("{\"using\":[],\"methodCalls\":[],\"createdIds\":[]}", JmapErrors.NotRequest)]
    [InlineData("{\"using\":[],\"methodCalls\":[],\"createdIds\":{\"a\":1}}", JmapErrors.NotRequest)]
    [InlineData("{\"using\":[\"urn:ietf:params:jmap:calendars\"],\"methodCalls\":[]}", JmapErrors.UnknownCapability)]
    [InlineData("{\"using\":[],\"methodCalls\":[[\"a\",{},\"0\"],[\"a\",{},\"1\"],[\"a\",{},\"2\"],[\"a\",{},\"3\"],[\"a\",{},\"4\"]]}", JmapErrors.Limit)]
    public void Bad_envelopes_get_their_request_level_error(string body, string type)
    {
        var (request, error) = JmapRequestParser.Parse(Encoding.UTF8.GetBytes(body), Known, Limits);
        Assert.Null(request);
        Assert.Equal(type, error!.Type);
        Assert.Equal(400, error.Status);
    }

    [Fact]
    public void A_request_over_max_size_is_a_limit_error_naming_the_limit()
    {
        var body = "{\"using\":[],\"methodCalls\":[[\"Core/echo\",{\"x\":\"" + new string('a', 2000) + "\"},\"0\"]]}";
        var (_, error) = JmapRequestParser.Parse(Encoding.UTF8.GetBytes(body), Known, Limits);
        Assert.Equal((JmapErrors.Limit, "maxSizeRequest"), (error!.Type, error.Limit));
    }

    [Fact]
    public void A_good_envelope_parses_into_calls_and_created_ids()
    {
        var (request, error) = JmapRequestParser.Parse(Encoding.UTF8.GetBytes(
            "{\"using\":[\"urn:ietf:params:jmap:core\"],\"methodCalls\":[[\"Core/echo\",{\"a\":1},\"c1\"],[\"Mailbox/get\",{},\"c2\"]],\"createdIds\":{\"k\":\"M1\"}}"), Known, Limits);
        Assert.Null(error);
        Assert.Equal(["urn:ietf:params:jmap:core"], request!.Using);
        Assert.Equal(["Core/echo", "Mailbox/get"], request.MethodCalls.Select(c => c.Name));
        Assert.Equal(["c1", "c2"], request.MethodCalls.Select(c => c.CallId));
        Assert.Equal(1, (int)request.MethodCalls[0].Arguments["a"]!);
        Assert.Equal("M1", request.CreatedIds!["k"]);
    }

    [Theory]
    [InlineData("/ids", "[\"a\",\"b\"]")]
    [InlineData("/ids/1", "\"b\"")]
    [InlineData("/list/*/id", "[\"m1\",\"m2\"]")]
    [InlineData("/list/*/threadIds", "[\"t1\",\"t2\",\"t3\"]")]
    [InlineData("/odd~1key", "1")]
    [InlineData("/tilde~0key", "2")]
    [InlineData("", null)]
    [InlineData("/ids/2", null)]
    [InlineData("/ids/01", null)]
    [InlineData("/ids/-1", null)]
    [InlineData("/nothing", null)]
    [InlineData("/list/*/none", null)]
    [InlineData("ids", null)]
    public void Json_pointers_with_the_star_rule(string path, string? expected)
    {
        var doc = JsonNode.Parse("{\"ids\":[\"a\",\"b\"],\"list\":[{\"id\":\"m1\",\"threadIds\":[\"t1\",\"t2\"]},{\"id\":\"m2\",\"threadIds\":[\"t3\"]}],\"odd/key\":1,\"tilde~key\":2}");
        var result = ResultReferences.Evaluate(doc, path);
        if (path.Length == 0) Assert.True(JsonNode.DeepEquals(doc, result));
        else if (expected is null) Assert.Null(result);
        else Assert.True(JsonNode.DeepEquals(JsonNode.Parse(expected), result), result?.ToJsonString());
    }

    [Fact]
    public void References_resolve_against_the_first_response_of_the_call_and_its_name()
    {
        var responses = new List<(string, JsonObject, string)>
        {
            ("Email/query", new JsonObject { ["ids"] = new JsonArray("M1", "M2") }, "q"),
            ("Email/query", new JsonObject { ["ids"] = new JsonArray("M9") }, "q"),
        };
        var resolved = ResultReferences.Resolve(JsonNode.Parse("{\"accountId\":\"A1\",\"#ids\":{\"resultOf\":\"q\",\"name\":\"Email/query\",\"path\":\"/ids\"}}")!.AsObject(), responses);
        Assert.Equal("A1", (string)resolved["accountId"]!);
        Assert.Equal(["M1", "M2"], resolved["ids"]!.AsArray().Select(x => (string)x!));
        Assert.False(resolved.ContainsKey("#ids"));

        foreach (var (args, type) in new[]
        {
            ("{\"#ids\":{\"resultOf\":\"q\",\"name\":\"Email/get\",\"path\":\"/ids\"}}", JmapErrors.InvalidResultReference),
            ("{\"#ids\":{\"resultOf\":\"x\",\"name\":\"Email/query\",\"path\":\"/ids\"}}", JmapErrors.InvalidResultReference),
            ("{\"#ids\":{\"resultOf\":\"q\",\"name\":\"Email/query\"}}", JmapErrors.InvalidResultReference),
            ("{\"#ids\":\"q\"}", JmapErrors.InvalidResultReference),
            ("{\"#ids\":{\"resultOf\":\"q\",\"name\":\"Email/query\",\"path\":\"/nope\"}}", JmapErrors.InvalidResultReference),
            ("{\"ids\":[],\"#ids\":{\"resultOf\":\"q\",\"name\":\"Email/query\",\"path\":\"/ids\"}}", JmapErrors.InvalidArguments),
        })
        {
            var e = Assert.Throws<JmapMethodException>(() => ResultReferences.Resolve(JsonNode.Parse(args)!.AsObject(), responses));
            Assert.Equal(type, e.Type);
        }
    }

    [Fact]
    public void Fuzzed_envelopes_never_throw_and_always_get_an_answer()
    {
        var random = new Random(8620);
        var seeds = new[]
        {
            "{\"using\":[\"urn:ietf:params:jmap:core\"],\"methodCalls\":[[\"Core/echo\",{\"a\":[1,{\"b\":null}]},\"0\"]],\"createdIds\":{\"k\":\"v\"}}",
            "{\"using\":[\"urn:ietf:params:jmap:mail\"],\"methodCalls\":[[\"Email/get\",{\"#ids\":{\"resultOf\":\"0\",\"name\":\"Email/query\",\"path\":\"/ids/*\"}},\"1\"]]}",
        };
        for (var i = 0; i < 3000; i++)
        {
            byte[] input;
            if (i % 3 == 0)
            {
                input = new byte[random.Next(0, 200)];
                random.NextBytes(input);
            }
            else
            {
                var chars = seeds[i % seeds.Length].ToCharArray();
                for (var m = random.Next(1, 6); m > 0; m--)
                    chars[random.Next(chars.Length)] = Mutations[random.Next(Mutations.Length)];
                input = Encoding.UTF8.GetBytes(chars);
            }
            var (request, error) = JmapRequestParser.Parse(input, Known, new JmapLimits());
            Assert.True(request is not null ^ error is not null);
            if (request is null) continue;
            foreach (var call in request.MethodCalls)
            {
                try
                {
                    ResultReferences.Resolve(call.Arguments, [("Email/query", new JsonObject { ["ids"] = new JsonArray("x") }, "0")]);
                }
                catch (JmapMethodException)
                {
                    // an answer: the method-level error
                }
            }
        }
    }
}

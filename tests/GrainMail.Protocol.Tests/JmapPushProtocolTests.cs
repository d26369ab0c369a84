using System.Text;
using GrainMail.Gateways.Jmap.Protocol;
using GrainMail.Gateways.Jmap.Push;

namespace GrainMail.Protocol.Tests;

/// <summary>JMAP push as pure code: the EventSource query (RFC 8620 7.3), StateChange objects (7.1), RFC 8887 messages.</summary>
public sealed class JmapPushProtocolTests
{
    private static readonly HashSet<string> Known = ["urn:ietf:params:jmap:core", "urn:ietf:params:jmap:mail"];
    private static readonly JmapLimits Limits = new() { MaxSizeRequest = 2000 };

    [Theory]
    [InlineData("*", "no", "0", null, false, 0)]
    [InlineData("", "", "", null, false, 0)]
    [InlineData("Email", "state", "30", "Email", true, 30)]
    [InlineData("Email,Mailbox", "no", "1", "Email,Mailbox", false, 30)]
    [InlineData(" Email , Thread ", "no", "29", "Email,Thread", false, 30)]
    [InlineData("*", "no", "300", null, false, 300)]
    [InlineData("*", "no", "301", null, false, 300)]
    [InlineData("*", "no", "86400", null, false, 300)]
    public void Good_queries_are_read_with_ping_clamped_to_30_300(string types, string closeafter, string ping, string? expectTypes, bool closeAfterState, int seconds)
    {
        var (q, error) = EventSourceQuery.Parse(types, closeafter, ping);
        Assert.Null(error);
        Assert.Equal(closeAfterState, q!.CloseAfterState);
        Assert.Equal(seconds, q.PingSeconds);
        Assert.Equal(expectTypes, q.Types is null ? null : string.Join(',', q.Types.Order(StringComparer.Ordinal)));
    }

    [Theory]
    [InlineData("*", "sometimes", "0")]
    [InlineData("*", "STATE", "0")]
    [InlineData("*", "no", "-1")]
    [InlineData("*", "no", "ten")]
    [InlineData("*", "no", "99999999999")]
    [InlineData(",", "no", "0")]
    [InlineData("Email,*", "no", "0")]
    public void Bad_queries_are_refused(string types, string closeafter, string ping) =>
        Assert.NotNull(EventSourceQuery.Parse(types, closeafter, ping).Error);

    [Fact]
    public void A_state_change_names_only_the_wanted_types_that_moved()
    {
        var before = new AccountStates("A1", new Dictionary<string, string> { ["Email"] = "s1", ["Mailbox"] = "m1", ["Thread"] = "s1" });
        var after = new AccountStates("A1", new Dictionary<string, string> { ["Email"] = "s2", ["Mailbox"] = "m1", ["Thread"] = "s2" });
        Assert.NotEqual(before.Digest, after.Digest);
        Assert.Equal(["Email", "Thread"], StateChanges.Changed(after, before, null).Keys.Order());
        Assert.Equal(["Email"], StateChanges.Changed(after, before, new HashSet<string> { "Email", "Mailbox" }).Keys);
        Assert.Empty(StateChanges.Changed(after, before, new HashSet<string> { "Mailbox" }));
        Assert.Null(StateChanges.Build("A1", StateChanges.Changed(after, before, new HashSet<string> { "Mailbox" })));
        var change = StateChanges.Build("A1", StateChanges.Changed(after, null, null), pushState: after.Digest)!;
        Assert.Equal("StateChange", (string)change["@type"]!);
        Assert.Equal("s2", (string)change["changed"]!["A1"]!["Email"]!);
        Assert.Equal(after.Digest, (string)change["pushState"]!);
        Assert.Equal("event: state\nid: x\ndata: {\"a\":1}\n\n", StateChanges.Event("state", "x", "{\"a\":1}"));
        Assert.Equal("event: ping\ndata: {\"interval\":30}\n\n", StateChanges.Ping(30));
    }

    [Theory]
    [InlineData("""{"@type":"Request","id":"r1","using":["urn:ietf:params:jmap:core"],"methodCalls":[["Core/echo",{},"c0"]]}""", "request:r1")]
    [InlineData("""{"@type":"Request","using":["urn:ietf:params:jmap:core"],"methodCalls":[]}""", "request:")]
    [InlineData("""{"@type":"WebSocketPushEnable","dataTypes":null,"pushState":"p"}""", "enable:*:p")]
    [InlineData("""{"@type":"WebSocketPushEnable","dataTypes":["Email","Mailbox"]}""", "enable:Email,Mailbox:")]
    [InlineData("""{"@type":"WebSocketPushDisable"}""", "disable")]
    [InlineData("""{"@type":"Request","id":"r2","using":["urn:x"],"methodCalls":[]}""", "error:r2:urn:ietf:params:jmap:error:unknownCapability")]
    [InlineData("""{"@type":"WebSocketPushEnable","dataTypes":"Email"}""", "error::urn:ietf:params:jmap:error:notRequest")]
    [InlineData("""{"@type":"Hello","id":"h"}""", "error:h:urn:ietf:params:jmap:error:notRequest")]
    [InlineData("""{"using":[],"methodCalls":[]}""", "error::urn:ietf:params:jmap:error:notRequest")]
    [InlineData("""[1,2]""", "error::urn:ietf:params:jmap:error:notRequest")]
    [InlineData("""{"@type":""", "error::urn:ietf:params:jmap:error:notJSON")]
    public void WebSocket_messages_are_told_apart(string text, string expected) =>
        Assert.Equal(expected, Describe(WebSocketMessages.Parse(Encoding.UTF8.GetBytes(text), Known, Limits)));

    [Fact]
    public void A_message_over_maxSizeRequest_is_a_limit_error()
    {
        var big = "{\"@type\":\"Request\",\"using\":[],\"methodCalls\":[],\"pad\":\"" + new string('x', 2000) + "\"}";
        var result = Assert.IsType<WebSocketBadMessage>(WebSocketMessages.Parse(Encoding.UTF8.GetBytes(big), Known, Limits));
        Assert.Equal(JmapErrors.Limit, result.Error.Type);
        Assert.Equal("maxSizeRequest", result.Error.Limit);
        var json = WebSocketMessages.RequestError("r9", result.Error);
        Assert.Equal("RequestError", (string)json["@type"]!);
        Assert.Equal("r9", (string)json["requestId"]!);
    }

    [Fact]
    public void Fuzzed_queries_and_messages_always_get_an_answer()
    {
        var random = new Random(8887);
        const string mutations = "{}[]\",:0a\\ *#@";
        var seeds = new[]
        {
            """{"@type":"Request","id":"r1","using":["urn:ietf:params:jmap:core"],"methodCalls":[["Core/echo",{"a":[1]},"c0"]]}""",
            """{"@type":"WebSocketPushEnable","dataTypes":["Email"],"pushState":"abc"}""",
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
                for (var m = random.Next(1, 6); m > 0; m--) chars[random.Next(chars.Length)] = mutations[random.Next(mutations.Length)];
                input = Encoding.UTF8.GetBytes(chars);
            }
            Assert.NotNull(WebSocketMessages.Parse(input, Known, Limits));
            var text = Encoding.UTF8.GetString(input);
            var third = Math.Max(1, text.Length / 3);
            var (q, error) = EventSourceQuery.Parse(text[..Math.Min(third, text.Length)], i % 2 == 0 ? "no" : text, i % 5 == 0 ? "45" : text);
            Assert.True(q is not null ^ error is not null);
            if (q is not null) Assert.True(q.PingSeconds == 0 || q.PingSeconds is >= EventSourceQuery.MinPing and <= EventSourceQuery.MaxPing);
        }
    }

    private static string Describe(WebSocketClientMessage m) => m switch
    {
        WebSocketRequest r => "request:" + r.Id,
        WebSocketPushEnable e => $"enable:{(e.DataTypes is null ? "*" : string.Join(',', e.DataTypes.Order(StringComparer.Ordinal)))}:{e.PushState}",
        WebSocketPushDisable => "disable",
        WebSocketBadMessage b => $"error:{b.Id}:{b.Error.Type}",
        _ => "?",
    };
}

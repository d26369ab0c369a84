using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Net.WebSockets;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json.Nodes;
using GrainMail.Tests.Infrastructure;
using MailKit;
using MailKit.Net.Imap;
using MailKit.Security;
using MimeKit;

namespace GrainMail.Tests;

/// <summary>
/// JMAP push end to end over real HTTPS: EventSource (RFC 8620 7.3) read as a stream by HttpClient,
/// and JMAP over WebSocket (RFC 8887) by ClientWebSocket. A delivery by SMTP or an APPEND by IMAP
/// must reach the client as a StateChange whose states are the ones the /get methods answer.
/// </summary>
public sealed class JmapPushTests(JmapHostFixture fixture) : IClassFixture<JmapHostFixture>
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);

    private static string TokenOf(JmapClient c) => c.Http.DefaultRequestHeaders.Authorization!.Parameter!;

    private static string EventSourcePath(string types, string closeafter, int ping) => $"/jmap/eventsource?types={types}&closeafter={closeafter}&ping={ping}";

    private async Task<string> EmailStateAsync(JmapClient c) =>
        (string)(await c.CallAsync("Email/get", new { accountId = c.AccountId, ids = Array.Empty<string>() })).Of("Email/get")["state"]!;

    [Fact]
    public async Task A_message_delivered_by_smtp_pushes_the_state_that_Email_get_then_returns()
    {
        var user = await fixture.NewAccountAsync();
        using var jmap = await fixture.LoginAsync(user);
        Assert.Equal($"https://127.0.0.1:{fixture.HttpsPort}/jmap/eventsource?types={{types}}&closeafter={{closeafter}}&ping={{ping}}", (string)jmap.Session["eventSourceUrl"]!);
        var before = await EmailStateAsync(jmap);
        await using var stream = await EventStream.OpenAsync(jmap.Http, EventSourcePath("*", "no", 0));
        Assert.Equal("text/event-stream", stream.ContentType);

        await TestMail.SendToMxAsync(fixture.Host.Listening.Mx, user, "push by smtp");
        var first = await stream.NextAsync("state", Wait);
        var changed = (JsonObject)JsonNode.Parse(first.Data)!["changed"]![jmap.AccountId]!;
        Assert.Equal("StateChange", (string)JsonNode.Parse(first.Data)!["@type"]!);
        // New mail also moves EmailDelivery (RFC 8621 1.5); Identity and EmailSubmission did not change.
        Assert.Equal(["Email", "EmailDelivery", "Mailbox", "Thread"], changed.Select(kv => kv.Key).Order(StringComparer.Ordinal));
        Assert.NotEqual(before, (string)changed["Email"]!);
        Assert.False(string.IsNullOrEmpty(first.Id));
        // The delivery may commit in more than one step: the newest pushed state must be Email/get's.
        var pushed = (string)changed["Email"]!;
        var now = await EmailStateAsync(jmap);
        for (var i = 0; i < 3 && pushed != now; i++)
        {
            var next = await stream.NextAsync("state", Wait);
            pushed = (string)JsonNode.Parse(next.Data)!["changed"]![jmap.AccountId]!["Email"]!;
            now = await EmailStateAsync(jmap);
        }
        Assert.Equal(now, pushed);

        // A reconnect with a stale Last-Event-ID hears the current states at once (RFC 8620 7.3).
        await using var resumed = await EventStream.OpenAsync(jmap.Http, EventSourcePath("*", "no", 0), lastEventId: "stale");
        var caughtUp = await resumed.NextAsync("state", Wait);
        Assert.Equal(now, (string)JsonNode.Parse(caughtUp.Data)!["changed"]![jmap.AccountId]!["Email"]!);
    }

    [Fact]
    public async Task Types_filter_the_state_change_and_closeafter_state_ends_the_stream()
    {
        var user = await fixture.NewAccountAsync();
        using var jmap = await fixture.LoginAsync(user);
        await using var stream = await EventStream.OpenAsync(jmap.Http, EventSourcePath("Email", "state", 0));
        await TestMail.SendToMxAsync(fixture.Host.Listening.Mx, user, "filtered push");
        var e = await stream.NextAsync("state", Wait);
        var changed = (JsonObject)JsonNode.Parse(e.Data)!["changed"]![jmap.AccountId]!;
        Assert.Equal(["Email"], changed.Select(kv => kv.Key));
        Assert.True(await stream.EndedAsync(Wait), "closeafter=state must end the response after the state event");

        // A bad closeafter is refused.
        var bad = await jmap.Http.GetAsync(EventSourcePath("*", "sometimes", 0));
        Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
    }

    [Fact]
    public async Task A_ping_arrives_at_the_clamped_interval()
    {
        var user = await fixture.NewAccountAsync();
        using var jmap = await fixture.LoginAsync(user);
        // 1 s is below the 30 s minimum the RFC lets a server keep: the ping says 30.
        await using var stream = await EventStream.OpenAsync(jmap.Http, EventSourcePath("*", "no", 1));
        var ping = await stream.NextAsync("ping", TimeSpan.FromSeconds(45));
        Assert.Equal(30, (int)JsonNode.Parse(ping.Data)!["interval"]!);
    }

    [Fact]
    public async Task The_access_token_parameter_works_on_the_event_source_only()
    {
        var user = await fixture.NewAccountAsync();
        using var jmap = await fixture.LoginAsync(user);
        var token = Uri.EscapeDataString(TokenOf(jmap));
        using var anonymous = fixture.Https();
        await using (var stream = await EventStream.OpenAsync(anonymous, EventSourcePath("*", "no", 0) + "&access_token=" + token))
        {
            await TestMail.SendToMxAsync(fixture.Host.Listening.Mx, user, "token in the query");
            var e = await stream.NextAsync("state", Wait);
            Assert.NotNull(JsonNode.Parse(e.Data)!["changed"]![jmap.AccountId]);
        }
        Assert.Equal(HttpStatusCode.Unauthorized, (await anonymous.GetAsync(EventSourcePath("*", "no", 0))).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await anonymous.GetAsync(EventSourcePath("*", "no", 0) + "&access_token=gms_not_a_session")).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await anonymous.GetAsync("/.well-known/jmap?access_token=" + token)).StatusCode);
        using var api = new StringContent("""{"using":["urn:ietf:params:jmap:core"],"methodCalls":[["Core/echo",{},"c0"]]}""", Encoding.UTF8, "application/json");
        Assert.Equal(HttpStatusCode.Unauthorized, (await anonymous.PostAsync("/jmap/api?access_token=" + token, api)).StatusCode);
    }

    [Fact]
    public async Task Changing_the_password_closes_the_stream()
    {
        var user = await fixture.NewAccountAsync();
        using var jmap = await fixture.LoginAsync(user);
        await using var stream = await EventStream.OpenAsync(jmap.Http, EventSourcePath("*", "no", 0));
        // An administrator's reset ends the account's sessions (IMAP, POP3, API and push alike).
        Assert.Equal(HttpStatusCode.NoContent, (await fixture.Host.Http.PutAsJsonAsync($"/api/v1/accounts/{user}/password", new { password = "Blue-River-Stone-77" })).StatusCode);
        Assert.True(await stream.EndedAsync(Wait), "the stream must end when the credential is revoked");
        Assert.Equal(HttpStatusCode.Unauthorized, (await jmap.Http.GetAsync(EventSourcePath("*", "no", 0))).StatusCode);
    }

    [Fact]
    public async Task WebSocket_answers_requests_and_pushes_an_imap_append_while_enabled()
    {
        var user = await fixture.NewAccountAsync();
        using var jmap = await fixture.LoginAsync(user);
        var capability = (JsonObject)jmap.Session["capabilities"]!["urn:ietf:params:jmap:websocket"]!;
        Assert.Equal($"wss://127.0.0.1:{fixture.HttpsPort}/jmap/ws", (string)capability["url"]!);
        Assert.True((bool)capability["supportsPush"]!);
        using var ws = await ConnectAsync(TokenOf(jmap));
        Assert.Equal("jmap", ws.SubProtocol);

        await SendAsync(ws, """{"@type":"Request","id":"r1","using":["urn:ietf:params:jmap:core"],"methodCalls":[["Core/echo",{"hello":"世界"},"c0"]]}""");
        var response = await ReceiveAsync(ws);
        Assert.Equal("Response", (string)response["@type"]!);
        Assert.Equal("r1", (string)response["requestId"]!);
        Assert.Equal("世界", (string)response["methodResponses"]![0]![1]!["hello"]!);
        Assert.False(string.IsNullOrEmpty((string?)response["sessionState"]));

        await SendAsync(ws, """{"@type":"WebSocketPushEnable","dataTypes":null}""");
        using var imap = new ImapClient { ServerCertificateValidationCallback = (_, _, _, _) => true, Timeout = 30_000 };
        await imap.ConnectAsync("127.0.0.1", fixture.Host.Listening.Imaps, SecureSocketOptions.SslOnConnect);
        await imap.AuthenticateAsync(user, JmapHostFixture.Password);
        await imap.Inbox.AppendAsync(TestMail.Text("a@example.com", user, "appended over imap", "x"), MessageFlags.None);
        var push = await ReceiveAsync(ws);
        Assert.Equal("StateChange", (string)push["@type"]!);
        Assert.False(string.IsNullOrEmpty((string?)push["pushState"]));
        Assert.Equal(await EmailStateAsync(jmap), (string)push["changed"]![jmap.AccountId]!["Email"]!);

        // Disabled: another APPEND (seen by Email/get) pushes nothing; the next message is the response.
        await SendAsync(ws, """{"@type":"WebSocketPushDisable"}""");
        await SendAsync(ws, """{"@type":"Request","id":"r2","using":["urn:ietf:params:jmap:core"],"methodCalls":[["Core/echo",{},"c0"]]}""");
        Assert.Equal("r2", (string)(await ReceiveAsync(ws))["requestId"]!);
        var stateBefore = await EmailStateAsync(jmap);
        await imap.Inbox.AppendAsync(TestMail.Text("a@example.com", user, "not pushed", "x"), MessageFlags.None);
        Assert.NotEqual(stateBefore, await EmailStateAsync(jmap));
        await SendAsync(ws, """{"@type":"Request","id":"r3","using":["urn:ietf:params:jmap:core"],"methodCalls":[["Core/echo",{},"c0"]]}""");
        var after = await ReceiveAsync(ws);
        Assert.Equal("Response", (string)after["@type"]!);
        Assert.Equal("r3", (string)after["requestId"]!);

        // Enabled again with the old pushState: what changed meanwhile is pushed at once (RFC 8887 4.3.5).
        await SendAsync(ws, new JsonObject { ["@type"] = "WebSocketPushEnable", ["pushState"] = (string)push["pushState"]! }.ToJsonString());
        var caughtUp = await ReceiveAsync(ws);
        Assert.Equal(await EmailStateAsync(jmap), (string)caughtUp["changed"]![jmap.AccountId]!["Email"]!);
        await ws.CloseAsync(WebSocketCloseStatus.NormalClosure, null, CancellationToken.None);
    }

    [Fact]
    public async Task WebSocket_refuses_an_oversize_message_and_a_bad_one_with_request_errors()
    {
        var user = await fixture.NewAccountAsync();
        using var jmap = await fixture.LoginAsync(user);
        var maxSize = (long)jmap.Session["capabilities"]!["urn:ietf:params:jmap:core"]!["maxSizeRequest"]!;
        using var ws = await ConnectAsync(TokenOf(jmap));

        // One message of maxSizeRequest + 1 octets, sent in frames.
        var chunk = new byte[1024 * 1024];
        Array.Fill(chunk, (byte)' ');
        var remaining = maxSize + 1;
        while (remaining > 0)
        {
            var n = (int)Math.Min(chunk.Length, remaining);
            remaining -= n;
            await ws.SendAsync(chunk.AsMemory(0, n), WebSocketMessageType.Text, remaining == 0, CancellationToken.None);
        }
        var error = await ReceiveAsync(ws);
        Assert.Equal("RequestError", (string)error["@type"]!);
        Assert.Equal("urn:ietf:params:jmap:error:limit", (string)error["type"]!);
        Assert.Equal("maxSizeRequest", (string)error["limit"]!);

        await SendAsync(ws, """{"@type":"Request","id":"u1","using":["urn:example:nothing"],"methodCalls":[]}""");
        var unknown = await ReceiveAsync(ws);
        Assert.Equal("u1", (string)unknown["requestId"]!);
        Assert.Equal("urn:ietf:params:jmap:error:unknownCapability", (string)unknown["type"]!);
        await SendAsync(ws, """{"@type":"Nonsense","id":"n1"}""");
        Assert.Equal("urn:ietf:params:jmap:error:notRequest", (string)(await ReceiveAsync(ws))["type"]!);

        // The connection still serves requests.
        await SendAsync(ws, """{"@type":"Request","id":"ok","using":["urn:ietf:params:jmap:core"],"methodCalls":[["Core/echo",{},"c0"]]}""");
        Assert.Equal("ok", (string)(await ReceiveAsync(ws))["requestId"]!);
    }

    [Fact]
    public async Task Identity_changes_are_pushed_with_the_state_Identity_get_returns_and_a_saved_draft_is_no_EmailDelivery()
    {
        var user = await fixture.NewAccountAsync();
        using var jmap = await fixture.LoginAsync(user);
        const string Submission = "urn:ietf:params:jmap:submission";
        var identities = (await jmap.CallAsync("Identity/get", new { accountId = jmap.AccountId }, JmapClient.Core, Submission)).Of("Identity/get");
        var id = (string)identities["list"]![0]!["id"]!;
        // A stale Last-Event-ID: the stream starts with the states now (RFC 8620 7.3).
        await using var stream = await EventStream.OpenAsync(jmap.Http, EventSourcePath("Identity,EmailDelivery", "no", 0), lastEventId: "stale");
        var first = await stream.NextAsync("state", Wait);
        var initial = (JsonObject)JsonNode.Parse(first.Data)!["changed"]![jmap.AccountId]!;
        Assert.Equal((string)identities["state"]!, (string)initial["Identity"]!);
        var delivery = (string)initial["EmailDelivery"]!;

        // A draft saved in Drafts moves Email, not EmailDelivery (it is not new mail). The identity change that follows is pushed.
        using var imap = new ImapClient { ServerCertificateValidationCallback = (_, _, _, _) => true, Timeout = 30_000 };
        await imap.ConnectAsync("127.0.0.1", fixture.Host.Listening.Imaps, SecureSocketOptions.SslOnConnect);
        await imap.AuthenticateAsync(user, JmapHostFixture.Password);
        await (await imap.GetFolderAsync("Drafts")).AppendAsync(TestMail.Text(user, "b@example.com", "a draft", "x"), MessageFlags.Draft);
        await jmap.CallAsync("Identity/set", new JsonObject
        {
            ["accountId"] = jmap.AccountId,
            ["update"] = new JsonObject { [id] = new JsonObject { ["textSignature"] = "pushed" } },
        }, JmapClient.Core, Submission);
        var now = (string)(await jmap.CallAsync("Identity/get", new { accountId = jmap.AccountId }, JmapClient.Core, Submission)).Of("Identity/get")["state"]!;
        var e = await stream.NextAsync("state", Wait);
        var changed = (JsonObject)JsonNode.Parse(e.Data)!["changed"]![jmap.AccountId]!;
        Assert.Equal(["Identity"], changed.Select(kv => kv.Key));
        Assert.Equal(now, (string)changed["Identity"]!);

        // Mail that arrives moves EmailDelivery.
        await TestMail.SendToMxAsync(fixture.Host.Listening.Mx, user, "new mail");
        var arrived = (JsonObject)JsonNode.Parse((await stream.NextAsync("state", Wait)).Data)!["changed"]![jmap.AccountId]!;
        Assert.NotEqual(delivery, (string)arrived["EmailDelivery"]!);
    }

    [Fact]
    public async Task An_alias_added_by_an_administrator_moves_the_pushed_identity_state_at_once()
    {
        var user = await fixture.NewAccountAsync();
        using var jmap = await fixture.LoginAsync(user);
        const string Submission = "urn:ietf:params:jmap:submission";
        var before = (string)(await jmap.CallAsync("Identity/get", new { accountId = jmap.AccountId }, JmapClient.Core, Submission)).Of("Identity/get")["state"]!;
        await using var stream = await EventStream.OpenAsync(jmap.Http, EventSourcePath("Identity", "no", 0));

        // No Identity/get in between: the silo makes the alias's identity and the push says so (issue 18).
        var alias = "al" + Guid.NewGuid().ToString("N")[..8];
        var added = await fixture.Host.Http.PostAsJsonAsync($"/api/v1/accounts/{user}/aliases", new { alias });
        Assert.Equal(HttpStatusCode.Created, added.StatusCode);
        var pushed = (string)JsonNode.Parse((await stream.NextAsync("state", Wait)).Data)!["changed"]![jmap.AccountId]!["Identity"]!;
        Assert.NotEqual(before, pushed);
        var now = (await jmap.CallAsync("Identity/get", new { accountId = jmap.AccountId }, JmapClient.Core, Submission)).Of("Identity/get");
        Assert.Equal(pushed, (string)now["state"]!);
        Assert.Contains((JsonArray)now["list"]!, i => ((string)i!["email"]!).StartsWith(alias + "@", StringComparison.Ordinal));
        var changes = (await jmap.CallAsync("Identity/changes", new { accountId = jmap.AccountId, sinceState = before }, JmapClient.Core, Submission)).Of("Identity/changes");
        Assert.Single((JsonArray)changes["created"]!);
    }

    [Fact]
    public async Task WebSocket_requests_over_maxConcurrentRequests_get_the_limit_error_and_the_rest_are_answered()
    {
        var user = await fixture.NewAccountAsync();
        using var jmap = await fixture.LoginAsync(user);
        var max = (int)jmap.Session["capabilities"]!["urn:ietf:params:jmap:core"]!["maxConcurrentRequests"]!;
        using var ws = await ConnectAsync(TokenOf(jmap));
        // Many requests sent at once, each a few grain calls long: the connection runs them side by side,
        // so more than max are in flight and the extra ones are refused (RFC 8887 4.3.2: a RequestError with the id).
        var count = max * 10;
        var burst = new StringBuilder();
        for (var i = 0; i < count; i++)
        {
            var request = new JsonObject
            {
                ["@type"] = "Request",
                ["id"] = $"q{i}",
                ["using"] = new JsonArray("urn:ietf:params:jmap:core", "urn:ietf:params:jmap:mail"),
                ["methodCalls"] = new JsonArray(
                    new JsonArray("Mailbox/get", new JsonObject { ["accountId"] = jmap.AccountId }, "m"),
                    new JsonArray("Email/query", new JsonObject { ["accountId"] = jmap.AccountId }, "e")),
            };
            await SendAsync(ws, request.ToJsonString());
        }
        var answered = new HashSet<string>();
        var refused = 0;
        for (var i = 0; i < count; i++)
        {
            var m = await ReceiveAsync(ws);
            answered.Add((string)m["requestId"]!);
            if ((string)m["@type"]! == "RequestError")
            {
                Assert.Equal("urn:ietf:params:jmap:error:limit", (string)m["type"]!);
                Assert.Equal("maxConcurrentRequests", (string)m["limit"]!);
                refused++;
            }
            else Assert.Equal("Response", (string)m["@type"]!);
        }
        Assert.Equal(count, answered.Count); // every request has its answer, refused or not
        Assert.True(refused > 0, $"{count} requests at once must pass maxConcurrentRequests ({max})");
        Assert.True(refused < count, "the requests within the limit are answered");

        // Once they are done, the connection serves requests again.
        await SendAsync(ws, """{"@type":"Request","id":"after","using":["urn:ietf:params:jmap:core"],"methodCalls":[["Core/echo",{},"c0"]]}""");
        Assert.Equal("Response", (string)(await ReceiveAsync(ws))["@type"]!);
    }

    [Fact]
    public async Task Changing_the_password_closes_the_websocket()
    {
        var user = await fixture.NewAccountAsync();
        using var jmap = await fixture.LoginAsync(user);
        using var ws = await ConnectAsync(TokenOf(jmap));
        await SendAsync(ws, """{"@type":"WebSocketPushEnable","dataTypes":null}""");
        await SendAsync(ws, """{"@type":"Request","id":"r1","using":["urn:ietf:params:jmap:core"],"methodCalls":[["Core/echo",{},"c0"]]}""");
        Assert.Equal("r1", (string)(await ReceiveAsync(ws))["requestId"]!);
        // An administrator's reset ends the account's sessions, WebSocket ones too (channel jmap-push).
        Assert.Equal(HttpStatusCode.NoContent, (await fixture.Host.Http.PutAsJsonAsync($"/api/v1/accounts/{user}/password", new { password = "Blue-River-Stone-78" })).StatusCode);
        using var cts = new CancellationTokenSource(Wait);
        var buffer = new byte[64 * 1024];
        var closed = false;
        try
        {
            while (!closed)
            {
                var r = await ws.ReceiveAsync(buffer.AsMemory(), cts.Token);
                closed = r.MessageType == WebSocketMessageType.Close;
            }
        }
        catch (WebSocketException)
        {
            closed = true; // the server ended the connection without a close handshake
        }
        Assert.True(closed, "the WebSocket must close when the credential is revoked");
        Assert.Equal(HttpStatusCode.Unauthorized, (await jmap.Http.GetAsync("/.well-known/jmap")).StatusCode);
    }

    [Fact]
    public async Task WebSocket_needs_the_jmap_subprotocol_and_credentials()
    {
        var user = await fixture.NewAccountAsync();
        using var jmap = await fixture.LoginAsync(user);
        await Assert.ThrowsAnyAsync<WebSocketException>(() => ConnectAsync(TokenOf(jmap), subprotocol: null));
        await Assert.ThrowsAnyAsync<WebSocketException>(() => ConnectAsync(token: null));
    }

    private async Task<ClientWebSocket> ConnectAsync(string? token, string? subprotocol = "jmap")
    {
        var expected = X509CertificateLoader.LoadCertificateFromFile(fixture.CertificatePath);
        var ws = new ClientWebSocket();
        ws.Options.RemoteCertificateValidationCallback = (_, cert, _, _) => cert is not null && cert.GetRawCertData().AsSpan().SequenceEqual(expected.RawData);
        if (subprotocol is not null) ws.Options.AddSubProtocol(subprotocol);
        if (token is not null) ws.Options.SetRequestHeader("Authorization", "Bearer " + token);
        try
        {
            using var cts = new CancellationTokenSource(Wait);
            await ws.ConnectAsync(new Uri($"wss://127.0.0.1:{fixture.HttpsPort}/jmap/ws"), cts.Token);
            return ws;
        }
        catch
        {
            ws.Dispose();
            throw;
        }
    }

    private static Task SendAsync(ClientWebSocket ws, string json) =>
        ws.SendAsync(Encoding.UTF8.GetBytes(json), WebSocketMessageType.Text, true, CancellationToken.None);

    /// <summary>One whole WebSocket message as JSON (also read by the delegated-account tests).</summary>
    internal static async Task<JsonObject> ReceiveAsync(ClientWebSocket ws)
    {
        using var cts = new CancellationTokenSource(Wait);
        using var message = new MemoryStream();
        var buffer = new byte[64 * 1024];
        ValueWebSocketReceiveResult r;
        do
        {
            r = await ws.ReceiveAsync(buffer.AsMemory(), cts.Token);
            Assert.NotEqual(WebSocketMessageType.Close, r.MessageType);
            message.Write(buffer, 0, r.Count);
        }
        while (!r.EndOfMessage);
        return (JsonObject)JsonNode.Parse(message.ToArray())!;
    }
}

/// <summary>An EventSource read as the stream it is (text/event-stream): one event at a time.</summary>
public sealed class EventStream : IAsyncDisposable
{
    private readonly HttpResponseMessage _response;
    private readonly StreamReader _reader;

    private EventStream(HttpResponseMessage response, StreamReader reader)
    {
        _response = response;
        _reader = reader;
    }

    public string? ContentType => _response.Content.Headers.ContentType?.MediaType;

    public sealed record ServerEvent(string Type, string? Id, string Data);

    public static async Task<EventStream> OpenAsync(HttpClient http, string path, string? lastEventId = null)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, path);
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("text/event-stream"));
        if (lastEventId is not null) request.Headers.Add("Last-Event-ID", lastEventId);
        var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"event source answered {response.StatusCode}");
        return new EventStream(response, new StreamReader(await response.Content.ReadAsStreamAsync()));
    }

    /// <summary>The next event of <paramref name="type"/> (others are skipped) within <paramref name="timeout"/>.</summary>
    public async Task<ServerEvent> NextAsync(string type, TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        while (true)
        {
            var e = await ReadEventAsync(cts.Token) ?? throw new InvalidOperationException("the event stream ended");
            if (e.Type == type) return e;
        }
    }

    /// <summary>True when the server ends the stream within <paramref name="timeout"/> (events before the end are skipped).</summary>
    public async Task<bool> EndedAsync(TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            while (await ReadEventAsync(cts.Token) is not null)
            {
            }
            return true;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
        catch (IOException)
        {
            return true;
        }
        catch (HttpRequestException)
        {
            return true;
        }
    }

    private async Task<ServerEvent?> ReadEventAsync(CancellationToken ct)
    {
        string type = "message", data = "";
        string? id = null;
        var any = false;
        while (await _reader.ReadLineAsync(ct) is { } line)
        {
            if (line.Length == 0)
            {
                if (any) return new ServerEvent(type, id, data);
                continue;
            }
            if (line.StartsWith(':')) continue;
            any = true;
            var colon = line.IndexOf(':');
            var field = colon < 0 ? line : line[..colon];
            var value = colon < 0 ? "" : line[(colon + 1)..].TrimStart(' ');
            switch (field)
            {
                case "event": type = value; break;
                case "data": data = data.Length == 0 ? value : data + "\n" + value; break;
                case "id": id = value; break;
            }
        }
        return null;
    }

    public ValueTask DisposeAsync()
    {
        _reader.Dispose();
        _response.Dispose();
        return ValueTask.CompletedTask;
    }
}

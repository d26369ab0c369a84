using System.Net.WebSockets;
using System.Text;
using System.Text.Json.Nodes;
using GrainMail.Gateways.Jmap.Methods;
using GrainMail.Gateways.Jmap.Protocol;
using GrainMail.Gateways.Jmap.Session;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace GrainMail.Gateways.Jmap.Push;

/// <summary>
/// <c>GET /jmap/ws</c>: JMAP over WebSocket (RFC 8887), subprotocol "jmap". Requests run through
/// the same dispatcher as <c>POST /jmap/api</c> and may overlap (responses carry the request's id);
/// WebSocketPushEnable/Disable turn StateChange pushes on and off. Limits: a message larger than
/// maxSizeRequest and a request beyond maxConcurrentRequests (counted with the user's HTTP requests)
/// get a RequestError of type limit (RFC 8887 4.3.4, RFC 8620 3.6.1).
/// </summary>
public static class WebSocketEndpoint
{
    public const string Path = "/jmap/ws";

    public static async Task HandleAsync(HttpContext http, AccountPushHub hub, PushConnections connections, JmapDispatcher dispatcher,
        IEnumerable<IJmapMethods> families, JmapLimits limits, JmapConcurrency concurrency, ILoggerFactory logs)
    {
        if (!await JmapEndpoints.RequireHttpsAsync(http)) return;
        if (!http.WebSockets.IsWebSocketRequest)
        {
            await JmapEndpoints.WriteProblemAsync(http, new JmapRequestError("about:blank", 400, "This URL takes a WebSocket upgrade (RFC 8887)"));
            return;
        }
        // RFC 8887 3: the client must ask for the "jmap" subprotocol.
        if (!http.WebSockets.WebSocketRequestedProtocols.Contains(WebSocketMessages.Subprotocol))
        {
            await JmapEndpoints.WriteProblemAsync(http, new JmapRequestError("about:blank", 400, "Request the \"jmap\" WebSocket subprotocol"));
            return;
        }
        using var socket = await http.WebSockets.AcceptWebSocketAsync(new WebSocketAcceptContext
        {
            SubProtocol = WebSocketMessages.Subprotocol,
            KeepAliveInterval = TimeSpan.FromSeconds(30),
        });
        var connection = new JmapWebSocketConnection(http, socket, hub, dispatcher, families.ToList(), limits, concurrency, logs.CreateLogger<JmapWebSocketConnection>());
        await using var registration = await connections.RegisterAsync(http, connection.Revoke);
        await connection.RunAsync(connections, PushConnections.SessionTokenHash(http));
    }
}

/// <summary>One JMAP WebSocket: its receive loop, the requests in flight, the push loop when enabled.</summary>
public sealed class JmapWebSocketConnection(
    HttpContext http, WebSocket socket, AccountPushHub hub, JmapDispatcher dispatcher, IReadOnlyList<IJmapMethods> families,
    JmapLimits limits, JmapConcurrency concurrency, ILogger<JmapWebSocketConnection> log)
{
    private readonly SemaphoreSlim _send = new(1, 1);
    private readonly CancellationTokenSource _closed = CancellationTokenSource.CreateLinkedTokenSource(http.RequestAborted);
    private readonly List<Task> _inFlight = [];
    private readonly Lock _pushGate = new();
    private PushFeed? _push;
    private CancellationTokenSource? _pushStop;

    public async Task RunAsync(PushConnections connections, byte[]? tokenHash)
    {
        var recheck = RecheckAsync(connections, tokenHash);
        try
        {
            await ReceiveLoopAsync();
        }
        catch (Exception e) when (e is OperationCanceledException or WebSocketException)
        {
            // The client went away or the connection was revoked.
        }
        finally
        {
            StopPush();
            await _closed.CancelAsync();
            Task[] pending;
            lock (_inFlight) pending = [.. _inFlight];
            await Task.WhenAll(pending.Append(recheck)).ContinueWith(_ => { }, TaskScheduler.Default);
            _closed.Dispose();
        }
    }

    /// <summary>The credential was revoked: a Close frame with the reason (1008, policy violation), then the socket goes.</summary>
    public void Revoke(string reason) => _ = CloseAsync(WebSocketCloseStatus.PolicyViolation, reason);

    private async Task CloseAsync(WebSocketCloseStatus status, string reason)
    {
        try
        {
            await _send.WaitAsync(TimeSpan.FromSeconds(5));
            try
            {
                if (socket.State == WebSocketState.Open)
                    await socket.CloseOutputAsync(status, reason.Length > 100 ? reason[..100] : reason, CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(5));
            }
            finally
            {
                _send.Release();
            }
        }
        catch (Exception e) when (e is WebSocketException or TimeoutException or ObjectDisposedException or OperationCanceledException)
        {
            // Closing anyway below.
        }
        await Task.Delay(TimeSpan.FromSeconds(5)).ContinueWith(_ => { }, TaskScheduler.Default);
        try
        {
            _closed.Cancel();
        }
        catch (ObjectDisposedException)
        {
            // Ended already.
        }
    }

    private async Task RecheckAsync(PushConnections connections, byte[]? tokenHash)
    {
        if (tokenHash is null) return;
        try
        {
            while (!_closed.IsCancellationRequested)
            {
                await Task.Delay(PushConnections.RecheckEvery, _closed.Token);
                if (!await connections.StillValidAsync(tokenHash))
                {
                    await CloseAsync(WebSocketCloseStatus.PolicyViolation, "The session ended");
                    return;
                }
            }
        }
        catch (OperationCanceledException)
        {
            // Connection over.
        }
    }

    private async Task ReceiveLoopAsync()
    {
        var buffer = new byte[16 * 1024];
        using var message = new MemoryStream();
        while (socket.State == WebSocketState.Open)
        {
            message.SetLength(0);
            var tooLarge = false;
            ValueWebSocketReceiveResult r;
            do
            {
                r = await socket.ReceiveAsync(buffer.AsMemory(), _closed.Token);
                if (r.MessageType == WebSocketMessageType.Close)
                {
                    if (socket.State == WebSocketState.CloseReceived)
                    {
                        await _send.WaitAsync(_closed.Token);
                        try
                        {
                            await socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, null, _closed.Token);
                        }
                        finally
                        {
                            _send.Release();
                        }
                    }
                    return;
                }
                // maxSizeRequest holds per message (RFC 8887 4.2): the rest of a larger one is read and dropped.
                if (tooLarge) continue;
                if (message.Length + r.Count > limits.MaxSizeRequest)
                {
                    tooLarge = true;
                    message.SetLength(0);
                    continue;
                }
                message.Write(buffer, 0, r.Count);
            }
            while (!r.EndOfMessage);
            if (tooLarge)
            {
                await SendAsync(WebSocketMessages.RequestError(null, WebSocketMessages.TooLarge(null, limits).Error));
                continue;
            }
            if (r.MessageType != WebSocketMessageType.Text)
            {
                await SendAsync(WebSocketMessages.RequestError(null, new JmapRequestError(JmapErrors.NotRequest, 400, "JMAP messages are text frames (RFC 8887 4.1)")));
                continue;
            }
            switch (WebSocketMessages.Parse(message.GetBuffer().AsSpan(0, (int)message.Length), dispatcher.Capabilities, limits))
            {
                case WebSocketBadMessage bad:
                    await SendAsync(WebSocketMessages.RequestError(bad.Id, bad.Error));
                    break;
                case WebSocketRequest request:
                    await StartRequestAsync(request);
                    break;
                case WebSocketPushEnable enable:
                    await EnablePushAsync(enable);
                    break;
                case WebSocketPushDisable:
                    StopPush();
                    break;
            }
        }
    }

    private async Task StartRequestAsync(WebSocketRequest message)
    {
        var username = JmapEndpoints.UsernameOf(http.User);
        var slot = concurrency.TryEnter("req:" + username, limits.MaxConcurrentRequests);
        if (slot is null)
        {
            await SendAsync(WebSocketMessages.RequestError(message.Id, new JmapRequestError(JmapErrors.Limit, 400,
                $"More than maxConcurrentRequests ({limits.MaxConcurrentRequests}) requests at once", "maxConcurrentRequests")));
            return;
        }
        Task running = null!;
        running = Task.Run(async () =>
        {
            try
            {
                var accounts = await JmapEndpoints.AccountsOfAsync(http.User, http.RequestServices.GetRequiredService<IGrainFactory>());
                var request = message.Request;
                var context = new JmapRequestContext(username, accounts, request.Using.ToHashSet(StringComparer.Ordinal), limits,
                    request.CreatedIds is { } given ? new Dictionary<string, string>(given) : [], http.RequestServices, _closed.Token)
                { ClientIp = JmapEndpoints.ClientIpOf(http) };
                var baseUrl = JmapEndpoints.BaseUrl(http.Request);
                var sessionState = (string)SessionResource.Build(username, accounts, families, limits, baseUrl)["state"]!;
                var response = await dispatcher.ExecuteAsync(request, context, sessionState);
                await SendAsync(WebSocketMessages.Response(message.Id, response));
            }
            catch (Exception e) when (e is OperationCanceledException or WebSocketException or ObjectDisposedException)
            {
                // The connection ended while the request ran.
            }
            catch (Exception e)
            {
                log.LogError(e, "A JMAP request over WebSocket failed");
            }
            finally
            {
                slot.Dispose();
                lock (_inFlight) _inFlight.Remove(running!);
            }
        });
        lock (_inFlight)
        {
            if (!running.IsCompleted) _inFlight.Add(running);
        }
    }

    private async Task EnablePushAsync(WebSocketPushEnable enable)
    {
        StopPush();
        // The personal account and every account delegated to the user (RFC 8620 2: isPersonal false).
        var grains = http.RequestServices.GetRequiredService<IGrainFactory>();
        var subscription = await PushFeed.OpenAsync(hub, await JmapEndpoints.AccountsOfAsync(http.User, grains));
        var stop = CancellationTokenSource.CreateLinkedTokenSource(_closed.Token);
        lock (_pushGate)
        {
            _push = subscription;
            _pushStop = stop;
        }
        // RFC 8887 4.3.5: with a pushState the server sends what changed since then at once; without
        // one, the client has its states and hears of the next change.
        var sent = subscription.Current;
        if (enable.PushState is { } from && sent is not null && from != sent.Digest) sent = null;
        _ = PushLoopAsync(subscription, grains, enable.DataTypes, sent, stop.Token);
    }

    private async Task PushLoopAsync(PushFeed subscription, IGrainFactory grains, IReadOnlySet<string>? types, FeedStates? sent, CancellationToken ct)
    {
        try
        {
            var nextAccounts = DateTimeOffset.UtcNow + PushConnections.AccountsEvery;
            while (!ct.IsCancellationRequested)
            {
                if (subscription.Current is { } now && (sent is null || now.Digest != sent.Digest))
                {
                    var changed = PushFeed.Changed(now, sent, types);
                    // A delegated account's changes go out only while the delegation stands.
                    if (await PushConnections.DropRevokedAsync(http, grains, subscription, changed)) continue;
                    sent = now;
                    if (StateChanges.Build(changed, now.Digest) is { } change) await SendAsync(change, ct);
                    continue;
                }
                var wait = nextAccounts - DateTimeOffset.UtcNow;
                if (wait > TimeSpan.Zero && await subscription.WaitAsync(wait, ct)) continue;
                await PushConnections.RefreshAccountsAsync(http, grains, subscription);
                nextAccounts = DateTimeOffset.UtcNow + PushConnections.AccountsEvery;
            }
        }
        catch (Exception e) when (e is OperationCanceledException or WebSocketException or ObjectDisposedException)
        {
            // Push disabled or the connection ended.
        }
    }

    private void StopPush()
    {
        PushFeed? push;
        CancellationTokenSource? stop;
        lock (_pushGate)
        {
            (push, stop) = (_push, _pushStop);
            (_push, _pushStop) = (null, null);
        }
        if (stop is not null)
        {
            try
            {
                stop.Cancel();
            }
            catch (ObjectDisposedException)
            {
                // The connection's token went already.
            }
            stop.Dispose();
        }
        push?.Dispose();
    }

    private Task SendAsync(JsonObject message) => SendAsync(message, _closed.Token);

    private async Task SendAsync(JsonObject message, CancellationToken ct)
    {
        var bytes = Encoding.UTF8.GetBytes(message.ToJsonString());
        await _send.WaitAsync(ct);
        try
        {
            if (socket.State is WebSocketState.Open or WebSocketState.CloseReceived)
                await socket.SendAsync(bytes, WebSocketMessageType.Text, endOfMessage: true, ct);
        }
        finally
        {
            _send.Release();
        }
    }
}

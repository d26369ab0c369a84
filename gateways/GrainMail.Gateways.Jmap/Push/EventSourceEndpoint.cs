using System.Text;
using GrainMail.Gateways.Http.UserAuth;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Primitives;

namespace GrainMail.Gateways.Jmap.Push;

/// <summary>
/// <c>GET /jmap/eventsource?types=&amp;closeafter=&amp;ping=</c> (RFC 8620 7.3): a text/event-stream of
/// "state" events, each a StateChange (7.1) for the account whose states are those /get answers,
/// with the digest of the states as event id (a reconnect presenting a stale Last-Event-ID gets the
/// current states at once), and "ping" events when asked.
/// </summary>
public static class EventSourceEndpoint
{
    /// <summary>
    /// The query parameter a browser's EventSource uses for the session token: the EventSource API
    /// cannot set request headers, so the webmail could not authenticate otherwise. Accepted on this
    /// URL only (every other JMAP URL reads the Authorization header alone), only as a bearer session
    /// token (never a password), and removed from the request's query once read so nothing after
    /// authentication logs it. The host logs ASP.NET Core's request lines at Warning and above only,
    /// so the query string is not written by the framework either.
    /// </summary>
    public const string AccessTokenParameter = "access_token";

    public static async Task HandleAsync(HttpContext http, AccountPushHub hub, PushConnections connections, IGrainFactory grains)
    {
        if (!await JmapEndpoints.RequireHttpsAsync(http)) return;
        if (!await AuthenticateAsync(http)) return;
        var (query, error) = EventSourceQuery.Parse(http.Request.Query["types"], http.Request.Query["closeafter"], http.Request.Query["ping"]);
        if (query is null)
        {
            await JmapEndpoints.WriteProblemAsync(http, new Protocol.JmapRequestError("about:blank", 400, error!));
            return;
        }
        using var closed = CancellationTokenSource.CreateLinkedTokenSource(http.RequestAborted);
        await using var registration = await connections.RegisterAsync(http, _ => Cancel(closed));
        var tokenHash = PushConnections.SessionTokenHash(http);
        // The personal account and every account delegated to the user (RFC 8620 2: isPersonal false).
        using var feed = await PushFeed.OpenAsync(hub, await JmapEndpoints.AccountsOfAsync(http.User, grains));

        http.Features.Get<IHttpResponseBodyFeature>()?.DisableBuffering();
        http.Response.StatusCode = 200;
        http.Response.ContentType = "text/event-stream; charset=utf-8";
        http.Response.Headers.CacheControl = "no-cache, no-store";
        http.Response.Headers["X-Accel-Buffering"] = "no";
        await http.Response.StartAsync(closed.Token);
        await http.Response.Body.FlushAsync(closed.Token);

        // Without Last-Event-ID the client has just read its states: push the next change, not this
        // one (closeafter=state is then a long poll). With a stale one, the client missed changes.
        var sent = feed.Current;
        if (http.Request.Headers["Last-Event-ID"].ToString() is { Length: > 0 } lastId && sent is not null && lastId != sent.Digest) sent = null;
        // RFC 8620 7.3: a ping whenever the interval passes since the previous event of any kind.
        var ping = query.PingSeconds > 0 ? TimeSpan.FromSeconds(query.PingSeconds) : (TimeSpan?)null;
        var nextPing = ping is { } p0 ? DateTimeOffset.UtcNow + p0 : DateTimeOffset.MaxValue;
        var nextRecheck = DateTimeOffset.UtcNow + PushConnections.RecheckEvery;
        var nextAccounts = DateTimeOffset.UtcNow + PushConnections.AccountsEvery;
        try
        {
            while (!closed.IsCancellationRequested)
            {
                if (feed.Current is { } now && (sent is null || now.Digest != sent.Digest))
                {
                    var changed = PushFeed.Changed(now, sent, query.Types);
                    // A delegated account's changes go out only while the delegation stands (asked now, as every API request asks).
                    if (await PushConnections.DropRevokedAsync(http, grains, feed, changed)) continue;
                    sent = now;
                    if (StateChanges.Build(changed) is { } change)
                    {
                        await WriteAsync(http, StateChanges.Event("state", now.Digest, change.ToJsonString()), closed.Token);
                        if (query.CloseAfterState) return;
                        if (ping is { } p1) nextPing = DateTimeOffset.UtcNow + p1;
                    }
                }
                var until = new[] { nextPing, nextRecheck, nextAccounts }.Min();
                var wait = until - DateTimeOffset.UtcNow;
                if (wait > TimeSpan.Zero && await feed.WaitAsync(wait, closed.Token)) continue;
                if (DateTimeOffset.UtcNow >= nextAccounts)
                {
                    await PushConnections.RefreshAccountsAsync(http, grains, feed);
                    nextAccounts = DateTimeOffset.UtcNow + PushConnections.AccountsEvery;
                }
                if (ping is { } p2 && DateTimeOffset.UtcNow >= nextPing)
                {
                    await WriteAsync(http, StateChanges.Ping(query.PingSeconds), closed.Token);
                    nextPing = DateTimeOffset.UtcNow + p2;
                }
                if (DateTimeOffset.UtcNow >= nextRecheck)
                {
                    if (!await connections.StillValidAsync(tokenHash)) return;
                    nextRecheck = DateTimeOffset.UtcNow + PushConnections.RecheckEvery;
                }
            }
        }
        catch (OperationCanceledException)
        {
            // The client went away, or the credential was revoked: the response ends.
        }
    }

    private static void Cancel(CancellationTokenSource cts)
    {
        try
        {
            cts.Cancel();
        }
        catch (ObjectDisposedException)
        {
            // The stream has ended already.
        }
    }

    private static async Task WriteAsync(HttpContext http, string text, CancellationToken ct)
    {
        await http.Response.Body.WriteAsync(Encoding.UTF8.GetBytes(text), ct);
        await http.Response.Body.FlushAsync(ct);
    }

    /// <summary>The account scheme, with the query's access_token standing in for a missing Authorization header.</summary>
    private static async Task<bool> AuthenticateAsync(HttpContext http)
    {
        var query = http.Request.Query;
        if (query.TryGetValue(AccessTokenParameter, out var token))
        {
            if (string.IsNullOrEmpty(http.Request.Headers.Authorization) && token.Count == 1 && !string.IsNullOrEmpty(token[0]))
                http.Request.Headers.Authorization = "Bearer " + token[0];
            var rest = query.Where(kv => kv.Key != AccessTokenParameter).Select(kv => KeyValuePair.Create(kv.Key, kv.Value));
            http.Request.QueryString = QueryString.Create(rest);
        }
        var result = await http.AuthenticateAsync(AccountAuth.Scheme);
        if (result.Succeeded && result.Principal.FindFirst(AccountAuth.AddressClaim) is not null)
        {
            http.User = result.Principal;
            return true;
        }
        await http.ChallengeAsync(AccountAuth.Scheme);
        return false;
    }
}

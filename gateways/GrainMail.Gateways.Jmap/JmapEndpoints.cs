using System.Collections.Concurrent;
using System.Security.Claims;
using System.Text.Json;
using System.Text.Json.Nodes;
using GrainMail.Gateways.Http.UserAuth;
using GrainMail.Gateways.Jmap.Methods;
using GrainMail.Gateways.Jmap.Protocol;
using GrainMail.Gateways.Jmap.Session;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace GrainMail.Gateways.Jmap;

/// <summary>
/// JMAP on the users' HTTPS listener: the session resource, the API endpoint, blob upload and
/// download. Authentication is the account scheme of /api/v1/me (a session bearer token, or Basic
/// with an app password); everything here refuses plain HTTP.
/// </summary>
public static class JmapEndpoints
{
    public static IServiceCollection AddGrainMailJmap(this IServiceCollection services)
    {
        services.AddSingleton(new JmapLimits());
        services.AddSingleton<JmapDispatcher>();
        services.AddSingleton<JmapConcurrency>();
        services.AddJmapMethods<CoreMethods>();
        Mail.MailRegistration.AddJmapMail(services);
        Push.PushEndpoints.AddJmapPush(services); // EventSource and WebSocket push (Push/)
        return services;
    }

    public static WebApplication MapGrainMailJmap(this WebApplication app)
    {
        app.MapGet(JmapPaths.WellKnown, SessionAsync).RequireAuthorization(AccountAuth.Policy).ExcludeFromDescription();
        // Read once: the API path asks on every request whether to send the process's GC figures.
        var serverTimingGc = app.Configuration.GetValue("GrainMail:Jmap:ServerTimingGc", false);
        app.MapPost(JmapPaths.Api, (HttpContext http, JmapDispatcher dispatcher, IEnumerable<IJmapMethods> families, JmapLimits limits, JmapConcurrency concurrency, IGrainFactory grains) =>
            ApiAsync(http, dispatcher, families, limits, concurrency, grains, serverTimingGc)).RequireAuthorization(AccountAuth.Policy).ExcludeFromDescription();
        Mail.BlobEndpoints.Map(app);
        Push.PushEndpoints.MapJmapPush(app);
        return app;
    }

    /// <summary>The accounts the user sees: the mailbox the credentials act for (a delegate's act-for mailbox included).</summary>
    public static IReadOnlyList<JmapAccount> AccountsOf(ClaimsPrincipal user)
    {
        var mailbox = user.Address();
        var authenticated = user.FindFirstValue(AccountAuth.AuthenticatedClaim) ?? mailbox;
        return [new JmapAccount(JmapAccountIds.Of(mailbox), mailbox, mailbox, IsPersonal: true, IsReadOnly: false)];
    }

    /// <summary>
    /// The accounts of <see cref="AccountsOf"/> plus, for a user logged in as himself, each mailbox
    /// delegated to him (issue 16/17's delegation: he may log in for it, so he may reach it here):
    /// isPersonal false, read-write, as RFC 8620 2 describes shared accounts. Asked on every request,
    /// so a removed delegation stops access at once, like the sessions RemoveDelegate ends.
    /// </summary>
    public static async Task<IReadOnlyList<JmapAccount>> AccountsOfAsync(ClaimsPrincipal user, IGrainFactory grains)
    {
        var personal = AccountsOf(user);
        var mailbox = user.Address();
        // A delegate who logged in for one mailbox (authzid / act-for) acts as its owner: that mailbox only.
        if ((user.FindFirstValue(AccountAuth.AuthenticatedClaim) ?? mailbox) != mailbox) return personal;
        var delegations = await grains.GetGrain<GrainMail.Contracts.Accounts.IAccountAccessGrain>(mailbox).Delegations();
        var owners = delegations.Where(d => d.Delegate.Equals(mailbox, StringComparison.OrdinalIgnoreCase) && !d.Owner.Equals(mailbox, StringComparison.OrdinalIgnoreCase))
            .Select(d => d.Owner.ToLowerInvariant()).Distinct().Order(StringComparer.Ordinal).ToList();
        if (owners.Count == 0) return personal;
        return [.. personal, .. owners.Select(o => new JmapAccount(JmapAccountIds.Of(o), o, o, IsPersonal: false, IsReadOnly: false))];
    }

    public static string UsernameOf(ClaimsPrincipal user) => user.FindFirstValue(AccountAuth.AuthenticatedClaim) ?? user.Address();

    private static async Task SessionAsync(HttpContext http, IEnumerable<IJmapMethods> families, JmapLimits limits, IGrainFactory grains)
    {
        if (!await RequireHttpsAsync(http)) return;
        var session = SessionResource.Build(UsernameOf(http.User), await AccountsOfAsync(http.User, grains), families, limits, BaseUrl(http.Request));
        http.Response.Headers.CacheControl = "no-cache, no-store, must-revalidate";
        await WriteJsonAsync(http, 200, "application/json", session);
    }

    private static async Task ApiAsync(HttpContext http, JmapDispatcher dispatcher, IEnumerable<IJmapMethods> families, JmapLimits limits, JmapConcurrency concurrency, IGrainFactory grains, bool serverTimingGc)
    {
        if (!await RequireHttpsAsync(http)) return;
        var body = await ReadBodyAsync(http.Request, limits.MaxSizeRequest);
        if (body is null)
        {
            await WriteProblemAsync(http, new JmapRequestError(JmapErrors.Limit, 400, $"The request is larger than maxSizeRequest ({limits.MaxSizeRequest} octets)", "maxSizeRequest"));
            return;
        }
        var (request, error) = JmapRequestParser.Parse(body, dispatcher.Capabilities, limits);
        if (error is not null)
        {
            await WriteProblemAsync(http, error);
            return;
        }
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        var pauses = GC.GetTotalPauseDuration();
        var collections = (GC.CollectionCount(0), GC.CollectionCount(1), GC.CollectionCount(2));
        var accounts = await AccountsOfAsync(http.User, grains);
        using var slot = concurrency.TryEnter("req:" + UsernameOf(http.User), limits.MaxConcurrentRequests);
        if (slot is null)
        {
            await WriteProblemAsync(http, new JmapRequestError(JmapErrors.Limit, 400, $"More than maxConcurrentRequests ({limits.MaxConcurrentRequests}) requests at once", "maxConcurrentRequests"));
            return;
        }
        var context = new JmapRequestContext(UsernameOf(http.User), accounts, request!.Using.ToHashSet(StringComparer.Ordinal), limits,
            request.CreatedIds is { } given ? new Dictionary<string, string>(given) : [], http.RequestServices, http.RequestAborted)
        { ClientIp = ClientIpOf(http) };
        var sessionState = (string)SessionResource.Build(UsernameOf(http.User), accounts, families, limits, BaseUrl(http.Request))["state"]!;
        context.Timings.Since("auth", started);
        var response = await dispatcher.ExecuteAsync(request, context, sessionState);
        context.Timings.Since("app", started);
        // The process's GC pauses and collections while this request ran (other requests' too: a pause stops all).
        // They tell of other users' load on the node, so a user sees them only where the operator turned them on
        // (GrainMail:Jmap:ServerTimingGc; the benchmark does); the request's own parts are always sent.
        if (serverTimingGc)
        {
            context.Timings.Add("gcpause", (GC.GetTotalPauseDuration() - pauses).TotalMilliseconds);
            context.Timings.Add("gc0", GC.CollectionCount(0) - collections.Item1);
            context.Timings.Add("gc1", GC.CollectionCount(1) - collections.Item2);
            context.Timings.Add("gc2", GC.CollectionCount(2) - collections.Item3);
        }
        http.Response.Headers["Server-Timing"] = context.Timings.Header();
        await WriteJsonAsync(http, 200, "application/json", response);
    }

    /// <summary>The remote address as the audit log writes it (IPv4 without its IPv6 mapping).</summary>
    internal static string ClientIpOf(HttpContext http) =>
        http.Connection.RemoteIpAddress is { } a ? (a.IsIPv4MappedToIPv6 ? a.MapToIPv4() : a).ToString() : "";

    internal static async Task<bool> RequireHttpsAsync(HttpContext http)
    {
        if (http.Request.IsHttps) return true;
        await WriteJsonAsync(http, 403, "application/problem+json",
            new JsonObject { ["type"] = "about:blank", ["status"] = 403, ["title"] = "HTTPS required", ["detail"] = "JMAP is served on the HTTPS listener only" });
        return false;
    }

    /// <summary>
    /// The body, or null when it is larger than <paramref name="limit"/>. RFC 8620 3.6.1 wants the
    /// `limit` problem for an oversized request, and the client (HTTP/1.1) is still sending when we
    /// know: answering and closing with its bytes unread makes the kernel reset the connection, and the
    /// client loses the answer in a broken pipe. So the rest is read and dropped (never stored), with
    /// Kestrel's own body-size limit (30 MB by default, which would end the connection the same way)
    /// raised for this request to <see cref="DrainBound"/>. Only a body declared larger than that is
    /// answered at once, with "Connection: close".
    /// </summary>
    internal static async Task<byte[]?> ReadBodyAsync(HttpRequest request, long limit)
    {
        if (request.ContentLength > limit)
        {
            await DrainAsync(request, limit);
            return null;
        }
        RaiseBodyLimit(request, limit);
        using var buffer = new MemoryStream();
        var chunk = new byte[64 * 1024];
        int read;
        while ((read = await request.Body.ReadAsync(chunk, request.HttpContext.RequestAborted)) > 0)
        {
            if (buffer.Length + read > limit)
            {
                await DrainAsync(request, limit);
                return null;
            }
            buffer.Write(chunk, 0, read);
        }
        return buffer.ToArray();
    }

    /// <summary>Lets Kestrel accept a body up to <see cref="DrainBound"/> for this request (its own default would reset the connection first).</summary>
    internal static void RaiseBodyLimit(HttpRequest request, long limit)
    {
        if (request.HttpContext.Features.Get<Microsoft.AspNetCore.Http.Features.IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } size)
            size.MaxRequestBodySize = DrainBound(limit);
    }

    /// <summary>
    /// Reads and drops the rest of a body that is over its limit, so that the answer that follows
    /// reaches the client. A body declared larger than <see cref="DrainBound"/> is not read: the
    /// answer then says "Connection: close".
    /// </summary>
    internal static async Task DrainAsync(HttpRequest request, long limit)
    {
        var bound = DrainBound(limit);
        if (request.ContentLength > bound)
        {
            request.HttpContext.Response.Headers.Connection = "close";
            return;
        }
        RaiseBodyLimit(request, limit);
        var chunk = new byte[64 * 1024];
        try
        {
            while (await request.Body.ReadAsync(chunk, request.HttpContext.RequestAborted) > 0)
            {
                // dropped
            }
        }
        catch (Microsoft.AspNetCore.Http.BadHttpRequestException)
        {
            // Past the bound without a declared length: the connection closes after the answer.
            request.HttpContext.Response.Headers.Connection = "close";
        }
    }

    /// <summary>How much of an oversized body is read and dropped so that the client gets its answer.</summary>
    internal static long DrainBound(long limit) => Math.Max(limit * 8, 256L * 1024 * 1024);

    internal static string BaseUrl(HttpRequest request) => $"{request.Scheme}://{request.Host}{request.PathBase}";

    /// <summary>A request-level error as an RFC 7807 problem document (RFC 8620 3.6.1).</summary>
    internal static Task WriteProblemAsync(HttpContext http, JmapRequestError error)
    {
        var problem = new JsonObject { ["type"] = error.Type, ["status"] = error.Status, ["detail"] = error.Detail };
        if (error.Limit is not null) problem["limit"] = error.Limit;
        return WriteJsonAsync(http, error.Status, "application/problem+json", problem);
    }

    internal static async Task WriteJsonAsync(HttpContext http, int status, string contentType, JsonNode body)
    {
        http.Response.StatusCode = status;
        http.Response.ContentType = contentType + "; charset=utf-8";
        await using var writer = new Utf8JsonWriter(http.Response.Body);
        body.WriteTo(writer);
        await writer.FlushAsync(http.RequestAborted);
    }
}

/// <summary>Counts requests and uploads in flight per user (maxConcurrentRequests, maxConcurrentUpload).</summary>
public sealed class JmapConcurrency
{
    private readonly ConcurrentDictionary<string, int> _inFlight = new(StringComparer.Ordinal);

    public IDisposable? TryEnter(string key, int limit)
    {
        var now = _inFlight.AddOrUpdate(key, 1, (_, n) => n + 1);
        if (now <= limit) return new Slot(this, key);
        Leave(key);
        return null;
    }

    private void Leave(string key)
    {
        if (_inFlight.AddOrUpdate(key, 0, (_, n) => n - 1) <= 0) _inFlight.TryRemove(KeyValuePair.Create(key, 0));
    }

    private sealed class Slot(JmapConcurrency owner, string key) : IDisposable
    {
        private int _done;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _done, 1) == 0) owner.Leave(key);
        }
    }
}

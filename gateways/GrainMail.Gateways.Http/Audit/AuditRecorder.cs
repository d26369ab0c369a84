using System.Text.Json.Nodes;
using GrainMail.Contracts.Admin;
using GrainMail.Contracts.Audit;
using GrainMail.Gateways.Http.Integrations;
using GrainMail.Gateways.Http.Scopes;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Logging;

namespace GrainMail.Gateways.Http.Audit;

/// <summary>
/// Records every admin and integration API action (issue 16): each request to <c>/api/v1</c> that is
/// not a read, whatever its outcome — including a 403 from the scope check, which refuses in the
/// authorization middleware before any endpoint filter would run; that is why this is a middleware
/// around authorization and not an endpoint filter. Reads are not recorded, except endpoints marked
/// <see cref="AuditedRead"/> (audit export). The entry is written after the response, so a slow
/// audit write never delays the answer's status; a failed write is logged, never turned into an
/// error for a change that already happened.
/// </summary>
public sealed class AuditRecorder(RequestDelegate next, IGrainFactory grains, ILogger<AuditRecorder> logger)
{
    public async Task InvokeAsync(HttpContext http)
    {
        var endpoint = http.GetEndpoint() as RouteEndpoint;
        if (endpoint is null || !http.Request.Path.StartsWithSegments(AdminApi.Prefix) || !Audited(http.Request.Method, endpoint))
        {
            await next(http);
            return;
        }
        var failed = false;
        try
        {
            await next(http);
        }
        catch
        {
            failed = true;
            throw;
        }
        finally
        {
            await RecordAsync(http, endpoint, failed);
        }
    }

    private async Task RecordAsync(HttpContext http, RouteEndpoint endpoint, bool failed)
    {
        // A request without any credentials on a closed endpoint is refused before anyone is known:
        // not an admin action, and recording each would let anyone fill the log.
        if (AdminCaller.Of(http) is null && !http.Items.Values.OfType<VerifiedIntegration>().Any()
            && http.Response.StatusCode is 401 or 403 && endpoint.Metadata.GetMetadata<Microsoft.AspNetCore.Authorization.IAllowAnonymous>() is null)
            return;
        var entry = Describe(http, endpoint, failed ? StatusCodes.Status500InternalServerError : http.Response.StatusCode);
        try
        {
            await grains.GetGrain<IAuditGrain>(0).Append(entry);
        }
        catch (Exception e)
        {
            logger.LogError(e, "Audit entry not written: {Actor} {Action} {Target} {Result}", entry.Actor, entry.Action, entry.Target, entry.Result);
        }
    }

    private static bool Audited(string method, RouteEndpoint endpoint) =>
        !(HttpMethods.IsGet(method) || HttpMethods.IsHead(method) || HttpMethods.IsOptions(method)) || endpoint.Metadata.GetMetadata<AuditedRead>() is not null;

    /// <summary>Who, in which role, from where, did what to what, with which outcome.</summary>
    public static AuditWrite Describe(HttpContext http, RouteEndpoint endpoint, int status)
    {
        var note = AuditNote.Find(http);
        var pattern = endpoint.RoutePattern;
        var action = note?.Action ?? endpoint.Metadata.GetMetadata<AuditActionAttribute>()?.Name
            ?? AuditActionNames.Of(http.Request.Method, pattern.RawText ?? http.Request.Path.Value ?? "");

        // The route values in the route's order: domain and account as they are, others as key=value.
        string? domain = null, account = null;
        var parts = new List<string>();
        var route = new JsonObject();
        foreach (var p in pattern.Parameters)
        {
            if (http.Request.RouteValues[p.Name] is not { } v || v.ToString() is not { Length: > 0 } value) continue;
            route[p.Name] = value;
            switch (p.Name)
            {
                case "domain":
                    domain = value.ToLowerInvariant();
                    parts.Add(domain);
                    break;
                case "address" or "account":
                    account = value.ToLowerInvariant();
                    parts.Add(account);
                    break;
                default:
                    parts.Add($"{p.Name}={value}");
                    break;
            }
        }
        // An account named in the route is the target; the domain around it only says where.
        if (account is not null && domain is not null) parts.Remove(domain);
        var target = string.Join(' ', parts);

        var detail = new JsonObject
        {
            ["method"] = http.Request.Method,
            ["path"] = http.Request.Path.Value,
            ["status"] = status,
        };
        if (route.Count > 0) detail["route"] = route;
        if (http.Request.QueryString.HasValue && http.Request.Method == HttpMethods.Get) detail["query"] = http.Request.QueryString.Value;
        var location = status is >= 200 and < 300 ? http.Response.Headers.Location.ToString() : "";
        if (location.Length > 0)
        {
            detail["created"] = location;
            var last = Uri.UnescapeDataString(location.TrimEnd('/')[(location.TrimEnd('/').LastIndexOf('/') + 1)..]);
            if (last.Contains('@') || target.Length == 0) target = last;
        }

        var integration = http.Items.Values.OfType<VerifiedIntegration>().FirstOrDefault()?.Integration;
        domain ??= account is not null ? DomainOf(account) : null;
        domain ??= integration?.Domain;
        if (note is not null)
        {
            target = note.Target ?? target;
            domain = note.Domain ?? domain;
            foreach (var (k, v) in note.Detail.ToList())
            {
                note.Detail.Remove(k);
                detail[k] = v;
            }
        }
        domain ??= LooksLikeDomain(target) ? target.ToLowerInvariant() : null;

        var caller = AdminCaller.Of(http);
        var (actor, role) = integration is not null ? ($"integration:{integration.Name}", "integration")
            : caller is null ? ("anonymous", "none")
            : caller.IsSuper ? ("super", "super")
            : (caller.Account ?? "unknown", RoleIn(caller, domain));
        if (note?.Actor is { } noted) (actor, role) = (noted, note.ActorRole ?? role);
        var result = status switch
        {
            >= 200 and < 400 => "ok",
            401 or 403 => "denied",
            _ => "failed",
        };
        var ip = http.Connection.RemoteIpAddress is { } a ? (a.IsIPv4MappedToIPv6 ? a.MapToIPv4() : a).ToString() : "";
        return new AuditWrite(actor, role, ip, action, target.Length == 0 ? "-" : target, domain, result, detail.ToJsonString());
    }

    /// <summary>The role the caller acted in at the target's domain: the strongest it holds there, else what it holds anywhere.</summary>
    public static string RoleIn(AdminCaller caller, string? domain)
    {
        if (caller.Kind == SessionKind.User) return "user";
        var there = caller.Roles.Where(r => r.Domain == domain).ToList();
        var pool = there.Count > 0 ? there : caller.Roles.ToList();
        if (pool.Count == 0) return "none";
        return AdminRoleNames.Of(pool.MinBy(r => r.Role switch { AdminRoleKind.DomainAdmin => 0, AdminRoleKind.DepartmentAdmin => 1, _ => 2 })!.Role);
    }

    private static string? DomainOf(string address) => address.LastIndexOf('@') is var at and > 0 ? address[(at + 1)..] : null;

    private static bool LooksLikeDomain(string s) => s.Length > 0 && s.Contains('.') && s.AsSpan().IndexOfAny("@ =/") < 0;
}

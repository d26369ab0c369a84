using System.Text.Json;
using GrainMail.Contracts.Domains;
using GrainMail.Gateways.Http.Accounts;
using GrainMail.Gateways.Http.DirectoryAliases;
using GrainMail.Gateways.Http.Json;
using GrainMail.Gateways.Http.Problems;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace GrainMail.Gateways.Http.Audit;

/// <summary>
/// The admin group's endpoint filter that adds before/after to the audit entry of the changes
/// where an auditor asks "what was it": an account's attributes and a domain's settings. Runs
/// after the scope check (a refused request reads nothing) and around the handler, so "after" is
/// what the handler left.
/// </summary>
public sealed class AuditSnapshotFilter(IGrainFactory grains) : IEndpointFilter
{
    public async ValueTask<object?> InvokeAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        var http = context.HttpContext;
        // A department PATCH either moves or renames: the body says which, the route cannot.
        if (context.Arguments.OfType<GrainMail.Gateways.Http.Organization.UpdateDepartmentRequest>().FirstOrDefault() is { } change)
        {
            var note = AuditNote.Of(http);
            note.Action = change.ParentId is not null ? "department.move" : change.Name is not null ? "department.rename" : null;
            if (change.ParentId is { } parent) note.Detail["parentId"] = parent;
            if (change.Name is { } name) note.Detail["name"] = name;
        }
        var load = Loader(http);
        if (load is null) return await next(context);
        var before = await SafeLoad(load);
        var result = await next(context);
        var snapshot = AuditNote.Of(http);
        snapshot.Detail["before"] = before;
        snapshot.Detail["after"] = await SafeLoad(load);
        return result;
    }

    private Func<Task<JsonElement?>>? Loader(HttpContext http)
    {
        if (http.GetEndpoint() is not RouteEndpoint endpoint) return null;
        var pattern = endpoint.RoutePattern.RawText?.TrimEnd('/') ?? "";
        var method = http.Request.Method;
        var values = http.Request.RouteValues;
        if ((HttpMethods.IsPatch(method) && pattern == "/api/v1/accounts/{address}") ||
            (HttpMethods.IsPut(method) && pattern == "/api/v1/accounts/{address}/enabled"))
        {
            if (values["address"] is not string raw || !RouteNames.TryAddress(raw, out var address, out _)) return null;
            return async () => JsonSerializer.SerializeToElement(await AccountEndpoints.Describe(grains, address), AdminJsonContext.Default.AccountResponse);
        }
        if (HttpMethods.IsPatch(method) && pattern == "/api/v1/domains/{domain}")
        {
            if (values["domain"] is not string raw || !RouteNames.TryDomain(raw, out var domain, out _)) return null;
            return async () => await grains.GetGrain<IDomainGrain>(domain).GetInfo() is { } info
                ? JsonSerializer.SerializeToElement(DomainSettingsResponse.From(info), AdminJsonContext.Default.DomainSettingsResponse)
                : null;
        }
        return null;
    }

    private static async Task<System.Text.Json.Nodes.JsonNode?> SafeLoad(Func<Task<JsonElement?>> load)
    {
        try
        {
            return await load() is { } e ? System.Text.Json.Nodes.JsonNode.Parse(e.GetRawText()) : null;
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // No such account yet, or a silo hiccup: the entry still records the action.
            return null;
        }
    }
}

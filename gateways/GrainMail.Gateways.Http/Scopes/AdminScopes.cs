using GrainMail.Contracts;
using GrainMail.Contracts.Admin;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace GrainMail.Gateways.Http.Scopes;

/// <summary>
/// The one scope check: resolves a request's target (route values, or what an endpoint passes
/// from its body) to a domain and a department path, and asks <see cref="ScopeRules"/>. The
/// authorization handler calls it for every /api/v1 endpoint; endpoints declared
/// <see cref="ScopeResource.CheckedByEndpoint"/> call it themselves.
/// </summary>
public sealed class AdminScopes(IGrainFactory grains)
{
    /// <summary>Null when the caller may; otherwise the reason for the 403.</summary>
    public async Task<string?> DenialAsync(AdminCaller caller, ScopeDeclaration declaration, HttpContext http)
    {
        if (caller.IsSuper || declaration.Resource is ScopeResource.Node or ScopeResource.CheckedByEndpoint or ScopeResource.Me)
            return ScopeRules.Denial(caller, declaration, new ScopeTarget(null));
        var account = (http.GetRouteValue("address") ?? http.GetRouteValue("account")) as string;
        long? department = null;
        if (declaration.Resource == ScopeResource.Department)
        {
            if (long.TryParse(http.GetRouteValue(declaration.DepartmentRouteKey) as string, out var id)) department = id;
            else return "The department is outside your scope";
        }
        return await DenialAsync(caller, declaration, http.GetRouteValue("domain") as string, account, department);
    }

    /// <summary>
    /// The check for a target an endpoint names itself: <paramref name="domain"/> (any form),
    /// an account address, a department id. Pass the resource and access the action needs.
    /// </summary>
    public async Task<string?> DenialAsync(AdminCaller caller, ScopeDeclaration declaration, string? domain, string? account = null, long? departmentId = null)
    {
        if (caller.IsSuper) return null;
        string? address = null;
        if (account is not null)
        {
            address = MailAddress.Normalize(account);
            domain ??= address is null ? null : MailAddress.DomainOf(address);
        }
        var name = MailAddress.NormalizeDomain(domain);
        IReadOnlyList<long>? path = null;
        if (name is not null && ScopeRules.NeedsDepartmentPath(caller, name))
        {
            var access = grains.GetGrain<IAdminAccessGrain>(0);
            if (declaration.Resource == ScopeResource.Department && departmentId is { } id)
            {
                // A department of another domain is not made reachable by naming this one in the route.
                var place = await access.DepartmentPlace(id);
                path = place?.Domain == name ? place.DepartmentPath : null;
            }
            else if (declaration.Resource == ScopeResource.Account && address is not null && MailAddress.DomainOf(address) == name)
            {
                path = (await access.AccountPlace(address))?.DepartmentPath;
            }
        }
        if (declaration.Resource == ScopeResource.Account && address is not null && name is not null && MailAddress.DomainOf(address) != name)
            name = null; // an account named under another domain's route: no role reaches it
        return ScopeRules.Denial(caller, declaration, new ScopeTarget(name, address, path));
    }

    /// <summary>The same check for the current request's caller; 'no caller' is a denial.</summary>
    public Task<string?> DenialAsync(HttpContext http, ScopeResource resource, ScopeAccess access, string? domain, string? account = null, long? departmentId = null) =>
        AdminCaller.Of(http) is { } caller
            ? DenialAsync(caller, new ScopeDeclaration(resource, access), domain, account, departmentId)
            : Task.FromResult<string?>("Not authenticated");
}

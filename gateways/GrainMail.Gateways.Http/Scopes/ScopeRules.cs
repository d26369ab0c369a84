using GrainMail.Contracts.Admin;

namespace GrainMail.Gateways.Http.Scopes;

/// <summary>
/// The resolved target of a request: its domain (null when the route value is not a valid
/// name), the account, and the department path (root first) of the account's department or of
/// the department itself; null when not known or not needed.
/// </summary>
public sealed record ScopeTarget(string? Domain, string? Account = null, IReadOnlyList<long>? DepartmentPath = null);

/// <summary>The decisions of delegated administration, as pure functions over the caller's roles.</summary>
public static class ScopeRules
{
    /// <summary>Null when <paramref name="caller"/> may do it; otherwise why not (the 403's detail).</summary>
    public static string? Denial(AdminCaller caller, ScopeDeclaration declaration, ScopeTarget target)
    {
        if (caller.IsSuper) return null;
        switch (declaration.Resource)
        {
            case ScopeResource.Node:
                return "Only the super admin (the bootstrap token) may use this endpoint";
            case ScopeResource.CheckedByEndpoint:
                return null;
            case ScopeResource.Me:
                return caller.Account is null ? "This endpoint acts for the caller's own account" : null;
        }
        if (declaration.AllowSelf && declaration.Resource == ScopeResource.Account && target.Account is not null && target.Account == caller.Account)
            return null;
        if (target.Domain is null) return "The target is outside your scope";
        if (caller.Roles.Any(r => Covers(r, declaration.Resource, declaration.Access, target))) return null;
        if (declaration.Access == ScopeAccess.Write && caller.Roles.Any(r => Covers(r, declaration.Resource, ScopeAccess.Read, target)))
            return "Your role over this target only reads (auditor)";
        return $"{Describe(declaration.Resource, target)} is outside your scope ({string.Join(", ", caller.Roles.Select(AdminCaller.RoleText).DefaultIfEmpty("no admin role"))})";
    }

    /// <summary>Whether one role reaches the target for the given access.</summary>
    public static bool Covers(AdminRoleGrant role, ScopeResource resource, ScopeAccess access, ScopeTarget target)
    {
        if (access == ScopeAccess.Write && role.Role == AdminRoleKind.Auditor) return false;
        if (role.Domain != target.Domain) return false;
        return resource switch
        {
            ScopeResource.Domain => role.DomainWide,
            ScopeResource.DomainOverview => access == ScopeAccess.Read || role.DomainWide,
            ScopeResource.Department or ScopeResource.Account =>
                role.DomainWide || (role.DepartmentId is { } d && target.DepartmentPath is { } path && path.Contains(d)),
            _ => false,
        };
    }

    /// <summary>
    /// Who may grant or revoke a role: the super admin anything; a domain admin department admins
    /// and auditors inside its own domain (never another domain admin: that is the operator's act).
    /// </summary>
    public static string? GrantDenial(AdminCaller caller, AdminRoleKind role, string domain)
    {
        if (caller.IsSuper) return null;
        var domainAdmin = caller.Roles.Any(r => r.Role == AdminRoleKind.DomainAdmin && r.Domain == domain);
        if (!domainAdmin) return $"Only the super admin or a domain admin of {domain} grants and revokes roles in it";
        return role == AdminRoleKind.DomainAdmin ? "Only the super admin grants and revokes domain-admin" : null;
    }

    /// <summary>Whether the caller may see a grant: its own, or one inside a scope it holds.</summary>
    public static bool MaySee(AdminCaller caller, AdminRoleGrant grant) =>
        caller.IsSuper || grant.Account == caller.Account || caller.Roles.Any(r => r.Domain == grant.Domain &&
            (r.DomainWide || (r.DepartmentId is { } d && grant.DepartmentPath.Contains(d))));

    /// <summary>Whether the target's department path must be read for the decision: the caller holds a department role in its domain.</summary>
    public static bool NeedsDepartmentPath(AdminCaller caller, string domain) =>
        !caller.IsSuper && caller.Roles.Any(r => r.Domain == domain && !r.DomainWide);

    private static string Describe(ScopeResource resource, ScopeTarget t) => resource switch
    {
        ScopeResource.Account when t.Account is not null => t.Account,
        ScopeResource.Department => $"The department in {t.Domain}",
        _ => $"Domain {t.Domain}",
    };
}

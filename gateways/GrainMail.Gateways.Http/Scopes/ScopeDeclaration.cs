using Microsoft.AspNetCore.Builder;

namespace GrainMail.Gateways.Http.Scopes;

/// <summary>What an endpoint acts on, for the scope check (see docs/architecture.md, "Delegated administration").</summary>
public enum ScopeResource
{
    /// <summary>Node-wide (queues, links, dead letters, route placement, domain creation): the super admin only.</summary>
    Node,

    /// <summary>A whole domain, route value <c>{domain}</c>: roles over the whole domain.</summary>
    Domain,

    /// <summary>
    /// A domain's shared view, route value <c>{domain}</c> (its settings, its department tree):
    /// read by any role inside the domain, department roles included; written like <see cref="Domain"/>.
    /// </summary>
    DomainOverview,

    /// <summary>A department, route value <c>{departmentId}</c> (or the declared key) with <c>{domain}</c>: its subtree's roles and the domain's.</summary>
    Department,

    /// <summary>An account, route value <c>{address}</c> or <c>{account}</c>: roles over its domain or over a department above it.</summary>
    Account,

    /// <summary>The caller's own account (user-level API such as <c>me/...</c>): any session; not the bootstrap token, which has no account.</summary>
    Me,

    /// <summary>Any authenticated caller; the endpoint checks the scope itself with <see cref="AdminScopes"/> (targets in the body, filtered lists).</summary>
    CheckedByEndpoint,
}

public enum ScopeAccess
{
    Read,
    Write,
}

/// <param name="AllowSelf">An <see cref="ScopeResource.Account"/> endpoint the account itself may call with its own session (user-level API).</param>
/// <param name="DepartmentRouteKey">The route value that holds the department id of a <see cref="ScopeResource.Department"/> endpoint.</param>
public sealed record ScopeDeclaration(ScopeResource Resource, ScopeAccess Access, bool AllowSelf = false, string DepartmentRouteKey = "departmentId")
{
    /// <summary>What an endpoint without a declaration gets: closed to everyone but the super admin.</summary>
    public static readonly ScopeDeclaration Undeclared = new(ScopeResource.Node, ScopeAccess.Write);
}

/// <summary>
/// How an endpoint declares its scope: one call on its route builder, e.g.
/// <c>g.MapGet("/{id}", Get).Scope(ScopeResource.Department, ScopeAccess.Read, departmentRouteKey: "id")</c>.
/// </summary>
public static class ScopeEndpointExtensions
{
    public static TBuilder Scope<TBuilder>(this TBuilder builder, ScopeResource resource, ScopeAccess access,
        bool allowSelf = false, string departmentRouteKey = "departmentId") where TBuilder : IEndpointConventionBuilder =>
        builder.WithMetadata(new ScopeDeclaration(resource, access, allowSelf, departmentRouteKey));

    public static TBuilder Reads<TBuilder>(this TBuilder builder, ScopeResource resource, bool allowSelf = false) where TBuilder : IEndpointConventionBuilder =>
        builder.Scope(resource, ScopeAccess.Read, allowSelf);

    public static TBuilder Writes<TBuilder>(this TBuilder builder, ScopeResource resource, bool allowSelf = false) where TBuilder : IEndpointConventionBuilder =>
        builder.Scope(resource, ScopeAccess.Write, allowSelf);

    /// <summary>Super admin only (the same as no declaration, said out loud).</summary>
    public static TBuilder NodeWide<TBuilder>(this TBuilder builder) where TBuilder : IEndpointConventionBuilder =>
        builder.Scope(ScopeResource.Node, ScopeAccess.Write);
}

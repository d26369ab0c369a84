using GrainMail.Contracts.Admin;
using Microsoft.AspNetCore.Http;

namespace GrainMail.Gateways.Http.Scopes;

/// <summary>
/// Who is calling the admin API: the super admin (the bootstrap token), or an account through a
/// session token with the roles it holds at this request (read fresh on every request, so a
/// removed role stops working at once).
/// </summary>
/// <param name="Restrictions">The session's login restrictions as read by this request's session check (null: not read).</param>
public sealed record AdminCaller(bool IsSuper, string? Account, SessionKind? Kind, IReadOnlyList<AdminRoleGrant> Roles,
    GrainMail.Contracts.Accounts.LoginRestriction? Restrictions = null)
{
    private const string ItemKey = "grainmail.admin-caller";

    public static readonly AdminCaller Super = new(true, null, null, []);

    public static AdminCaller FromSession(SessionPrincipal p) => new(false, p.Account, p.Kind, p.Roles, p.Restrictions);

    /// <summary>The caller the authentication handler found for this request; null when none.</summary>
    public static AdminCaller? Of(HttpContext http) => http.Items.TryGetValue(ItemKey, out var c) ? c as AdminCaller : null;

    public void AttachTo(HttpContext http) => http.Items[ItemKey] = this;

    /// <summary>Domains in which the caller holds any role (every domain for the super admin: null).</summary>
    public IReadOnlySet<string>? Domains => IsSuper ? null : Roles.Select(r => r.Domain).ToHashSet(StringComparer.Ordinal);

    public bool HasDomainWideRole(string domain, bool write) =>
        IsSuper || Roles.Any(r => r.Domain == domain && r.DomainWide && (!write || r.Role != AdminRoleKind.Auditor));

    public string Describe() => IsSuper ? "super admin" : $"{Account} ({(Roles.Count == 0 ? "no role" : string.Join(", ", Roles.Select(RoleText)))})";

    public static string RoleText(AdminRoleGrant r) =>
        $"{AdminRoleNames.Of(r.Role)} of {r.Domain}{(r.DepartmentId is { } d ? $" department {d}" : "")}";
}

namespace GrainMail.Contracts.Admin;

/// <summary>
/// The delegated roles (issue 15, 4.2.4). The super admin is the bootstrap token and has no
/// row; these are held by accounts, each over a domain or a department subtree.
/// </summary>
public enum AdminRoleKind
{
    /// <summary>Everything inside one domain.</summary>
    DomainAdmin,

    /// <summary>Accounts and departments of one department's subtree.</summary>
    DepartmentAdmin,

    /// <summary>Reads (logs included) over a domain or a department subtree; never writes.</summary>
    Auditor,
}

public static class AdminRoleNames
{
    public const string DomainAdmin = "domain-admin";
    public const string DepartmentAdmin = "department-admin";
    public const string Auditor = "auditor";

    public static string Of(AdminRoleKind kind) => kind switch
    {
        AdminRoleKind.DomainAdmin => DomainAdmin,
        AdminRoleKind.DepartmentAdmin => DepartmentAdmin,
        _ => Auditor,
    };

    public static bool TryParse(string? text, out AdminRoleKind kind)
    {
        switch (text?.Trim().ToLowerInvariant())
        {
            case DomainAdmin: kind = AdminRoleKind.DomainAdmin; return true;
            case DepartmentAdmin: kind = AdminRoleKind.DepartmentAdmin; return true;
            case Auditor: kind = AdminRoleKind.Auditor; return true;
            default: kind = default; return false;
        }
    }
}

/// <param name="DepartmentId">Null: the whole domain.</param>
/// <param name="DepartmentPath">Ids from the domain's root department down to <paramref name="DepartmentId"/>; empty for a domain-wide role.</param>
[GenerateSerializer, Immutable]
public sealed record AdminRoleGrant(
    [property: Id(0)] long Id,
    [property: Id(1)] string Account,
    [property: Id(2)] AdminRoleKind Role,
    [property: Id(3)] string Domain,
    [property: Id(4)] long? DepartmentId,
    [property: Id(5)] IReadOnlyList<long> DepartmentPath,
    [property: Id(6)] string GrantedBy,
    [property: Id(7)] DateTimeOffset CreatedAt)
{
    public bool DomainWide => DepartmentId is null;
}

[GenerateSerializer, Immutable]
public sealed record NewRoleGrant(
    [property: Id(0)] string Account,
    [property: Id(1)] AdminRoleKind Role,
    [property: Id(2)] string Domain,
    [property: Id(3)] long? DepartmentId,
    [property: Id(4)] string GrantedBy);

public enum RoleGrantStatus
{
    Granted,
    NoSuchAccount,
    NoSuchDomain,

    /// <summary>The department does not exist or is not in the role's domain.</summary>
    NoSuchDepartment,
    AlreadyGranted,
}

[GenerateSerializer, Immutable]
public sealed record RoleGrantResult(
    [property: Id(0)] RoleGrantStatus Status,
    [property: Id(1)] AdminRoleGrant? Grant = null);

/// <summary>Where a directory entry sits: its domain and the department ids from the root down (empty when it has no department row).</summary>
[GenerateSerializer, Immutable]
public sealed record DirectoryPlace(
    [property: Id(0)] string Domain,
    [property: Id(1)] IReadOnlyList<long> DepartmentPath);

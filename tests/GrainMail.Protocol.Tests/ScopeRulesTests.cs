using GrainMail.Contracts.Admin;
using GrainMail.Gateways.Http.Scopes;

namespace GrainMail.Protocol.Tests;

/// <summary>
/// The scope decisions as pure functions, table-driven: every role against every resource kind
/// (departments too, which no endpoint of the HTTP matrix reaches yet), inside and outside.
/// Department ids: 1 is the root of a.test, 2 Sales below it, 3 East below Sales, 4 Eng below the root.
/// </summary>
public sealed class ScopeRulesTests
{
    private static readonly long[] Root = [1];
    private static readonly long[] Sales = [1, 2];
    private static readonly long[] East = [1, 2, 3];
    private static readonly long[] Eng = [1, 4];

    private static AdminCaller Holding(AdminRoleKind kind, long? department) =>
        new(false, "holder@a.test", SessionKind.Admin,
            [new AdminRoleGrant(1, "holder@a.test", kind, "a.test", department, department switch { 2 => Sales, 3 => East, 4 => Eng, 1 => Root, _ => [] }, "super admin", DateTimeOffset.UnixEpoch)]);

    private static readonly Dictionary<string, AdminCaller> Callers = new()
    {
        ["domain-admin"] = Holding(AdminRoleKind.DomainAdmin, null),
        ["department-admin"] = Holding(AdminRoleKind.DepartmentAdmin, 2),
        ["auditor"] = Holding(AdminRoleKind.Auditor, null),
        ["department-auditor"] = Holding(AdminRoleKind.Auditor, 2),
        ["user"] = new(false, "holder@a.test", SessionKind.User, []),
    };

    public static TheoryData<string, ScopeResource, ScopeAccess, string?, string?, long[]?, bool> Cases() => new()
    {
        // caller, resource, access, domain, account, department path, allowed
        { "domain-admin", ScopeResource.Node, ScopeAccess.Read, null, null, null, false },
        { "auditor", ScopeResource.Node, ScopeAccess.Read, null, null, null, false },
        { "domain-admin", ScopeResource.Domain, ScopeAccess.Write, "a.test", null, null, true },
        { "domain-admin", ScopeResource.Domain, ScopeAccess.Write, "b.test", null, null, false },
        { "department-admin", ScopeResource.Domain, ScopeAccess.Read, "a.test", null, null, false },
        { "auditor", ScopeResource.Domain, ScopeAccess.Read, "a.test", null, null, true },
        { "auditor", ScopeResource.Domain, ScopeAccess.Write, "a.test", null, null, false },
        { "department-auditor", ScopeResource.DomainOverview, ScopeAccess.Read, "a.test", null, null, true },
        { "department-admin", ScopeResource.DomainOverview, ScopeAccess.Write, "a.test", null, null, false },
        { "department-admin", ScopeResource.DomainOverview, ScopeAccess.Read, "b.test", null, null, false },
        { "department-admin", ScopeResource.Department, ScopeAccess.Write, "a.test", null, Sales, true },
        { "department-admin", ScopeResource.Department, ScopeAccess.Write, "a.test", null, East, true },
        { "department-admin", ScopeResource.Department, ScopeAccess.Write, "a.test", null, Root, false },
        { "department-admin", ScopeResource.Department, ScopeAccess.Write, "a.test", null, Eng, false },
        { "department-admin", ScopeResource.Department, ScopeAccess.Write, "a.test", null, null, false },
        { "department-auditor", ScopeResource.Department, ScopeAccess.Read, "a.test", null, East, true },
        { "department-auditor", ScopeResource.Department, ScopeAccess.Write, "a.test", null, East, false },
        { "domain-admin", ScopeResource.Department, ScopeAccess.Write, "a.test", null, Eng, true },
        { "domain-admin", ScopeResource.Department, ScopeAccess.Write, "b.test", null, [9], false },
        { "department-admin", ScopeResource.Account, ScopeAccess.Write, "a.test", "x@a.test", East, true },
        { "department-admin", ScopeResource.Account, ScopeAccess.Write, "a.test", "x@a.test", Eng, false },
        // An account with no directory row has no department: only domain-wide roles reach it.
        { "department-admin", ScopeResource.Account, ScopeAccess.Read, "a.test", "x@a.test", null, false },
        { "domain-admin", ScopeResource.Account, ScopeAccess.Read, "a.test", "x@a.test", null, true },
        { "auditor", ScopeResource.Account, ScopeAccess.Write, "a.test", "x@a.test", East, false },
        { "user", ScopeResource.Account, ScopeAccess.Read, "a.test", "x@a.test", East, false },
        { "user", ScopeResource.Me, ScopeAccess.Read, null, null, null, true },
        { "user", ScopeResource.Domain, ScopeAccess.Read, "a.test", null, null, false },
        // An unparsable domain reaches nobody but the super admin.
        { "domain-admin", ScopeResource.Domain, ScopeAccess.Read, null, null, null, false },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void Each_role_reaches_what_its_scope_covers(string caller, ScopeResource resource, ScopeAccess access, string? domain, string? account, long[]? path, bool allowed)
    {
        var denial = ScopeRules.Denial(Callers[caller], new ScopeDeclaration(resource, access), new ScopeTarget(domain, account, path));
        Assert.True(allowed == (denial is null), $"{caller} {access} {resource} {domain} {account}: {denial ?? "allowed"}");
        Assert.Null(ScopeRules.Denial(AdminCaller.Super, new ScopeDeclaration(resource, access), new ScopeTarget(domain, account, path)));
    }

    [Fact]
    public void Self_access_is_only_for_endpoints_that_allow_it_and_only_to_the_own_account()
    {
        var user = Callers["user"];
        var own = new ScopeTarget("a.test", "holder@a.test", null);
        Assert.Null(ScopeRules.Denial(user, new ScopeDeclaration(ScopeResource.Account, ScopeAccess.Read, AllowSelf: true), own));
        Assert.NotNull(ScopeRules.Denial(user, new ScopeDeclaration(ScopeResource.Account, ScopeAccess.Write), own));
        Assert.NotNull(ScopeRules.Denial(user, new ScopeDeclaration(ScopeResource.Account, ScopeAccess.Read, AllowSelf: true), own with { Account = "other@a.test" }));
        Assert.NotNull(ScopeRules.Denial(AdminCaller.Super with { IsSuper = false }, new ScopeDeclaration(ScopeResource.Me, ScopeAccess.Read), own));
    }

    [Theory]
    [InlineData("domain-admin", AdminRoleKind.DepartmentAdmin, "a.test", true)]
    [InlineData("domain-admin", AdminRoleKind.Auditor, "a.test", true)]
    [InlineData("domain-admin", AdminRoleKind.DomainAdmin, "a.test", false)]
    [InlineData("domain-admin", AdminRoleKind.Auditor, "b.test", false)]
    [InlineData("department-admin", AdminRoleKind.Auditor, "a.test", false)]
    [InlineData("auditor", AdminRoleKind.Auditor, "a.test", false)]
    public void Only_the_super_admin_and_domain_admins_grant(string caller, AdminRoleKind role, string domain, bool allowed)
    {
        Assert.Equal(allowed, ScopeRules.GrantDenial(Callers[caller], role, domain) is null);
        Assert.Null(ScopeRules.GrantDenial(AdminCaller.Super, role, domain));
    }

    [Fact]
    public void A_grant_is_visible_inside_the_scope_it_lies_in()
    {
        var eastGrant = new AdminRoleGrant(7, "e@a.test", AdminRoleKind.Auditor, "a.test", 3, East, "super admin", DateTimeOffset.UnixEpoch);
        var engGrant = eastGrant with { DepartmentId = 4, DepartmentPath = Eng };
        Assert.True(ScopeRules.MaySee(Callers["department-admin"], eastGrant));
        Assert.False(ScopeRules.MaySee(Callers["department-admin"], engGrant));
        Assert.True(ScopeRules.MaySee(Callers["auditor"], engGrant));
        Assert.False(ScopeRules.MaySee(Callers["domain-admin"], eastGrant with { Domain = "b.test" }));
    }
}

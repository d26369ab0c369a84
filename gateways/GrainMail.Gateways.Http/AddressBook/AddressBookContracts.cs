using GrainMail.Contracts.AddressBook;

namespace GrainMail.Gateways.Http.AddressBook;

/// <summary>A public contact to create (address and displayName required) or change (PATCH: absent fields stay, "" clears).</summary>
public sealed record ContactRequest(string? Address, string? DisplayName, string? Organization, string? Title, string? Phone)
{
    public ContactFields ToFields() => new(Address, DisplayName, Organization, Title, Phone);
}

public sealed record ContactResponse(
    long Id, string Address, string DisplayName, string? Organization, string? Title, string? Phone, DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt)
{
    public static ContactResponse From(PublicContact c) => new(c.Id, c.Address, c.DisplayName, c.Organization, c.Title, c.Phone, c.CreatedAt, c.UpdatedAt);
}

/// <summary>Who a rule applies to: department ids (with their subtrees) and account addresses.</summary>
public sealed record RuleSubjects(IReadOnlyList<long>? Departments, IReadOnlyList<string>? Accounts);

/// <summary>A visibility rule: <c>appliesTo</c> members see only the subtrees of <c>visibleDepartments</c>.</summary>
public sealed record RuleRequest(string? Name, RuleSubjects? AppliesTo, IReadOnlyList<long>? VisibleDepartments);

public sealed record RuleResponse(long Id, string? Name, RuleSubjects AppliesTo, IReadOnlyList<long> VisibleDepartments, DateTimeOffset CreatedAt)
{
    public static RuleResponse From(VisibilityRule r, string domain) => new(
        r.Id, r.Name, new RuleSubjects(r.AppliesToDepartments, r.AppliesToAccounts.Select(lp => $"{lp}@{domain}").ToList()),
        r.VisibleDepartments, r.CreatedAt);
}

/// <summary>One entry of the signed-in user's address book: kind is account, contact or list.</summary>
public sealed record AddressBookEntryResponse(
    string Kind, string Address, string? DisplayName, string? Title, string? Phone, IReadOnlyList<string> Department, string? Organization)
{
    public static AddressBookEntryResponse From(AddressBookEntry e) => new(
        e.Kind.ToString().ToLowerInvariant(), e.Address, e.DisplayName, e.Title, e.Phone, e.DepartmentPath, e.Organization);
}

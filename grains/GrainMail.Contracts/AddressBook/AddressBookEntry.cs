namespace GrainMail.Contracts.AddressBook;

/// <summary>What an address-book entry stands for.</summary>
public enum AddressBookEntryKind
{
    Account,
    Contact,
    List,
}

/// <summary>
/// One entry of a user's address book as the visibility rules let them see it. The department
/// path holds the names from the domain's root department down to the account's own.
/// </summary>
[GenerateSerializer, Immutable]
public sealed record AddressBookEntry(
    [property: Id(0)] AddressBookEntryKind Kind,
    [property: Id(1)] string Address,
    [property: Id(2)] string? DisplayName,
    [property: Id(3)] string? Title,
    [property: Id(4)] string? Phone,
    [property: Id(5)] IReadOnlyList<string> DepartmentPath,
    [property: Id(6)] string? Organization,
    [property: Id(7)] long? ContactId);

/// <summary>A public contact: an external address an administrator shares with the domain.</summary>
[GenerateSerializer, Immutable]
public sealed record PublicContact(
    [property: Id(0)] long Id,
    [property: Id(1)] string Address,
    [property: Id(2)] string DisplayName,
    [property: Id(3)] string? Organization,
    [property: Id(4)] string? Title,
    [property: Id(5)] string? Phone,
    [property: Id(6)] DateTimeOffset CreatedAt,
    [property: Id(7)] DateTimeOffset UpdatedAt);

/// <summary>Fields of a public contact to set; null leaves one as it is (PATCH) or empty (create).</summary>
[GenerateSerializer, Immutable]
public sealed record ContactFields(
    [property: Id(0)] string? Address,
    [property: Id(1)] string? DisplayName,
    [property: Id(2)] string? Organization,
    [property: Id(3)] string? Title,
    [property: Id(4)] string? Phone);

/// <summary>
/// A visibility rule: members of <see cref="AppliesToDepartments"/> (their subtrees) and the named
/// accounts (local parts) see only the subtrees of <see cref="VisibleDepartments"/>.
/// </summary>
[GenerateSerializer, Immutable]
public sealed record VisibilityRule(
    [property: Id(0)] long Id,
    [property: Id(1)] string? Name,
    [property: Id(2)] IReadOnlyList<long> AppliesToDepartments,
    [property: Id(3)] IReadOnlyList<string> AppliesToAccounts,
    [property: Id(4)] IReadOnlyList<long> VisibleDepartments,
    [property: Id(5)] DateTimeOffset CreatedAt);

[GenerateSerializer, Immutable]
public sealed record NewVisibilityRule(
    [property: Id(0)] string? Name,
    [property: Id(1)] IReadOnlyList<long> AppliesToDepartments,
    [property: Id(2)] IReadOnlyList<string> AppliesToAccounts,
    [property: Id(3)] IReadOnlyList<long> VisibleDepartments);

public enum AddressBookOpStatus
{
    Ok,
    NoSuchDomain,
    NotFound,
    AlreadyExists,
    Invalid,
}

[GenerateSerializer, Immutable]
public sealed record AddressBookOpResult<T>(
    [property: Id(0)] AddressBookOpStatus Status,
    [property: Id(1)] T? Value,
    [property: Id(2)] string? Detail = null);

/// <summary>Limits of the address book's API (issue 15 sets the rule ones).</summary>
public static class AddressBookLimits
{
    /// <summary>Largest answer of one search.</summary>
    public const int MaxSearchResults = 50;

    /// <summary>Who one rule may apply to.</summary>
    public const int MaxRuleDepartments = 500;

    public const int MaxRuleAccounts = 100;

    /// <summary>Departments one rule may make visible.</summary>
    public const int MaxVisibleDepartments = 500;
}

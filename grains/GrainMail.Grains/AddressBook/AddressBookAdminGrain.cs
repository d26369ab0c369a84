using GrainMail.Contracts;
using GrainMail.Contracts.AddressBook;
using GrainMail.Contracts.Domains;
using GrainMail.Storage.AddressBook;
using Npgsql;

namespace GrainMail.Grains.AddressBook;

/// <summary>
/// Public contacts and visibility rules of one domain (key: its A-label). The rows are the state;
/// one activation per domain checks and writes them, so two administrators cannot race a duplicate in.
/// </summary>
public sealed class AddressBookAdminGrain(AddressBookStore store) : Grain, IAddressBookAdminGrain
{
    /// <summary>Longest name, organisation, title or phone kept.</summary>
    public const int MaxFieldLength = 256;

    private string Domain => this.GetPrimaryKeyString();

    public async Task<AddressBookOpResult<PublicContact>> AddContact(ContactFields fields)
    {
        if (!await DomainExists()) return new(AddressBookOpStatus.NoSuchDomain, null);
        var address = MailAddress.Normalize(fields.Address);
        if (address is null) return new(AddressBookOpStatus.Invalid, null, $"'{fields.Address}' is not a valid address");
        if (string.IsNullOrWhiteSpace(fields.DisplayName)) return new(AddressBookOpStatus.Invalid, null, "displayName is required");
        if (FieldProblem(fields) is { } problem) return new(AddressBookOpStatus.Invalid, null, problem);
        var added = await store.AddContactAsync(Domain, address, fields.DisplayName.Trim(), Clean(fields.Organization), Clean(fields.Title), Clean(fields.Phone));
        return added is null
            ? new(AddressBookOpStatus.AlreadyExists, null, $"{address} is already a public contact of {Domain}")
            : new(AddressBookOpStatus.Ok, added);
    }

    public async Task<AddressBookOpResult<IReadOnlyList<PublicContact>>> ListContacts() =>
        await DomainExists() ? new(AddressBookOpStatus.Ok, await store.ListContactsAsync(Domain)) : new(AddressBookOpStatus.NoSuchDomain, null);

    public async Task<AddressBookOpResult<PublicContact>> UpdateContact(long id, ContactFields fields)
    {
        if (!await DomainExists()) return new(AddressBookOpStatus.NoSuchDomain, null);
        if (await store.GetContactAsync(Domain, id) is not { } current) return new(AddressBookOpStatus.NotFound, null);
        string? address = current.Address;
        if (fields.Address is not null)
        {
            address = MailAddress.Normalize(fields.Address);
            if (address is null) return new(AddressBookOpStatus.Invalid, null, $"'{fields.Address}' is not a valid address");
        }
        if (fields.DisplayName is not null && string.IsNullOrWhiteSpace(fields.DisplayName))
            return new(AddressBookOpStatus.Invalid, null, "displayName cannot be empty");
        if (FieldProblem(fields) is { } problem) return new(AddressBookOpStatus.Invalid, null, problem);
        // PATCH semantics: an absent field stays; an empty string clears an optional one.
        var updated = current with
        {
            Address = address,
            DisplayName = fields.DisplayName?.Trim() ?? current.DisplayName,
            Organization = fields.Organization is null ? current.Organization : Clean(fields.Organization),
            Title = fields.Title is null ? current.Title : Clean(fields.Title),
            Phone = fields.Phone is null ? current.Phone : Clean(fields.Phone),
        };
        try
        {
            if (!await store.UpdateContactAsync(Domain, updated)) return new(AddressBookOpStatus.NotFound, null);
        }
        catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.UniqueViolation)
        {
            return new(AddressBookOpStatus.AlreadyExists, null, $"{address} is already a public contact of {Domain}");
        }
        return new(AddressBookOpStatus.Ok, await store.GetContactAsync(Domain, id));
    }

    public async Task<AddressBookOpStatus> DeleteContact(long id) =>
        !await DomainExists() ? AddressBookOpStatus.NoSuchDomain
        : await store.DeleteContactAsync(Domain, id) ? AddressBookOpStatus.Ok : AddressBookOpStatus.NotFound;

    public async Task<AddressBookOpResult<VisibilityRule>> AddRule(NewVisibilityRule rule)
    {
        if (!await DomainExists()) return new(AddressBookOpStatus.NoSuchDomain, null);
        if (RuleProblem(rule, Domain, out var localParts) is { } problem) return new(AddressBookOpStatus.Invalid, null, problem);
        var unknown = await store.UnknownDepartmentsAsync(Domain, rule.AppliesToDepartments.Concat(rule.VisibleDepartments).Distinct().ToList());
        if (unknown.Count > 0)
            return new(AddressBookOpStatus.Invalid, null, $"not departments of {Domain}: {string.Join(", ", unknown.Take(20))}");
        var added = await store.AddRuleAsync(Domain, rule with { Name = Clean(rule.Name), AppliesToAccounts = localParts });
        return new(AddressBookOpStatus.Ok, added);
    }

    public async Task<AddressBookOpResult<IReadOnlyList<VisibilityRule>>> ListRules() =>
        await DomainExists() ? new(AddressBookOpStatus.Ok, await store.ListRulesAsync(Domain)) : new(AddressBookOpStatus.NoSuchDomain, null);

    public async Task<AddressBookOpStatus> DeleteRule(long id) =>
        !await DomainExists() ? AddressBookOpStatus.NoSuchDomain
        : await store.DeleteRuleAsync(Domain, id) ? AddressBookOpStatus.Ok : AddressBookOpStatus.NotFound;

    /// <summary>
    /// Why a rule cannot be stored, or null. Accounts are addresses of the rule's domain (stored
    /// as local parts, the directory's key); at most 500 departments and 100 accounts (issue 15).
    /// </summary>
    public static string? RuleProblem(NewVisibilityRule rule, string domain, out List<string> localParts)
    {
        localParts = [];
        if (rule.AppliesToDepartments.Count > AddressBookLimits.MaxRuleDepartments)
            return $"a rule applies to at most {AddressBookLimits.MaxRuleDepartments} departments ({rule.AppliesToDepartments.Count} given)";
        if (rule.AppliesToAccounts.Count > AddressBookLimits.MaxRuleAccounts)
            return $"a rule applies to at most {AddressBookLimits.MaxRuleAccounts} accounts ({rule.AppliesToAccounts.Count} given)";
        if (rule.AppliesToDepartments.Count + rule.AppliesToAccounts.Count == 0)
            return "appliesTo names no department and no account";
        if (rule.VisibleDepartments.Count == 0) return "visibleDepartments is empty (a rule grants sight of at least one department)";
        if (rule.VisibleDepartments.Count > AddressBookLimits.MaxVisibleDepartments)
            return $"a rule makes at most {AddressBookLimits.MaxVisibleDepartments} departments visible";
        if (rule.Name is { Length: > MaxFieldLength }) return $"name is longer than {MaxFieldLength} characters";
        foreach (var a in rule.AppliesToAccounts)
        {
            if (!MailAddress.TryParse(a, out var lp, out var d)) return $"'{a}' is not a valid address";
            if (d != domain) return $"{a} is not an address of {domain}";
            localParts.Add(lp);
        }
        return null;
    }

    private static string? FieldProblem(ContactFields f) =>
        new[] { f.DisplayName, f.Organization, f.Title, f.Phone }.Any(v => v is { Length: > MaxFieldLength })
            ? $"fields are at most {MaxFieldLength} characters"
            : null;

    private static string? Clean(string? value) => string.IsNullOrWhiteSpace(value) ? null : value.Trim();

    private async Task<bool> DomainExists() => await GrainFactory.GetGrain<IDomainGrain>(Domain).GetInfo() is not null;
}

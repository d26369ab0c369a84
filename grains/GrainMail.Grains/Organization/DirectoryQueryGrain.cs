using GrainMail.Contracts;
using GrainMail.Contracts.Organization;
using GrainMail.Contracts.Domains;
using GrainMail.Storage.Organization;
using Orleans.Concurrency;

namespace GrainMail.Grains.Organization;

/// <summary>Reads the directory tables for the admin API on the local silo (many at once).</summary>
[StatelessWorker, Reentrant]
public sealed class DirectoryQueryGrain(DirectoryStore store) : Grain, IDirectoryQueryGrain
{
    public async Task<IReadOnlyList<DepartmentInfo>> ListDepartments(string domain)
    {
        var rows = await store.LoadDepartmentsAsync(domain);
        var counts = await store.DepartmentAccountCountsAsync(domain);
        var byId = rows.ToDictionary(r => r.Id);
        string PathOf(DepartmentRow d) => string.Join('/', d.Path.Skip(1).Select(id => byId.TryGetValue(id, out var p) ? p.Name : "?"));
        // Tree order: each department after its parent, siblings by name.
        return rows.OrderBy(r => string.Join('\u0001', r.Path.Select(id => byId.TryGetValue(id, out var p) ? p.Name : "")), StringComparer.Ordinal)
            .Select(r => new DepartmentInfo(r.Id, r.Name, r.ParentId, r.Depth, counts.GetValueOrDefault(r.Id), PathOf(r)))
            .ToList();
    }

    public async Task<AccountPage> PageAccounts(string domain, AccountQuery query)
    {
        var limit = Math.Clamp(query.Limit, 1, DirectoryLimits.MaxPage);
        // One more than asked says whether a next page exists without a second query.
        var rows = await store.PageAccountsAsync(domain, query.Prefix, query.DepartmentId, query.Subtree, query.After, limit + 1);
        var items = rows.Take(limit).Select(r => ToAccount(domain, r)).ToList();
        return new AccountPage(items, rows.Count > limit ? rows[limit - 1].LocalPart : null);
    }

    public async Task<DirectoryAccount?> GetAccount(string address)
    {
        if (!MailAddress.TryParse(address, out var lp, out var domain)) return null;
        var row = await store.GetAccountAsync(domain, lp);
        return row is null ? null : ToAccount(domain, row);
    }

    private static DirectoryAccount ToAccount(string domain, AccountRecord r) => new(
        $"{r.LocalPart}@{domain}", r.DisplayName, r.Title, r.EmployeeLevel, r.Phone, r.DepartmentId, r.DepartmentPath,
        r.QuotaBytes, r.MaySendExternal, r.MayReceiveExternal, r.InAddressBook, r.Enabled, r.MustChangePassword, r.CreatedAt);
}

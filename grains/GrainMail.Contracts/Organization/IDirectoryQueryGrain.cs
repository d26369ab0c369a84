using GrainMail.Contracts.Domains;

namespace GrainMail.Contracts.Organization;

/// <summary>
/// Reads of the directory tables (departments, account attributes) for the admin API, on the
/// silo nearest the caller: lists and searches never queue behind the domain grain's writes.
/// </summary>
public interface IDirectoryQueryGrain : IGrainWithIntegerKey
{
    [Retryable]
    Task<IReadOnlyList<DepartmentInfo>> ListDepartments(string domain);

    [Retryable]
    Task<AccountPage> PageAccounts(string domain, AccountQuery query);

    [Retryable]
    Task<DirectoryAccount?> GetAccount(string address);
}

namespace GrainMail.Contracts.Domains;

/// <summary>Limits of the organisation's directory.</summary>
public static class DirectoryLimits
{
    /// <summary>The seed's admin backend allows 13 levels of departments, the root (the domain's default department) being level 1.</summary>
    public const int MaxDepth = 13;

    public const int MaxDepartmentName = 100;

    public const int MaxAttributeLength = 200;

    /// <summary>The most rows one import call carries to the domain grain (one multi-row statement each).</summary>
    public const int ImportBatch = 2000;

    /// <summary>
    /// The rows of an import call whose mailboxes are provisioned in one go while the directory rows of the
    /// part before are inserted on another connection (so an import call keeps two PostgreSQL backends busy).
    /// </summary>
    public const int ImportPipelinePart = 500;

    /// <summary>The largest page of accounts one list call returns.</summary>
    public const int MaxPage = 1000;

    /// <summary>A department name: trimmed, not empty, no '/' (the CSV import separates path levels with it), no control characters.</summary>
    public static string? NormalizeDepartmentName(string? name)
    {
        var n = name?.Trim();
        if (string.IsNullOrEmpty(n) || n.Length > MaxDepartmentName || n.Contains('/')) return null;
        foreach (var c in n)
        {
            if (char.IsControl(c)) return null;
        }
        return n;
    }
}

/// <summary>
/// Attributes of an account an administrator manages. Every field is optional: null means "not
/// given" (create: the default; change: left as it is). An empty string clears a text field.
/// </summary>
[GenerateSerializer, Immutable]
public sealed record AccountAttributes(
    [property: Id(0)] string? DisplayName = null,
    [property: Id(1)] string? Title = null,
    [property: Id(2)] string? EmployeeLevel = null,
    [property: Id(3)] string? Phone = null,
    [property: Id(4)] long? DepartmentId = null,
    [property: Id(5)] long? QuotaBytes = null,
    [property: Id(6)] bool? MaySendExternal = null,
    [property: Id(7)] bool? MayReceiveExternal = null,
    [property: Id(8)] bool? InAddressBook = null,
    [property: Id(9)] bool? Enabled = null,
    [property: Id(10)] bool? MustChangePassword = null)
{
    public static readonly AccountAttributes None = new();
}

/// <summary>One row of directory_account as the admin API shows it.</summary>
[GenerateSerializer, Immutable]
public sealed record DirectoryAccount(
    [property: Id(0)] string Address,
    [property: Id(1)] string? DisplayName,
    [property: Id(2)] string? Title,
    [property: Id(3)] string? EmployeeLevel,
    [property: Id(4)] string? Phone,
    [property: Id(5)] long DepartmentId,
    [property: Id(6)] string DepartmentPath,
    [property: Id(7)] long QuotaBytes,
    [property: Id(8)] bool MaySendExternal,
    [property: Id(9)] bool MayReceiveExternal,
    [property: Id(10)] bool InAddressBook,
    [property: Id(11)] bool Enabled,
    [property: Id(12)] bool MustChangePassword,
    [property: Id(13)] DateTimeOffset CreatedAt);

[GenerateSerializer, Immutable]
public sealed record DepartmentInfo(
    [property: Id(0)] long Id,
    [property: Id(1)] string Name,
    [property: Id(2)] long? ParentId,
    [property: Id(3)] int Depth,
    [property: Id(4)] int AccountCount,
    [property: Id(5)] string Path);

/// <summary>A department change's outcome; <see cref="Id"/> is the department's id when it succeeded.</summary>
[GenerateSerializer, Immutable]
public sealed record DepartmentOpResult(
    [property: Id(0)] DomainOpStatus Status,
    [property: Id(1)] long Id = 0,
    [property: Id(2)] string? Detail = null);

/// <summary>A page of accounts, keyset-paged by local part (the cursor is the last local part returned).</summary>
[GenerateSerializer, Immutable]
public sealed record AccountQuery(
    [property: Id(0)] string? Prefix,
    [property: Id(1)] long? DepartmentId,
    [property: Id(2)] int Limit,
    [property: Id(3)] string? After,
    [property: Id(4)] bool Subtree = true);

[GenerateSerializer, Immutable]
public sealed record AccountPage(
    [property: Id(0)] IReadOnlyList<DirectoryAccount> Items,
    [property: Id(1)] string? Next);

/// <summary>
/// One account row of a CSV import, checked by the gateway. <see cref="Department"/> is a path of
/// names below the root ("Sales/North"); empty is the root. <see cref="PasswordHash"/> is a PHC
/// <c>$argon2id$</c> string or null.
/// </summary>
[GenerateSerializer, Immutable]
public sealed record ImportRow(
    [property: Id(0)] int Line,
    [property: Id(1)] string LocalPart,
    [property: Id(2)] IReadOnlyList<string> Department,
    [property: Id(3)] AccountAttributes Attributes,
    [property: Id(4)] string? PasswordHash);

[GenerateSerializer, Immutable]
public sealed record ImportProblem(
    [property: Id(0)] int Line,
    [property: Id(1)] string? Column,
    [property: Id(2)] string Message);

[GenerateSerializer, Immutable]
public sealed record ImportOutcome(
    [property: Id(0)] int Created,
    [property: Id(1)] int Updated,
    [property: Id(2)] int Unchanged,
    [property: Id(3)] int DepartmentsCreated,
    [property: Id(4)] IReadOnlyList<ImportProblem> Problems);

public enum BulkAction
{
    Enable,
    Disable,
    Move,
    Quota,
    ForcePasswordChange,
}

[GenerateSerializer, Immutable]
public sealed record BulkOutcome(
    [property: Id(0)] int Changed,
    [property: Id(1)] IReadOnlyList<string> NotFound,
    [property: Id(2)] string? Error = null);

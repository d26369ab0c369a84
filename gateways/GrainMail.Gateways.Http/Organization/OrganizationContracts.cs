namespace GrainMail.Gateways.Http.Organization;

public sealed record CreateDepartmentRequest(string? Name, long? ParentId);

/// <summary>PATCH body: a field left out (or null) stays as it is.</summary>
public sealed record UpdateDepartmentRequest(string? Name, long? ParentId);

/// <param name="Path">The names below the root, separated by '/' (empty for the root): the CSV import's department column.</param>
public sealed record DepartmentResponse(long Id, string Name, long? ParentId, int Depth, int AccountCount, string Path);

/// <summary>
/// PATCH /accounts/{address}: JSON merge of the given fields; a field left out or null stays as it
/// is, an empty string clears a text field.
/// </summary>
public sealed record AccountPatchRequest(
    string? DisplayName = null, string? Title = null, string? EmployeeLevel = null, string? Phone = null,
    long? DepartmentId = null, long? QuotaBytes = null, bool? MaySendExternal = null, bool? MayReceiveExternal = null,
    bool? InAddressBook = null, bool? Enabled = null, bool? MustChangePassword = null);

/// <param name="NextCursor">Pass as <c>cursor</c> for the next page; null on the last page.</param>
public sealed record AccountPageResponse(IReadOnlyList<GrainMail.Gateways.Http.Accounts.AccountResponse> Items, string? NextCursor);

public sealed record ImportError(int Line, string? Column, string Message);

/// <summary>
/// What an import did (or, with dryRun, would do): accounts created, updated, unchanged (a
/// re-run of the same file reports every row unchanged), departments created, and every row's problem.
/// </summary>
public sealed record ImportReport(
    bool DryRun, string Encoding, int Rows, int Created, int Updated, int Unchanged, int DepartmentsCreated, IReadOnlyList<ImportError> Errors);

/// <param name="Action">enable, disable, move (with departmentId), quota (with quotaBytes) or forcePasswordChange.</param>
public sealed record BulkRequest(IReadOnlyList<string>? Addresses, string? Action, long? DepartmentId, long? QuotaBytes);

public sealed record BulkResponse(int Changed, IReadOnlyList<string> NotFound);

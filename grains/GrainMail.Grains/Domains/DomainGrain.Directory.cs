using GrainMail.Contracts;
using GrainMail.Contracts.Accounts;
using GrainMail.Contracts.Domains;
using GrainMail.Contracts.Mailboxes;
using GrainMail.Grains.Mailboxes;
using GrainMail.Storage.Organization;
using GrainMail.Storage.Mailboxes;
using Npgsql;

namespace GrainMail.Grains.Domains;

/// <summary>
/// The domain's directory: its departments (a tree of at most 13 levels under the root, the
/// domain's default department) and its accounts' attributes, as rows of directory_department and
/// directory_account. This grain is their one writer; it keeps every account's RCPT flags in
/// memory (one query at activation) so that Resolve never waits for the database.
/// </summary>
public sealed partial class DomainGrain
{
    private Dictionary<string, AccountFlags> _accounts = new(StringComparer.Ordinal);
    private Dictionary<long, DepartmentRow> _departments = [];

    private DepartmentRow Root => _departments.Values.First(d => d.ParentId is null);

    private async Task LoadDirectoryAsync(CancellationToken ct)
    {
        _departments = (await _store.LoadDepartmentsAsync(Name, ct)).ToDictionary(d => d.Id);
        await EnsureRootAsync();
        _accounts = await _store.LoadAccountFlagsAsync(Name, ct);
        if (S.Accounts.Count > 0 || S.Disabled.Count > 0) await MigrateStateAccountsAsync();
    }

    /// <summary>Domains created before departments existed get their root (named after the domain) when they next activate.</summary>
    private async Task EnsureRootAsync()
    {
        if (_departments.Values.Any(d => d.ParentId is null)) return;
        try
        {
            var root = await _store.InsertDepartmentAsync(Name, null, Name);
            _departments[root.Id] = root;
        }
        catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.UniqueViolation)
        {
            // Made by an activation of this grain elsewhere a moment ago (a region move): take it.
            _departments = (await _store.LoadDepartmentsAsync(Name)).ToDictionary(d => d.Id);
        }
    }

    /// <summary>
    /// Copies accounts that older versions held in grain state into directory_account, once: the
    /// rows are written first (a repeat after a crash skips existing ones), then the state is emptied.
    /// </summary>
    private async Task MigrateStateAccountsAsync()
    {
        var rows = new List<AccountValues>();
        foreach (var lp in S.Accounts.Where(lp => !_accounts.ContainsKey(lp)).Order(StringComparer.Ordinal))
        {
            var address = $"{lp}@{Name}";
            var info = await GrainFactory.GetGrain<IAccountGrain>(address).GetInfo();
            // The mailbox's limit is the one in force (PUT /quota changed only the mailbox).
            var quota = (await GrainFactory.GetGrain<IMailboxGrain>(address).GetQuota()).LimitBytes;
            rows.Add(new AccountValues(lp, DisplayName: info?.DisplayName, DepartmentId: Root.Id,
                QuotaBytes: quota > 0 ? quota : info?.QuotaBytes ?? S.Settings.DefaultQuotaBytes,
                Enabled: !S.Disabled.Contains(lp) && (info?.Enabled ?? true)));
        }
        foreach (var chunk in rows.Chunk(DirectoryLimits.ImportBatch))
        {
            foreach (var (lp, flags) in await _store.InsertAccountsAsync(Name, chunk)) _accounts[lp] = flags;
        }
        _accounts = await _store.LoadAccountFlagsAsync(Name);
        S.Accounts.Clear();
        S.Disabled.Clear();
        await state.WriteStateAsync();
    }

    private async Task InsertAccountRowAsync(string lp, AccountAttributes a)
    {
        var values = ToValues(lp, a) with { DepartmentId = a.DepartmentId ?? Root.Id, QuotaBytes = a.QuotaBytes ?? S.Settings.DefaultQuotaBytes };
        foreach (var (key, flags) in await _store.InsertAccountsAsync(Name, [values])) _accounts[key] = flags;
        if (!_accounts.ContainsKey(lp))
        {
            // A row left by an interrupted earlier create: bring it to what was asked now.
            foreach (var (key, flags) in await _store.MergeAccountsAsync(Name, [values])) _accounts[key] = flags;
            _accounts = await _store.LoadAccountFlagsAsync(Name);
        }
    }

    private static AccountValues ToValues(string lp, AccountAttributes a) => new(
        lp, a.DisplayName, a.Title, a.EmployeeLevel, a.Phone, a.DepartmentId, a.QuotaBytes,
        a.MaySendExternal, a.MayReceiveExternal, a.InAddressBook, a.Enabled, a.MustChangePassword);

    /// <summary>Why attributes cannot be stored, or null.</summary>
    private string? CheckAttributes(AccountAttributes a)
    {
        foreach (var (field, value) in new[] { ("displayName", a.DisplayName), ("title", a.Title), ("employeeLevel", a.EmployeeLevel), ("phone", a.Phone) })
        {
            if (value is null) continue;
            // Length only: display names set over the API have always taken any text (the CSV import is stricter).
            if (value.Length > DirectoryLimits.MaxAttributeLength) return $"{field} is longer than {DirectoryLimits.MaxAttributeLength} characters";
        }
        if (a.QuotaBytes is <= 0) return "quotaBytes must be positive";
        if (a.DepartmentId is { } dep && !_departments.ContainsKey(dep)) return $"department {dep} is not a department of {Name}";
        return null;
    }

    public Task<AccountPolicy?> GetAccountPolicy(string localPart)
    {
        var lp = MailAddress.NormalizeLocalPart(localPart);
        return Task.FromResult(lp is not null && _accounts.TryGetValue(lp, out var f) ? new AccountPolicy(f.MaySendExternal, f.MayReceiveExternal) : null);
    }

    // ---- departments ------------------------------------------------------------------------

    /// <summary>
    /// Re-reads the departments when an id asked about is not among those read at activation: departments made
    /// behind this grain's back (SQL seeds, another activation during a region move) would otherwise be refused as
    /// "not a department" until the grain next activates. An id that is still unknown after the re-read is refused.
    /// </summary>
    private async Task LearnDepartmentsAsync(params long?[] ids)
    {
        if (ids.All(id => id is not { } d || _departments.ContainsKey(d))) return;
        _departments = (await _store.LoadDepartmentsAsync(Name)).ToDictionary(d => d.Id);
    }

    private bool SiblingHasName(long parentId, string name, long except) =>
        _departments.Values.Any(d => d.ParentId == parentId && d.Id != except && d.Name == name);

    public async Task<DepartmentOpResult> CreateDepartment(string name, long? parentId)
    {
        if (!S.Exists) return new(DomainOpStatus.NotFound, Detail: $"no such domain {Name}");
        if (DirectoryLimits.NormalizeDepartmentName(name) is not { } n)
            return new(DomainOpStatus.Invalid, Detail: $"a department name has 1 to {DirectoryLimits.MaxDepartmentName} characters, no '/' and no control characters");
        await LearnDepartmentsAsync(parentId);
        DepartmentRow? parent;
        if (parentId is { } pid)
        {
            if (!_departments.TryGetValue(pid, out parent)) return new(DomainOpStatus.Invalid, Detail: $"parent {pid} is not a department of {Name}");
        }
        else
        {
            parent = Root;
        }
        if (parent.Depth >= DirectoryLimits.MaxDepth)
            return new(DomainOpStatus.Invalid, Detail: $"departments have at most {DirectoryLimits.MaxDepth} levels; this one would be level {parent.Depth + 1}");
        if (SiblingHasName(parent.Id, n, 0)) return new(DomainOpStatus.AlreadyExists, Detail: $"'{n}' exists under department {parent.Id}");
        var row = await _store.InsertDepartmentAsync(Name, parent, n);
        _departments[row.Id] = row;
        return new(DomainOpStatus.Ok, row.Id);
    }

    public async Task<DepartmentOpResult> UpdateDepartment(long id, string? name, long? parentId)
    {
        if (S.Exists) await LearnDepartmentsAsync(id, parentId);
        if (!S.Exists || !_departments.TryGetValue(id, out var dep)) return new(DomainOpStatus.NotFound, Detail: $"no department {id} in {Name}");
        var newName = dep.Name;
        if (name is not null)
        {
            if (DirectoryLimits.NormalizeDepartmentName(name) is not { } n)
                return new(DomainOpStatus.Invalid, Detail: $"a department name has 1 to {DirectoryLimits.MaxDepartmentName} characters, no '/' and no control characters");
            newName = n;
        }
        if (dep.ParentId is null)
        {
            // The root is the domain's default department and carries the domain's name.
            if (parentId is not null || newName != dep.Name) return new(DomainOpStatus.Invalid, Detail: "the root department is the domain's own: it is neither moved nor renamed");
            return new(DomainOpStatus.Ok, id);
        }
        var parent = _departments[dep.ParentId.Value];
        if (parentId is { } pid && pid != dep.ParentId)
        {
            if (!_departments.TryGetValue(pid, out var p)) return new(DomainOpStatus.Invalid, Detail: $"parent {pid} is not a department of {Name}");
            // A department cannot move below itself: that would cut its subtree off the tree.
            if (p.Path.Contains(id)) return new(DomainOpStatus.Invalid, Detail: $"department {pid} lies within department {id}: moving there would make a cycle");
            var deepest = _departments.Values.Where(d => d.Path.Contains(id)).Max(d => d.Depth);
            var newDeepest = deepest - dep.Depth + p.Depth + 1;
            if (newDeepest > DirectoryLimits.MaxDepth)
                return new(DomainOpStatus.Invalid, Detail: $"departments have at most {DirectoryLimits.MaxDepth} levels; after this move the subtree would reach level {newDeepest}");
            parent = p;
        }
        if (SiblingHasName(parent.Id, newName, id)) return new(DomainOpStatus.AlreadyExists, Detail: $"'{newName}' exists under department {parent.Id}");
        await _store.MoveDepartmentAsync(Name, dep, newName, parent);
        _departments = (await _store.LoadDepartmentsAsync(Name)).ToDictionary(d => d.Id);
        return new(DomainOpStatus.Ok, id);
    }

    public async Task<DepartmentOpResult> DeleteDepartment(long id)
    {
        if (S.Exists) await LearnDepartmentsAsync(id);
        if (!S.Exists || !_departments.TryGetValue(id, out var dep)) return new(DomainOpStatus.NotFound, Detail: $"no department {id} in {Name}");
        if (dep.ParentId is null) return new(DomainOpStatus.Invalid, Detail: "the root department lives as long as its domain");
        if (_departments.Values.Any(d => d.ParentId == id)) return new(DomainOpStatus.NotEmpty, Detail: $"department {id} has sub-departments");
        var members = _accounts.Count(a => a.Value.DepartmentId == id);
        if (members > 0) return new(DomainOpStatus.NotEmpty, Detail: $"department {id} has {members} accounts");
        await _store.DeleteDepartmentAsync(id);
        _departments.Remove(id);
        return new(DomainOpStatus.Ok, id);
    }

    // ---- account attributes ---------------------------------------------------------------------

    public async Task<DomainOpResult> UpdateAccount(string localPart, AccountAttributes changes)
    {
        var lp = MailAddress.NormalizeLocalPart(localPart);
        if (!S.Exists || lp is null || !_accounts.ContainsKey(lp)) return new(DomainOpStatus.NotFound);
        await LearnDepartmentsAsync(changes.DepartmentId);
        if (CheckAttributes(changes) is { } bad) return new(DomainOpStatus.Invalid, bad);
        foreach (var (key, flags) in await _store.MergeAccountsAsync(Name, [ToValues(lp, changes)])) _accounts[key] = flags;
        // Where the attributes act, also when the row was already so (a retry after a failure half way).
        var address = $"{lp}@{Name}";
        if (changes.Enabled is { } enabled) await GrainFactory.GetGrain<IAccountGrain>(address).SetEnabled(enabled);
        if (changes.QuotaBytes is { } quota) await GrainFactory.GetGrain<IMailboxGrain>(address).SetQuota(quota);
        return DomainOpResult.Ok;
    }

    /// <summary>Makes the account and mailbox grains follow rows whose enabled flag or quota changed.</summary>
    private async Task FollowChangesAsync(IReadOnlyDictionary<string, AccountFlags> before, IReadOnlyDictionary<string, AccountFlags> after)
    {
        var work = new List<Func<Task>>();
        foreach (var (lp, now) in after)
        {
            if (!before.TryGetValue(lp, out var was)) continue;
            var address = $"{lp}@{Name}";
            if (was.Enabled != now.Enabled) work.Add(() => GrainFactory.GetGrain<IAccountGrain>(address).SetEnabled(now.Enabled));
            if (was.QuotaBytes != now.QuotaBytes) work.Add(() => GrainFactory.GetGrain<IMailboxGrain>(address).SetQuota(now.QuotaBytes));
        }
        foreach (var chunk in work.Chunk(64)) await Task.WhenAll(chunk.Select(w => w()));
    }

    public async Task<BulkOutcome> Bulk(IReadOnlyList<string> localParts, BulkAction action, long? departmentId, long? quotaBytes)
    {
        if (!S.Exists) return new BulkOutcome(0, [], $"no such domain {Name}");
        if (action == BulkAction.Move) await LearnDepartmentsAsync(departmentId);
        if (action == BulkAction.Move && (departmentId is not { } d || !_departments.ContainsKey(d)))
            return new BulkOutcome(0, [], $"departmentId {departmentId} is not a department of {Name}");
        if (action == BulkAction.Quota && quotaBytes is not > 0) return new BulkOutcome(0, [], "quotaBytes must be positive");
        var notFound = new List<string>();
        var values = new List<AccountValues>();
        foreach (var given in localParts.Distinct(StringComparer.Ordinal))
        {
            var lp = MailAddress.NormalizeLocalPart(given);
            if (lp is null || !_accounts.ContainsKey(lp))
            {
                notFound.Add(given);
                continue;
            }
            values.Add(action switch
            {
                BulkAction.Enable => new AccountValues(lp, Enabled: true),
                BulkAction.Disable => new AccountValues(lp, Enabled: false),
                BulkAction.Move => new AccountValues(lp, DepartmentId: departmentId),
                BulkAction.Quota => new AccountValues(lp, QuotaBytes: quotaBytes),
                _ => new AccountValues(lp, MustChangePassword: true),
            });
        }
        var changed = 0;
        foreach (var chunk in values.Chunk(DirectoryLimits.ImportBatch))
        {
            var before = new Dictionary<string, AccountFlags>(StringComparer.Ordinal);
            foreach (var v in chunk) before[v.LocalPart] = _accounts[v.LocalPart];
            var after = await _store.MergeAccountsAsync(Name, chunk);
            foreach (var (lp, flags) in after) _accounts[lp] = flags;
            changed += after.Count;
            await FollowChangesAsync(before, after);
        }
        return new BulkOutcome(changed, notFound);
    }

    // ---- CSV import ---------------------------------------------------------------------------

    public async Task<ImportOutcome> Import(IReadOnlyList<ImportRow> rows, bool dryRun)
    {
        if (!S.Exists) return new ImportOutcome(0, 0, 0, 0, [new ImportProblem(0, null, $"no such domain {Name}")]);
        var problems = new List<ImportProblem>();
        // Departments by path, made as needed (in a dry run only counted, with stand-in ids below zero).
        var byPath = new Dictionary<string, long>(StringComparer.Ordinal);
        var children = _departments.Values.Where(d => d.ParentId is not null).ToDictionary(d => (d.ParentId!.Value, d.Name), d => d.Id);
        long nextPlanned = -1;
        var departmentsCreated = 0;
        var resolved = new List<(ImportRow Row, long Department)>();
        foreach (var row in rows)
        {
            if (S.Aliases.ContainsKey(row.LocalPart))
            {
                problems.Add(new ImportProblem(row.Line, "address", $"{row.LocalPart}@{Name} is an alias"));
                continue;
            }
            if (row.Department.Count + 1 > DirectoryLimits.MaxDepth)
            {
                problems.Add(new ImportProblem(row.Line, "department", $"departments have at most {DirectoryLimits.MaxDepth} levels (the root and {DirectoryLimits.MaxDepth - 1} below it)"));
                continue;
            }
            var key = string.Join('/', row.Department);
            if (!byPath.TryGetValue(key, out var depId))
            {
                depId = Root.Id;
                foreach (var name in row.Department)
                {
                    if (children.TryGetValue((depId, name), out var child))
                    {
                        depId = child;
                        continue;
                    }
                    departmentsCreated++;
                    if (dryRun)
                    {
                        children[(depId, name)] = nextPlanned;
                        depId = nextPlanned--;
                        continue;
                    }
                    var made = await _store.InsertDepartmentAsync(Name, _departments[depId], name);
                    _departments[made.Id] = made;
                    children[(depId, name)] = made.Id;
                    depId = made.Id;
                }
                byPath[key] = depId;
            }
            resolved.Add((row, depId));
        }

        var created = 0;
        var updated = 0;
        var existingRows = resolved.Where(r => _accounts.ContainsKey(r.Row.LocalPart)).ToList();
        var newRows = resolved.Where(r => !_accounts.ContainsKey(r.Row.LocalPart)).ToList();
        if (dryRun)
        {
            // A dry run writes nothing: rows that exist are counted as updates (the real run tells which are unchanged).
            return new ImportOutcome(newRows.Count, existingRows.Count, 0, departmentsCreated, problems);
        }

        // Mailboxes first: once the row exists RCPT accepts the address, and delivery needs the mailbox.
        // The two are PostgreSQL work on two connections: the mailboxes of one part are provisioned while
        // the directory rows of the part before go in (each row still only after its own mailbox).
        Task<Dictionary<string, AccountFlags>>? inserting = null;
        int Adopt(Dictionary<string, AccountFlags> inserted)
        {
            foreach (var (lp, flags) in inserted) _accounts[lp] = flags;
            return inserted.Count;
        }
        foreach (var part in newRows.Chunk(DirectoryLimits.ImportPipelinePart))
        {
            var values = part.Select(r => ToValues(r.Row.LocalPart, r.Row.Attributes) with
            {
                DepartmentId = r.Department,
                QuotaBytes = r.Row.Attributes.QuotaBytes ?? S.Settings.DefaultQuotaBytes,
                // Without a password the account has none that works until an administrator or SSO sets one.
                MustChangePassword = r.Row.Attributes.MustChangePassword ?? (r.Row.PasswordHash is null ? true : null),
                ProvisionedPasswordHash = r.Row.PasswordHash,
            }).ToList();
            try
            {
                await _mailboxes.ProvisionManyAsync(values.Select(v => ($"{v.LocalPart}@{Name}", v.QuotaBytes!.Value)).ToList(), DefaultFolders());
            }
            finally
            {
                // Also when provisioning failed: the rows written before are the domain's and RCPT must know them.
                if (inserting is not null) created += Adopt(await inserting);
                inserting = null;
            }
            inserting = _store.InsertAccountsAsync(Name, values);
        }
        if (inserting is not null) created += Adopt(await inserting);
        foreach (var chunk in existingRows.Chunk(DirectoryLimits.ImportBatch))
        {
            var values = chunk.Select(r => ToValues(r.Row.LocalPart, r.Row.Attributes) with { DepartmentId = r.Department }).ToList();
            var before = new Dictionary<string, AccountFlags>(StringComparer.Ordinal);
            foreach (var v in values) before[v.LocalPart] = _accounts[v.LocalPart];
            var after = await _store.MergeAccountsAsync(Name, values);
            foreach (var (lp, flags) in after) _accounts[lp] = flags;
            updated += after.Count;
            await FollowChangesAsync(before, after);
        }
        return new ImportOutcome(created, updated, existingRows.Count - updated, departmentsCreated, problems);
    }

    /// <summary>The folders a new mailbox starts with, as <see cref="MailboxGrain.Provision"/> makes them.</summary>
    private IReadOnlyList<FolderRow> DefaultFolders()
    {
        var uv = clock.GetUtcNow().ToUnixTimeSeconds();
        return FolderNames.Defaults.Select((d, i) => new FolderRow(i + 1, d.Name, d.Use, uv, 1, 1, true, 1, 0, 0, 0)).ToList();
    }
}

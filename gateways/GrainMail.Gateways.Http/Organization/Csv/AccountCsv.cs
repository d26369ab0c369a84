using System.Globalization;
using GrainMail.Contracts;
using GrainMail.Contracts.Domains;

namespace GrainMail.Gateways.Http.Organization.Csv;

/// <summary>
/// The account CSV format of import and export (documented in README.md). A header row names
/// the columns, in any order and case; every column but the address is optional, and an empty
/// cell leaves the value as it is (new accounts: the default).
/// </summary>
public static class AccountCsv
{
    public const string Address = "address";
    public const string LocalPart = "localPart";
    public const string DisplayName = "displayName";
    public const string Department = "department";
    public const string Title = "title";
    public const string EmployeeLevel = "employeeLevel";
    public const string Phone = "phone";
    public const string QuotaMB = "quotaMB";
    public const string MaySendExternal = "maySendExternal";
    public const string MayReceiveExternal = "mayReceiveExternal";
    public const string InAddressBook = "inAddressBook";
    public const string Enabled = "enabled";
    public const string MustChangePassword = "mustChangePassword";
    public const string PasswordHash = "passwordHash";

    /// <summary>The columns export writes, in this order; import reads the same file back.</summary>
    public static readonly IReadOnlyList<string> ExportColumns =
        [Address, DisplayName, Department, Title, EmployeeLevel, Phone, QuotaMB, MaySendExternal, MayReceiveExternal, InAddressBook, Enabled, MustChangePassword];

    private static readonly IReadOnlyList<string> Known = [.. ExportColumns, LocalPart, PasswordHash];

    private const long Mebibyte = 1024 * 1024;

    /// <summary>The accounts of a CSV file for <paramref name="domain"/>, and every problem with its line.</summary>
    public static (List<ImportRow> Rows, List<ImportProblem> Problems) Parse(string text, string domain)
    {
        var rows = new List<ImportRow>();
        var problems = new List<ImportProblem>();
        var (records, unterminated) = CsvReader.Read(text);
        if (unterminated is { } at) problems.Add(new ImportProblem(at, null, "a quoted field is not closed"));
        if (records.Count == 0)
        {
            problems.Add(new ImportProblem(1, null, "the file has no header row"));
            return (rows, problems);
        }
        var header = records[0];
        var columns = new Dictionary<string, int>(StringComparer.Ordinal);
        for (var i = 0; i < header.Fields.Count; i++)
        {
            var name = header.Fields[i].Trim();
            var known = Known.FirstOrDefault(k => k.Equals(name, StringComparison.OrdinalIgnoreCase));
            if (known is null)
            {
                if (name.Equals("password", StringComparison.OrdinalIgnoreCase))
                    problems.Add(new ImportProblem(header.Line, name, "plain-text passwords are not imported: give passwordHash ($argon2id$ PHC) or set passwords afterwards"));
                else if (name.Length > 0)
                    problems.Add(new ImportProblem(header.Line, name, $"unknown column (known: {string.Join(", ", Known)})"));
                continue;
            }
            if (!columns.TryAdd(known, i)) problems.Add(new ImportProblem(header.Line, known, "column given twice"));
        }
        if (columns.ContainsKey(Address) == columns.ContainsKey(LocalPart))
        {
            problems.Add(new ImportProblem(header.Line, null, $"exactly one of the columns {Address} and {LocalPart} names each account"));
            return (rows, problems);
        }

        var seen = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var record in records.Skip(1))
        {
            var before = problems.Count;
            string? Cell(string column) =>
                columns.TryGetValue(column, out var i) && i < record.Fields.Count && record.Fields[i].Trim() is { Length: > 0 } v ? v : null;
            void Problem(string? column, string message) => problems.Add(new ImportProblem(record.Line, column, message));

            string? lp = null;
            if (columns.ContainsKey(Address))
            {
                var a = Cell(Address);
                if (a is null) Problem(Address, "empty");
                else if (!MailAddress.TryParse(a, out var l, out var d)) Problem(Address, $"'{a}' is not a valid address");
                else if (d != domain) Problem(Address, $"'{a}' is not in {domain}");
                else lp = l;
            }
            else
            {
                var l = Cell(LocalPart);
                if (l is null) Problem(LocalPart, "empty");
                else if (MailAddress.NormalizeLocalPart(l) is not { } n) Problem(LocalPart, $"'{l}' is not a valid local part");
                else lp = n;
            }
            if (lp is not null && !seen.TryAdd(lp, record.Line)) Problem(columns.ContainsKey(Address) ? Address : LocalPart, $"{lp}@{domain} is also on line {seen[lp]}");

            var department = new List<string>();
            if (Cell(Department) is { } path)
            {
                foreach (var segment in path.Split('/'))
                {
                    if (DirectoryLimits.NormalizeDepartmentName(segment) is { } n) department.Add(n);
                    else
                    {
                        Problem(Department, $"'{path}': every level needs a name of 1 to {DirectoryLimits.MaxDepartmentName} characters");
                        break;
                    }
                }
                if (department.Count > DirectoryLimits.MaxDepth - 1)
                    Problem(Department, $"'{path}' has {department.Count + 1} levels with the root; at most {DirectoryLimits.MaxDepth}");
            }

            string? Text(string column)
            {
                var v = Cell(column);
                if (v is null) return null;
                if (v.Length > DirectoryLimits.MaxAttributeLength) Problem(column, $"longer than {DirectoryLimits.MaxAttributeLength} characters");
                else if (v.Any(char.IsControl)) Problem(column, "contains control characters");
                else if (v.Contains('\uFFFD')) Problem(column, "not valid UTF-8 text");
                return v;
            }
            bool? Flag(string column)
            {
                var v = Cell(column);
                if (v is null) return null;
                if (ParseFlag(v) is { } b) return b;
                Problem(column, $"'{v}' is not true or false");
                return null;
            }

            long? quota = null;
            if (Cell(QuotaMB) is { } q)
            {
                if (decimal.TryParse(q, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var mb) && mb > 0 && mb < long.MaxValue / Mebibyte)
                    quota = (long)Math.Round(mb * Mebibyte);
                else Problem(QuotaMB, $"'{q}' is not a positive number of MiB");
            }
            string? hash = null;
            if (Cell(PasswordHash) is { } h)
            {
                if (h.StartsWith("$argon2id$v=19$", StringComparison.Ordinal) && h.Split('$').Length == 6) hash = h;
                else Problem(PasswordHash, "not an Argon2id PHC string ($argon2id$v=19$m=…,t=…,p=…$salt$hash)");
            }
            var attributes = new AccountAttributes(
                DisplayName: Text(DisplayName), Title: Text(Title), EmployeeLevel: Text(EmployeeLevel), Phone: Text(Phone),
                QuotaBytes: quota, MaySendExternal: Flag(MaySendExternal), MayReceiveExternal: Flag(MayReceiveExternal),
                InAddressBook: Flag(InAddressBook), Enabled: Flag(Enabled), MustChangePassword: Flag(MustChangePassword));
            if (problems.Count == before && lp is not null) rows.Add(new ImportRow(record.Line, lp, department, attributes, hash));
        }
        return (rows, problems);
    }

    /// <summary>true/false as spreadsheets write them: true, yes, 1, 是 and false, no, 0, 否, in any case.</summary>
    public static bool? ParseFlag(string value) => value.Trim().ToLowerInvariant() switch
    {
        "true" or "yes" or "y" or "1" or "是" => true,
        "false" or "no" or "n" or "0" or "否" => false,
        _ => null,
    };

    public static string HeaderLine() => string.Join(',', ExportColumns);

    /// <summary>One account as an export line (no line break).</summary>
    public static string Line(DirectoryAccount a)
    {
        static string F(bool b) => b ? "true" : "false";
        var mb = (a.QuotaBytes / (decimal)Mebibyte).ToString("0.####################", CultureInfo.InvariantCulture);
        return string.Join(',', new[]
        {
            CsvReader.Quote(a.Address), CsvReader.Quote(a.DisplayName), CsvReader.Quote(a.DepartmentPath), CsvReader.Quote(a.Title),
            CsvReader.Quote(a.EmployeeLevel), CsvReader.Quote(a.Phone), mb, F(a.MaySendExternal), F(a.MayReceiveExternal),
            F(a.InAddressBook), F(a.Enabled), F(a.MustChangePassword),
        });
    }
}

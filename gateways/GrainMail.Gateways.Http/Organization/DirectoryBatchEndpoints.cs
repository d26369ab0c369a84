using System.Text;
using GrainMail.Contracts;
using GrainMail.Contracts.Domains;
using GrainMail.Contracts.Organization;
using GrainMail.Gateways.Http.Organization.Csv;
using GrainMail.Gateways.Http.Problems;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Routing;
using GrainMail.Gateways.Http.Scopes;

namespace GrainMail.Gateways.Http.Organization;

/// <summary>Batch work on a domain's directory (4.2.13): CSV import and export, bulk actions on a selection.</summary>
public static class DirectoryBatchEndpoints
{
    /// <summary>100,000 accounts with every column fit in well under this.</summary>
    public const long MaxImportBytes = 64L * 1024 * 1024;

    public static void MapDirectoryBatch(this RouteGroupBuilder api)
    {
        var g = api.MapGroup("/domains/{domain}").WithTags("Directory");
        g.MapPost("/import", Import).Accepts<string>("text/csv").Writes(ScopeResource.Domain);
        g.MapGet("/export", Export).Produces<string>(StatusCodes.Status200OK, "text/csv").Reads(ScopeResource.Domain);
        g.MapPost("/accounts/bulk", Bulk).Writes(ScopeResource.Domain);
    }

    /// <summary>
    /// Checks every row first: with any problem nothing is imported (400, the problems in
    /// <c>errors</c>); a dry run answers 200 with the same report and changes nothing.
    /// </summary>
    private static async Task<Results<Ok<ImportReport>, ProblemHttpResult>> Import(
        string domain, HttpRequest request, IGrainFactory grains, bool dryRun = false)
    {
        if (!RouteNames.TryDomain(domain, out var name, out var problem)) return problem;
        var g = grains.GetGrain<IDomainGrain>(name);
        if (await g.GetInfo() is null) return ApiProblem.NoSuchDomain(name);
        // The host holds request bodies to 1 MiB; a directory of 100,000 accounts is some 12 MiB.
        request.HttpContext.Features.Get<Microsoft.AspNetCore.Http.Features.IHttpMaxRequestBodySizeFeature>()?.MaxRequestBodySize = MaxImportBytes;
        if (request.ContentLength > MaxImportBytes) return ApiProblem.Of(StatusCodes.Status413PayloadTooLarge, "File too large", $"at most {MaxImportBytes} bytes");
        using var buffer = new MemoryStream();
        await request.Body.CopyToAsync(buffer, request.HttpContext.RequestAborted);
        if (buffer.Length > MaxImportBytes) return ApiProblem.Of(StatusCodes.Status413PayloadTooLarge, "File too large", $"at most {MaxImportBytes} bytes");
        return await ImportCsvAsync(g, name, buffer.GetBuffer().AsMemory(0, (int)buffer.Length), dryRun);
    }

    /// <summary>
    /// The import itself, for the admin API and the integration API's organisation sync alike:
    /// every row checked first, nothing written when any is bad; then batches to the domain grain.
    /// </summary>
    internal static async Task<Results<Ok<ImportReport>, ProblemHttpResult>> ImportCsvAsync(IDomainGrain g, string name, ReadOnlyMemory<byte> file, bool dryRun)
    {
        var (text, encoding) = CsvText.Decode(file.Span);
        var (rows, problems) = AccountCsv.Parse(text, name);

        // The domain's own checks (aliases, department depth) without writing anything.
        var check = await g.Import(rows, dryRun: true);
        var errors = problems.Concat(check.Problems).OrderBy(p => p.Line).Select(p => new ImportError(p.Line, p.Column, p.Message)).ToList();
        if (dryRun)
            return TypedResults.Ok(new ImportReport(true, encoding, rows.Count, check.Created, check.Updated, 0, check.DepartmentsCreated, errors));
        if (errors.Count > 0)
        {
            return TypedResults.Problem(statusCode: StatusCodes.Status400BadRequest, title: "Import refused",
                detail: $"{errors.Count} problems; nothing was imported", extensions: new Dictionary<string, object?> { ["errors"] = errors });
        }
        int created = 0, updated = 0, unchanged = 0, departments = 0;
        // Batches of rows, each a few multi-row statements in the domain grain (its single writer).
        foreach (var chunk in rows.Chunk(DirectoryLimits.ImportBatch))
        {
            var r = await g.Import(chunk, dryRun: false);
            created += r.Created;
            updated += r.Updated;
            unchanged += r.Unchanged;
            departments += r.DepartmentsCreated;
        }
        return TypedResults.Ok(new ImportReport(false, encoding, rows.Count, created, updated, unchanged, departments, []));
    }

    /// <summary>Every account as CSV in the import's columns, UTF-8 with a byte order mark so that spreadsheets detect it.</summary>
    private static async Task<Results<PushStreamHttpResult, ProblemHttpResult>> Export(string domain, IGrainFactory grains)
    {
        if (!RouteNames.TryDomain(domain, out var name, out var problem)) return problem;
        if (await grains.GetGrain<IDomainGrain>(name).GetInfo() is null) return ApiProblem.NoSuchDomain(name);
        var query = grains.GetGrain<IDirectoryQueryGrain>(0);
        return TypedResults.Stream(async stream =>
        {
            await using var writer = new StreamWriter(stream, new UTF8Encoding(encoderShouldEmitUTF8Identifier: true), 64 * 1024);
            writer.NewLine = "\r\n";
            await writer.WriteLineAsync(AccountCsv.HeaderLine());
            string? after = null;
            do
            {
                var page = await query.PageAccounts(name, new AccountQuery(null, null, DirectoryLimits.MaxPage, after));
                foreach (var a in page.Items) await writer.WriteLineAsync(AccountCsv.Line(a));
                after = page.Next;
            }
            while (after is not null);
        }, "text/csv; charset=utf-8", $"{name}-accounts.csv");
    }

    private static async Task<Results<Ok<BulkResponse>, ProblemHttpResult>> Bulk(string domain, [FromBody] BulkRequest? req, IGrainFactory grains)
    {
        if (req?.Addresses is null) return ApiProblem.BadRequest("Body must be {\"addresses\": [...], \"action\": ...}");
        if (!RouteNames.TryDomain(domain, out var name, out var problem)) return problem;
        BulkAction? action = req.Action switch
        {
            "enable" => BulkAction.Enable,
            "disable" => BulkAction.Disable,
            "move" => BulkAction.Move,
            "quota" => BulkAction.Quota,
            "forcePasswordChange" => BulkAction.ForcePasswordChange,
            _ => null,
        };
        if (action is null) return ApiProblem.BadRequest("Unknown action", "enable, disable, move, quota or forcePasswordChange");
        var inDomain = new List<string>();
        var notFound = new List<string>();
        foreach (var a in req.Addresses)
        {
            if (MailAddress.TryParse(a, out var lp, out var d) && d == name) inDomain.Add(lp);
            else notFound.Add(a);
        }
        var r = await grains.GetGrain<IDomainGrain>(name).Bulk(inDomain, action.Value, req.DepartmentId, req.QuotaBytes);
        if (r.Error is not null) return r.Error.StartsWith("no such domain", StringComparison.Ordinal) ? ApiProblem.NoSuchDomain(name) : ApiProblem.BadRequest("Invalid bulk action", r.Error);
        return TypedResults.Ok(new BulkResponse(r.Changed, notFound.Concat(r.NotFound.Select(lp => $"{lp}@{name}")).ToList()));
    }
}

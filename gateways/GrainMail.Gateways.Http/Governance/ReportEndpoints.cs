using System.Globalization;
using System.Text;
using GrainMail.Contracts.Governance;
using GrainMail.Gateways.Http.Organization.Csv;
using GrainMail.Gateways.Http.Problems;
using GrainMail.Gateways.Http.Scopes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Routing;

namespace GrainMail.Gateways.Http.Governance;

/// <summary>
/// Reports per domain and UTC day (issue 17, Reports): <c>/domains/{domain}/reports/daily</c> and
/// <c>/domains/{domain}/reports/accounts</c>, JSON or, with <c>format=csv</c>, CSV. From counters
/// kept at commit time; nothing here reads a mailbox.
/// </summary>
public static class ReportEndpoints
{
    public const int MaxDays = 366;

    public static void MapReports(this RouteGroupBuilder api)
    {
        var g = api.MapGroup("/domains/{domain}/reports").WithTags("Reports");
        g.MapGet("/daily", Daily).Produces<string>(StatusCodes.Status200OK, "text/csv").Reads(ScopeResource.Domain);
        g.MapGet("/accounts", Accounts).Produces<string>(StatusCodes.Status200OK, "text/csv").Reads(ScopeResource.Domain);
    }

    private static bool TryRange(DateOnly? from, DateOnly? to, string? format, TimeProvider clock, out DateOnly f, out DateOnly t, out ProblemHttpResult? problem)
    {
        var today = DateOnly.FromDateTime(clock.GetUtcNow().UtcDateTime);
        t = to ?? today;
        f = from ?? t;
        problem = null;
        if (format is not (null or "json" or "csv")) problem = ApiProblem.BadRequest("Invalid format", "json or csv");
        else if (t < f) problem = ApiProblem.BadRequest("Invalid range", "to is before from");
        else if (t.DayNumber - f.DayNumber >= MaxDays) problem = ApiProblem.BadRequest("Range too long", $"at most {MaxDays} days");
        return problem is null;
    }

    private static async Task<Results<Ok<IReadOnlyList<DomainDay>>, ContentHttpResult, ProblemHttpResult>> Daily(string domain, IGrainFactory grains,
        TimeProvider clock, DateOnly? from = null, DateOnly? to = null, string? format = null)
    {
        if (!RouteNames.TryDomain(domain, out var name, out var problem)) return problem;
        if (!TryRange(from, to, format, clock, out var f, out var t, out problem)) return problem!;
        var days = await grains.GetGrain<IReportGrain>(0).Daily(name, f, t);
        if (format != "csv") return TypedResults.Ok(days);
        // One line per day; top senders and logins as "key=count" lists in one cell each.
        var csv = new StringBuilder("day,received,received_internal,received_external,sent,sent_internal,sent_external,top_senders,logins\r\n");
        foreach (var d in days)
        {
            csv.Append(CultureInfo.InvariantCulture, $"{d.Day:yyyy-MM-dd},{d.Received},{d.ReceivedInternal},{d.ReceivedExternal},{d.Sent},{d.SentInternal},{d.SentExternal},");
            csv.Append(CsvReader.Quote(string.Join(' ', d.TopSenders.Select(s => $"{s.Account}={s.Sent}")))).Append(',');
            csv.Append(CsvReader.Quote(string.Join(' ', d.Logins.Select(l => $"{l.Channel}/{l.Result}/{(l.Country.Length == 0 ? "-" : l.Country)}/{(l.City.Length == 0 ? "-" : l.City)}={l.Logins}"))));
            csv.Append("\r\n");
        }
        return TypedResults.Text(csv.ToString(), "text/csv; charset=utf-8");
    }

    private static async Task<Results<Ok<IReadOnlyList<AccountDay>>, ContentHttpResult, ProblemHttpResult>> Accounts(string domain, IGrainFactory grains,
        TimeProvider clock, DateOnly? from = null, DateOnly? to = null, string? format = null)
    {
        if (!RouteNames.TryDomain(domain, out var name, out var problem)) return problem;
        if (!TryRange(from, to, format, clock, out var f, out var t, out problem)) return problem!;
        var rows = await grains.GetGrain<IReportGrain>(0).Accounts(name, f, t);
        if (format != "csv") return TypedResults.Ok(rows);
        var csv = new StringBuilder("account,day,received,sent\r\n");
        foreach (var a in rows) csv.Append(CultureInfo.InvariantCulture, $"{CsvReader.Quote(a.Account)},{a.Day:yyyy-MM-dd},{a.Received},{a.Sent}\r\n");
        return TypedResults.Text(csv.ToString(), "text/csv; charset=utf-8");
    }
}

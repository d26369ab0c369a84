using System.Security.Claims;
using System.Text.RegularExpressions;
using GrainMail.Contracts.Sieve;
using GrainMail.Gateways.Http.Audit;
using GrainMail.Gateways.Http.Problems;
using GrainMail.Gateways.Http.Scopes;
using GrainMail.Gateways.Http.UserAuth;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Routing;

namespace GrainMail.Gateways.Http.Sieve;

public sealed record SieveScriptSummary(string Name, bool Active, long Size);

public sealed record SieveScriptResponse(string Name, bool Active, string Script);

public sealed record SieveScriptBody(string? Script);

/// <summary>
/// The user's Sieve scripts over HTTP (<c>/api/v1/me/sieve</c>, the account's own credentials):
/// list, read, store, activate, deactivate and delete. The same grain and table as ManageSieve
/// (RFC 5804) stand behind both, so a script uploaded one way is listed and run the other way; a
/// broken script is refused with its line and reason (<c>line</c>, <c>reason</c> in the problem
/// document), as PUTSCRIPT refuses it. Every change is audited as the account's own action.
/// </summary>
public static partial class MySieveEndpoints
{
    public static IEndpointRouteBuilder MapMySieve(this IEndpointRouteBuilder app)
    {
        var me = app.MapGroup(AdminApi.Prefix + "/me/sieve").RequireAuthorization(AccountAuth.Policy).WithTags("Me");
        me.MapGet("", List).Reads(ScopeResource.Me);
        me.MapGet("/{name}", Get).Reads(ScopeResource.Me);
        me.MapPut("/{name}", Put).Writes(ScopeResource.Me);
        me.MapDelete("/{name}", Delete).Writes(ScopeResource.Me);
        me.MapPost("/{name}/activate", Activate).Writes(ScopeResource.Me);
        me.MapPost("/deactivate", Deactivate).Writes(ScopeResource.Me);
        return app;
    }

    private static ISieveGrain Scripts(ClaimsPrincipal user, IGrainFactory grains) => grains.GetGrain<ISieveGrain>(user.Address());

    private static async Task<Ok<List<SieveScriptSummary>>> List(ClaimsPrincipal user, IGrainFactory grains) =>
        TypedResults.Ok((await Scripts(user, grains).List()).Select(s => new SieveScriptSummary(s.Name, s.Active, s.Size)).ToList());

    private static async Task<Results<Ok<SieveScriptResponse>, ProblemHttpResult>> Get(string name, ClaimsPrincipal user, IGrainFactory grains)
    {
        var sieve = Scripts(user, grains);
        if (await sieve.Get(name) is not { } text) return ApiProblem.NotFound("No such script", name);
        var active = (await sieve.List()).Any(s => s.Name == name && s.Active);
        return TypedResults.Ok(new SieveScriptResponse(name, active, text));
    }

    private static async Task<Results<Ok<SieveScriptSummary>, ProblemHttpResult>> Put(string name, [FromBody] SieveScriptBody? body,
        ClaimsPrincipal user, IGrainFactory grains, HttpContext http)
    {
        Note(http, user, name, "sieve.put");
        if (body?.Script is not { } script) return ApiProblem.BadRequest("No script", "script: the Sieve text (RFC 5228)");
        var sieve = Scripts(user, grains);
        var result = await sieve.Put(name, script);
        if (result.Status != SieveOpStatus.Ok) return Problem(result, name);
        var stored = (await sieve.List()).First(s => s.Name == name);
        return TypedResults.Ok(new SieveScriptSummary(stored.Name, stored.Active, stored.Size));
    }

    private static async Task<Results<NoContent, ProblemHttpResult>> Delete(string name, ClaimsPrincipal user, IGrainFactory grains, HttpContext http)
    {
        Note(http, user, name, "sieve.delete");
        var result = await Scripts(user, grains).Delete(name);
        return result.Status == SieveOpStatus.Ok ? TypedResults.NoContent() : Problem(result, name);
    }

    private static async Task<Results<NoContent, ProblemHttpResult>> Activate(string name, ClaimsPrincipal user, IGrainFactory grains, HttpContext http)
    {
        Note(http, user, name, "sieve.activate");
        var result = await Scripts(user, grains).SetActive(name);
        return result.Status == SieveOpStatus.Ok ? TypedResults.NoContent() : Problem(result, name);
    }

    private static async Task<NoContent> Deactivate(ClaimsPrincipal user, IGrainFactory grains, HttpContext http)
    {
        Note(http, user, null, "sieve.deactivate");
        // RFC 5804 2.8: the empty name deactivates.
        await Scripts(user, grains).SetActive("");
        return TypedResults.NoContent();
    }

    /// <summary>The audit entry names the account as target and actor.</summary>
    private static void Note(HttpContext http, ClaimsPrincipal user, string? name, string action)
    {
        var address = user.Address();
        var note = AuditNote.Of(http);
        note.Action = action;
        note.Target = name is null ? address : $"{address} script={name}";
        note.Domain = address[(address.LastIndexOf('@') + 1)..];
        note.Detail["account"] = address;
        // As ManageSieve and JMAP VacationResponse/set write theirs (SieveChangeAudit).
        note.Detail["channel"] = GrainMail.Gateways.Common.Audit.SieveChangeAudit.Http;
        // The account acts for itself: named as the entry's actor, in the role "user" (a user holds no admin role).
        if (AdminCaller.Of(http) is null) new AdminCaller(false, address, GrainMail.Contracts.Admin.SessionKind.User, []).AttachTo(http);
    }

    private static ProblemHttpResult Problem(SieveOpResult result, string name) => result.Status switch
    {
        SieveOpStatus.Invalid => Invalid(result.Reason ?? ""),
        SieveOpStatus.NotFound => ApiProblem.NotFound("No such script", name),
        SieveOpStatus.InvalidName => ApiProblem.BadRequest("Invalid script name", result.Reason),
        SieveOpStatus.Active => ApiProblem.Conflict("The active script cannot be deleted", "activate another script or POST /api/v1/me/sieve/deactivate first"),
        SieveOpStatus.TooLarge => ApiProblem.Of(StatusCodes.Status413PayloadTooLarge, "Script too large", result.Reason),
        SieveOpStatus.TooMany => ApiProblem.Conflict("Too many scripts", result.Reason),
        SieveOpStatus.Exists => ApiProblem.Conflict("A script of that name exists", name),
        _ => ApiProblem.BadRequest("Refused", result.Reason),
    };

    /// <summary>400 with the validator's line and reason as members of their own, for editors to point at the line.</summary>
    private static ProblemHttpResult Invalid(string reason)
    {
        var m = LineAndReason().Match(reason);
        var extensions = new Dictionary<string, object?>();
        if (m.Success)
        {
            extensions["line"] = int.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
            extensions["reason"] = m.Groups[2].Value;
        }
        return TypedResults.Problem(statusCode: StatusCodes.Status400BadRequest, title: "Invalid script", detail: reason, extensions: extensions);
    }

    [GeneratedRegex(@"^line (\d+): (.*)$", RegexOptions.Singleline)]
    private static partial Regex LineAndReason();
}

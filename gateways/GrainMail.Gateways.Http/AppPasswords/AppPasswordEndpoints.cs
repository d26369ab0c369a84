using GrainMail.Contracts.Accounts;
using GrainMail.Gateways.Http.Problems;
using GrainMail.Gateways.Http.Scopes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Routing;

namespace GrainMail.Gateways.Http.AppPasswords;

public sealed record AppPasswordRequest(string? Name);

/// <param name="Password">Shown once, in this answer only.</param>
public sealed record AppPasswordCreated(string Name, string Password);

/// <summary>/accounts/{address}/app-passwords: one password per mail client, revoked one by one.</summary>
public static class AppPasswordEndpoints
{
    public const int MaxNameLength = 64;

    public static void MapAppPasswords(this RouteGroupBuilder api)
    {
        var g = api.MapGroup("/accounts/{address}/app-passwords").WithTags("App passwords");
        g.MapPost("", Create).Writes(ScopeResource.Account, allowSelf: true);
        g.MapDelete("/{name}", Revoke).Writes(ScopeResource.Account, allowSelf: true);
    }

    private static async Task<Results<Created<AppPasswordCreated>, ProblemHttpResult>> Create(
        string address, [FromBody] AppPasswordRequest? req, IGrainFactory grains)
    {
        if (req is null) return ApiProblem.BadJson();
        if (!RouteNames.TryAddress(address, out var a, out var problem)) return problem;
        var name = req.Name?.Trim();
        if (string.IsNullOrEmpty(name) || name.Length > MaxNameLength || name.Any(char.IsControl))
            return ApiProblem.BadRequest("Invalid app password name", $"1 to {MaxNameLength} characters, no control characters");
        var account = grains.GetGrain<IAccountGrain>(a);
        var info = await account.GetInfo();
        if (info is null) return ApiProblem.NoSuchAccount(a);
        if (info.AppPasswords.Contains(name)) return ApiProblem.Conflict("App password exists", name);
        var password = await account.CreateAppPassword(name);
        return password is null
            ? ApiProblem.NoSuchAccount(a)
            : TypedResults.Created($"/api/v1/accounts/{Uri.EscapeDataString(a)}/app-passwords/{Uri.EscapeDataString(name)}", new AppPasswordCreated(name, password));
    }

    private static async Task<Results<NoContent, ProblemHttpResult>> Revoke(string address, string name, HttpContext http, IGrainFactory grains)
    {
        if (!RouteNames.TryAddress(address, out var a, out var problem)) return problem;
        // The same audited security event as the user's own revocation (LoginSecurityEndpoints), besides the request's entry.
        return await grains.GetGrain<IAccountAccessGrain>(a).RevokeAppPasswordBy(name, LoginSecurity.LoginSecurityEndpoints.Actor(http, a)) switch
        {
            AppPasswordStatus.Revoked => TypedResults.NoContent(),
            AppPasswordStatus.NotFound => ApiProblem.NotFound("No such app password", name),
            _ => ApiProblem.NoSuchAccount(a),
        };
    }
}

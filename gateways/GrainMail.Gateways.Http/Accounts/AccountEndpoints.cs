using GrainMail.Contracts;
using GrainMail.Contracts.Accounts;
using GrainMail.Contracts.Domains;
using GrainMail.Gateways.Http.Problems;
using GrainMail.Gateways.Http.Scopes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Routing;

namespace GrainMail.Gateways.Http.Accounts;

/// <summary>Accounts of a domain: create and list under /domains/{domain}; read, change, delete under /accounts/{address}.</summary>
public static class AccountEndpoints
{
    public static void MapAccounts(this RouteGroupBuilder api)
    {
        // Creating and listing say nothing about a department yet: the domain's roles.
        api.MapPost("/domains/{domain}/accounts", Create).WithTags("Accounts").Writes(ScopeResource.Domain);
        api.MapGet("/domains/{domain}/accounts", List).WithTags("Accounts").Reads(ScopeResource.Domain);
        var g = api.MapGroup("/accounts/{address}").WithTags("Accounts");
        g.MapGet("", Get).Reads(ScopeResource.Account, allowSelf: true);
        g.MapDelete("", Delete).Writes(ScopeResource.Account);
        g.MapPut("/password", SetPassword).Writes(ScopeResource.Account);
        g.MapPut("/enabled", SetEnabled).Writes(ScopeResource.Account);
    }

    public static async Task<AccountResponse> Describe(IGrainFactory grains, string address) =>
        AccountResponse.From(address, await grains.GetGrain<IAccountGrain>(address).GetInfo());

    private static async Task<Results<Created<AccountResponse>, ProblemHttpResult>> Create(
        string domain, [FromBody] CreateAccountRequest? req, IGrainFactory grains)
    {
        if (req is null) return ApiProblem.BadJson();
        if (!RouteNames.TryDomain(domain, out var name, out var problem)) return problem;
        var lp = MailAddress.NormalizeLocalPart(req.LocalPart);
        if (lp is null) return ApiProblem.BadRequest("Invalid address", $"'{req.LocalPart}' is not a valid local part");
        if (PasswordRule.Problem(req.Password) is { } weak) return ApiProblem.BadRequest("Password too short", weak);
        if (req.QuotaBytes is <= 0) return ApiProblem.BadRequest("Quota must be positive");
        var result = await grains.GetGrain<IDomainGrain>(name).CreateAccount(new NewAccount(lp, req.Password!, req.DisplayName, req.QuotaBytes));
        var address = $"{lp}@{name}";
        return result.Status switch
        {
            DomainOpStatus.Ok => TypedResults.Created($"/api/v1/accounts/{Uri.EscapeDataString(address)}", await Describe(grains, address)),
            DomainOpStatus.NotFound => ApiProblem.NoSuchDomain(name),
            DomainOpStatus.AlreadyExists => ApiProblem.Conflict("Address exists", $"{address} is an account or alias"),
            _ => ApiProblem.BadRequest("Invalid account", result.Detail),
        };
    }

    private static async Task<Results<Ok<List<AccountResponse>>, ProblemHttpResult>> List(string domain, IGrainFactory grains)
    {
        if (!RouteNames.TryDomain(domain, out var name, out var problem)) return problem;
        var g = grains.GetGrain<IDomainGrain>(name);
        if (await g.GetInfo() is null) return ApiProblem.NoSuchDomain(name);
        var list = new List<AccountResponse>();
        foreach (var address in await g.ListAccounts()) list.Add(await Describe(grains, address));
        return TypedResults.Ok(list);
    }

    private static async Task<Results<Ok<AccountResponse>, ProblemHttpResult>> Get(string address, IGrainFactory grains)
    {
        if (!RouteNames.TryAddress(address, out var a, out var problem)) return problem;
        var info = await grains.GetGrain<IAccountGrain>(a).GetInfo();
        return info is null ? ApiProblem.NoSuchAccount(a) : TypedResults.Ok(AccountResponse.From(a, info));
    }

    private static async Task<Results<NoContent, ProblemHttpResult>> Delete(string address, IGrainFactory grains)
    {
        if (!RouteNames.TryAddress(address, out var a, out var problem)) return problem;
        return await grains.GetGrain<IDomainGrain>(MailAddress.DomainOf(a)).DeleteAccount(MailAddress.LocalPartOf(a)) == DomainOpStatus.Ok
            ? TypedResults.NoContent()
            : ApiProblem.NoSuchAccount(a);
    }

    private static async Task<Results<NoContent, ProblemHttpResult>> SetPassword(string address, [FromBody] PasswordRequest? req, IGrainFactory grains)
    {
        if (req is null) return ApiProblem.BadJson();
        if (!RouteNames.TryAddress(address, out var a, out var problem)) return problem;
        if (PasswordRule.Problem(req.Password) is { } weak) return ApiProblem.BadRequest("Password too short", weak);
        return await grains.GetGrain<IAccountGrain>(a).SetPassword(req.Password!) ? TypedResults.NoContent() : ApiProblem.NoSuchAccount(a);
    }

    private static async Task<Results<NoContent, ProblemHttpResult>> SetEnabled(string address, [FromBody] EnabledRequest? req, IGrainFactory grains)
    {
        if (req?.Enabled is not { } enabled) return ApiProblem.BadRequest("Body must be {\"enabled\": true|false}");
        if (!RouteNames.TryAddress(address, out var a, out var problem)) return problem;
        // Through the domain: the recipient policy reads "disabled" there, in the same call as the rest.
        return await grains.GetGrain<IDomainGrain>(MailAddress.DomainOf(a)).SetAccountEnabled(MailAddress.LocalPartOf(a), enabled) == DomainOpStatus.Ok
            ? TypedResults.NoContent()
            : ApiProblem.NoSuchAccount(a);
    }
}

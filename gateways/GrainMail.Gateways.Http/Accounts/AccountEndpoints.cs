using GrainMail.Contracts;
using GrainMail.Contracts.Accounts;
using GrainMail.Contracts.Domains;
using GrainMail.Contracts.Organization;
using GrainMail.Gateways.Http.Organization;
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
        g.MapPatch("", Patch).Writes(ScopeResource.Account);
        g.MapDelete("", Delete).Writes(ScopeResource.Account);
        g.MapPut("/password", SetPassword).Writes(ScopeResource.Account);
        g.MapPut("/enabled", SetEnabled).Writes(ScopeResource.Account);
    }

    public static async Task<AccountResponse> Describe(IGrainFactory grains, string address)
    {
        var info = await grains.GetGrain<IAccountGrain>(address).GetInfo();
        var row = await grains.GetGrain<IDirectoryQueryGrain>(0).GetAccount(address);
        return row is null ? AccountResponse.From(address, info) : AccountResponse.From(row, info);
    }

    private static async Task<Results<Created<AccountResponse>, ProblemHttpResult>> Create(
        string domain, [FromBody] CreateAccountRequest? req, IGrainFactory grains)
    {
        if (req is null) return ApiProblem.BadJson();
        if (!RouteNames.TryDomain(domain, out var name, out var problem)) return problem;
        var lp = MailAddress.NormalizeLocalPart(req.LocalPart);
        if (lp is null) return ApiProblem.BadRequest("Invalid address", $"'{req.LocalPart}' is not a valid local part");
        if (PasswordRule.Problem(req.Password) is { } weak) return ApiProblem.BadRequest("Password too short", weak);
        if (req.QuotaBytes is <= 0) return ApiProblem.BadRequest("Quota must be positive");
        var violations = await grains.GetGrain<ISecurityPolicyGrain>(0).CheckPassword(name, lp, req.DisplayName, req.Password!);
        if (violations.Count > 0) return AccountSecurity.AccountSecurityEndpoints.PasswordRejected(violations);
        var attributes = new AccountAttributes(req.DisplayName, req.Title, req.EmployeeLevel, req.Phone, req.DepartmentId, req.QuotaBytes,
            req.MaySendExternal, req.MayReceiveExternal, req.InAddressBook, req.Enabled, req.MustChangePassword);
        var result = await grains.GetGrain<IDomainGrain>(name).CreateAccount(new NewAccount(lp, req.Password!, req.DisplayName, req.QuotaBytes, attributes));
        var address = $"{lp}@{name}";
        return result.Status switch
        {
            DomainOpStatus.Ok => TypedResults.Created($"/api/v1/accounts/{Uri.EscapeDataString(address)}", await Describe(grains, address)),
            DomainOpStatus.NotFound => ApiProblem.NoSuchDomain(name),
            DomainOpStatus.AlreadyExists => ApiProblem.Conflict("Address exists", $"{address} is an account or alias"),
            _ => ApiProblem.BadRequest("Invalid account", result.Detail),
        };
    }

    /// <summary>
    /// Without parameters the whole domain as an array (the original shape); with any of q,
    /// department, limit or cursor one page <c>{"items","nextCursor"}</c> in address order.
    /// Both read the directory table only (no grain call per account), so app passwords are not listed.
    /// </summary>
    private static async Task<Results<Ok<List<AccountResponse>>, Ok<AccountPageResponse>, ProblemHttpResult>> List(
        string domain, IGrainFactory grains, string? q = null, long? department = null, int? limit = null, string? cursor = null)
    {
        if (!RouteNames.TryDomain(domain, out var name, out var problem)) return problem;
        if (await grains.GetGrain<IDomainGrain>(name).GetInfo() is null) return ApiProblem.NoSuchDomain(name);
        if (limit is < 1 or > DirectoryLimits.MaxPage) return ApiProblem.BadRequest("Invalid limit", $"1 to {DirectoryLimits.MaxPage}");
        var query = grains.GetGrain<IDirectoryQueryGrain>(0);
        if (q is null && department is null && limit is null && cursor is null)
        {
            var all = new List<AccountResponse>();
            string? after = null;
            do
            {
                var page = await query.PageAccounts(name, new AccountQuery(null, null, DirectoryLimits.MaxPage, after));
                all.AddRange(page.Items.Select(a => AccountResponse.From(a, null)));
                after = page.Next;
            }
            while (after is not null);
            return TypedResults.Ok(all);
        }
        var result = await query.PageAccounts(name, new AccountQuery(q?.Trim(), department, limit ?? 50, string.IsNullOrEmpty(cursor) ? null : cursor));
        return TypedResults.Ok(new AccountPageResponse(result.Items.Select(a => AccountResponse.From(a, null)).ToList(), result.Next));
    }

    private static async Task<Results<Ok<AccountResponse>, ProblemHttpResult>> Patch(string address, [FromBody] AccountPatchRequest? req, IGrainFactory grains)
    {
        if (req is null) return ApiProblem.BadJson();
        if (!RouteNames.TryAddress(address, out var a, out var problem)) return problem;
        var changes = new AccountAttributes(req.DisplayName, req.Title, req.EmployeeLevel, req.Phone, req.DepartmentId, req.QuotaBytes,
            req.MaySendExternal, req.MayReceiveExternal, req.InAddressBook, req.Enabled, req.MustChangePassword);
        var r = await grains.GetGrain<IDomainGrain>(MailAddress.DomainOf(a)).UpdateAccount(MailAddress.LocalPartOf(a), changes);
        return r.Status switch
        {
            DomainOpStatus.Ok => TypedResults.Ok(await Describe(grains, a)),
            DomainOpStatus.NotFound => ApiProblem.NoSuchAccount(a),
            _ => ApiProblem.BadRequest("Invalid account attributes", r.Detail),
        };
    }

    private static async Task<Results<Ok<AccountResponse>, ProblemHttpResult>> Get(string address, IGrainFactory grains)
    {
        if (!RouteNames.TryAddress(address, out var a, out var problem)) return problem;
        var info = await grains.GetGrain<IAccountGrain>(a).GetInfo();
        if (info is null) return ApiProblem.NoSuchAccount(a);
        var row = await grains.GetGrain<IDirectoryQueryGrain>(0).GetAccount(a);
        return TypedResults.Ok(row is null ? AccountResponse.From(a, info) : AccountResponse.From(row, info));
    }

    private static async Task<Results<NoContent, ProblemHttpResult>> Delete(string address, IGrainFactory grains)
    {
        if (!RouteNames.TryAddress(address, out var a, out var problem)) return problem;
        return await grains.GetGrain<IDomainGrain>(MailAddress.DomainOf(a)).DeleteAccount(MailAddress.LocalPartOf(a)) == DomainOpStatus.Ok
            ? TypedResults.NoContent()
            : ApiProblem.NoSuchAccount(a);
    }

    /// <summary>An administrator's reset: through the domain's password policy and history, audited.</summary>
    private static async Task<Results<NoContent, ProblemHttpResult>> SetPassword(string address, [FromBody] PasswordRequest? req, HttpContext http, IGrainFactory grains)
    {
        if (req is null) return ApiProblem.BadJson();
        if (!RouteNames.TryAddress(address, out var a, out var problem)) return problem;
        if (PasswordRule.Problem(req.Password) is { } weak) return ApiProblem.BadRequest("Password too short", weak);
        var r = await grains.GetGrain<IAccountSecurityGrain>(a).ChangePassword(new PasswordChange(req.Password!, PasswordChangeKind.Admin,
            AccountSecurity.AccountSecurityEndpoints.AdminActor(http), MustChangeAfter: req.MustChangePassword ?? false));
        return r.Status switch
        {
            PasswordSetStatus.Ok => TypedResults.NoContent(),
            PasswordSetStatus.Rejected => AccountSecurity.AccountSecurityEndpoints.PasswordRejected(r.Violations),
            _ => ApiProblem.NoSuchAccount(a),
        };
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

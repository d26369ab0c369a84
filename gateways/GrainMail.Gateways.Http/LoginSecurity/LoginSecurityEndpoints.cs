using GrainMail.Contracts.Accounts;
using GrainMail.Contracts.Admin;
using GrainMail.Gateways.Http.Problems;
using GrainMail.Gateways.Http.Scopes;
using GrainMail.Gateways.Http.SentLog;
using GrainMail.Gateways.Http.Trust;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Routing;

namespace GrainMail.Gateways.Http.LoginSecurity;

/// <summary>
/// Login security and delegation (issues 16, 17). The user's own view under <c>/me</c> (any
/// session of the account); the admin's under <c>/accounts/{address}</c>, <c>/domains/{domain}</c>
/// and <c>/domains/{domain}/departments/{departmentId}</c>, each declared for the scope check.
/// </summary>
public static class LoginSecurityEndpoints
{
    public const int DefaultLimit = 100;
    public const int MaxLimit = 1000;

    public static void MapLoginSecurity(this RouteGroupBuilder api)
    {
        var me = api.MapGroup("/me").WithTags("Me");
        me.MapGet("/logins", MyLogins).Reads(ScopeResource.Me);
        me.MapGet("/sent-log", MySentLog).Reads(ScopeResource.Me);
        me.MapGet("/received-log", MyReceivedLog).Reads(ScopeResource.Me);
        me.MapGet("/sessions", MySessions).Reads(ScopeResource.Me);
        me.MapDelete("/sessions/{id}", EndMySession).Reads(ScopeResource.Me);
        me.MapGet("/app-passwords", MyAppPasswords).Reads(ScopeResource.Me);
        me.MapDelete("/app-passwords/{name}", RevokeMyAppPassword).Reads(ScopeResource.Me);
        me.MapGet("/delegations", MyDelegations).Reads(ScopeResource.Me);
        me.MapPost("/delegations", DelegateMine).Reads(ScopeResource.Me);
        me.MapDelete("/delegations/{delegate}", UndelegateMine).Reads(ScopeResource.Me);

        var account = api.MapGroup("/accounts/{address}").WithTags("Login security");
        account.MapGet("/logins", AccountLogins).Reads(ScopeResource.Account, allowSelf: true);
        account.MapPost("/unlock", Unlock).Writes(ScopeResource.Account);
        account.MapGet("/sessions", AccountSessions).Reads(ScopeResource.Account, allowSelf: true);
        account.MapDelete("/sessions/{id}", EndAccountSession).Writes(ScopeResource.Account, allowSelf: true);
        account.MapGet("/app-passwords", AccountAppPasswords).Reads(ScopeResource.Account, allowSelf: true);
        account.MapGet("/delegations", AccountDelegations).Reads(ScopeResource.Account, allowSelf: true);
        account.MapPost("/delegations", AddAccountDelegation).Writes(ScopeResource.Account, allowSelf: true);
        account.MapDelete("/delegations/{delegate}", RemoveAccountDelegation).Writes(ScopeResource.Account, allowSelf: true);

        var domain = api.MapGroup("/domains/{domain}").WithTags("Login security");
        domain.MapGet("/logins", DomainLogins).Reads(ScopeResource.Domain);
        domain.MapGet("/departments/{departmentId:long}/logins", DepartmentLogins).Reads(ScopeResource.Department);
        domain.MapGet("/login-ip-rules", Rules).Reads(ScopeResource.Domain);
        domain.MapPost("/login-ip-rules", AddRule).Writes(ScopeResource.Domain);
        domain.MapDelete("/login-ip-rules/{id:long}", DeleteRule).Writes(ScopeResource.Domain);
    }

    // --- who is calling ---

    private static string Me(HttpContext http) => AdminCaller.Of(http)!.Account!;

    /// <summary>The audit's actor: the account (or super) with the role it acts in here.</summary>
    /// <summary>Who acts, as the account grain audits it: the super admin, the user, or an admin in its strongest role.</summary>
    internal static SecurityActor Actor(HttpContext http, string? target = null)
    {
        var caller = AdminCaller.Of(http)!;
        var ip = http.Connection.RemoteIpAddress?.ToString() ?? "";
        if (caller.IsSuper) return new SecurityActor("super", "super", ip);
        var role = caller.Account == target || caller.Kind == SessionKind.User || caller.Roles.Count == 0
            ? "user"
            : AdminRoleNames.Of(caller.Roles.OrderBy(r => r.Role).First().Role);
        return new SecurityActor(caller.Account!, role, ip);
    }

    private static ProblemHttpResult? BadLimit(int? limit) =>
        limit is < 1 or > MaxLimit ? ApiProblem.BadRequest("Invalid limit", $"1 to {MaxLimit}") : null;

    private static async Task<LoginHistoryResponse> History(IGrainFactory grains, string? account, string? domain, long? departmentId, long? before, int? limit)
    {
        var take = limit ?? DefaultLimit;
        var rows = await grains.GetGrain<ILoginSecurityGrain>(0).Logins(account, domain, departmentId, before, take);
        return new LoginHistoryResponse(rows.Select(LoginRecordResponse.From).ToList(), rows.Count == take ? rows[^1].Id : null);
    }

    // --- history ---

    private static async Task<Results<Ok<LoginHistoryResponse>, ProblemHttpResult>> MyLogins(HttpContext http, IGrainFactory grains, long? before, int? limit) =>
        BadLimit(limit) is { } bad ? bad : TypedResults.Ok(await History(grains, Me(http), null, null, before, limit));

    private static async Task<Results<Ok<LoginHistoryResponse>, ProblemHttpResult>> AccountLogins(string address, IGrainFactory grains, long? before, int? limit)
    {
        if (!RouteNames.TryAddress(address, out var a, out var problem)) return problem;
        return BadLimit(limit) is { } bad ? bad : TypedResults.Ok(await History(grains, a, null, null, before, limit));
    }

    private static async Task<Results<Ok<LoginHistoryResponse>, ProblemHttpResult>> DomainLogins(string domain, IGrainFactory grains, long? before, int? limit)
    {
        if (!RouteNames.TryDomain(domain, out var d, out var problem)) return problem;
        return BadLimit(limit) is { } bad ? bad : TypedResults.Ok(await History(grains, null, d, null, before, limit));
    }

    private static async Task<Results<Ok<LoginHistoryResponse>, ProblemHttpResult>> DepartmentLogins(string domain, long departmentId, IGrainFactory grains,
        long? before, int? limit)
    {
        if (!RouteNames.TryDomain(domain, out var d, out var problem)) return problem;
        return BadLimit(limit) is { } bad ? bad : TypedResults.Ok(await History(grains, null, d, departmentId, before, limit));
    }

    private static async Task<Results<Ok<IReadOnlyList<SentAttemptResponse>>, ProblemHttpResult>> MySentLog(HttpContext http, SentLogReader reader,
        int? limit, CancellationToken ct) =>
        BadLimit(limit) is { } bad ? bad : TypedResults.Ok(await reader.AttemptsOfSenderAsync(Me(http), limit ?? DefaultLimit, ct));

    private static async Task<Results<Ok<List<ReceiveLogLine>>, ProblemHttpResult>> MyReceivedLog(HttpContext http, IGrainFactory grains, int? limit)
    {
        if (BadLimit(limit) is { } bad) return bad;
        var lines = await grains.GetGrain<GrainMail.Contracts.Trust.IReceiveLogGrain>(0).Read(Me(http), limit ?? DefaultLimit);
        return TypedResults.Ok(lines.Select(l => new ReceiveLogLine(l.ReceivedAt, l.Sender, l.ClientIp, l.FromDomain, l.Action, l.Score, l.Symbols,
            l.AuthenticationResults)).ToList());
    }

    // --- sessions ---

    private const string MailPrefix = "mail-";
    private const string ApiPrefix = "api-";

    private static async Task<List<AccountSessionResponse>> SessionsOf(IGrainFactory grains, string account)
    {
        var web = await grains.GetGrain<ILoginSecurityGrain>(0).WebSessions(account);
        var mail = await grains.GetGrain<ISessionBoardGrain>(account).List();
        return
        [
            .. web.Select(s => new AccountSessionResponse(ApiPrefix + s.Id, "api", s.Kind, null, null, null, s.CreatedAt, s.LastUsedAt, s.ExpiresAt)),
            // The board also lists delegates' sessions on this mailbox; they show with actsFor.
            .. mail.Select(s => new AccountSessionResponse(MailPrefix + s.Id.ToString("N"), "mail", s.Channel, s.ClientIp,
                s.Account == account ? s.ActsFor : $"{s.Account} for {s.ActsFor}", s.AppPassword, s.Since, null, null)),
        ];
    }

    private static async Task<bool> EndSession(IGrainFactory grains, string account, string id, SecurityActor actor)
    {
        var security = grains.GetGrain<ILoginSecurityGrain>(0);
        if (id.StartsWith(ApiPrefix, StringComparison.Ordinal)) return await security.EndWebSession(account, id[ApiPrefix.Length..], actor);
        if (id.StartsWith(MailPrefix, StringComparison.Ordinal) && Guid.TryParseExact(id[MailPrefix.Length..], "N", out var g))
            return await security.EndMailSession(account, g, actor);
        return false;
    }

    private static async Task<Ok<List<AccountSessionResponse>>> MySessions(HttpContext http, IGrainFactory grains) =>
        TypedResults.Ok(await SessionsOf(grains, Me(http)));

    private static async Task<Results<NoContent, ProblemHttpResult>> EndMySession(string id, HttpContext http, IGrainFactory grains) =>
        await EndSession(grains, Me(http), id, Actor(http, Me(http))) ? TypedResults.NoContent() : ApiProblem.NotFound("No such session", id);

    private static async Task<Results<Ok<List<AccountSessionResponse>>, ProblemHttpResult>> AccountSessions(string address, IGrainFactory grains)
    {
        if (!RouteNames.TryAddress(address, out var a, out var problem)) return problem;
        return TypedResults.Ok(await SessionsOf(grains, a));
    }

    private static async Task<Results<NoContent, ProblemHttpResult>> EndAccountSession(string address, string id, HttpContext http, IGrainFactory grains)
    {
        if (!RouteNames.TryAddress(address, out var a, out var problem)) return problem;
        return await EndSession(grains, a, id, Actor(http, a)) ? TypedResults.NoContent() : ApiProblem.NotFound("No such session", id);
    }

    // --- app passwords ---

    private static async Task<Ok<List<AppPasswordResponse>>> MyAppPasswords(HttpContext http, IGrainFactory grains) =>
        TypedResults.Ok((await grains.GetGrain<IAccountAccessGrain>(Me(http)).AppPasswordList()).Select(p => new AppPasswordResponse(p.Name, p.CreatedAt)).ToList());

    private static async Task<Results<Ok<List<AppPasswordResponse>>, ProblemHttpResult>> AccountAppPasswords(string address, IGrainFactory grains)
    {
        if (!RouteNames.TryAddress(address, out var a, out var problem)) return problem;
        if (await grains.GetGrain<IAccountGrain>(a).GetInfo() is null) return ApiProblem.NoSuchAccount(a);
        return TypedResults.Ok((await grains.GetGrain<IAccountAccessGrain>(a).AppPasswordList()).Select(p => new AppPasswordResponse(p.Name, p.CreatedAt)).ToList());
    }

    private static async Task<Results<NoContent, ProblemHttpResult>> RevokeMyAppPassword(string name, HttpContext http, IGrainFactory grains) =>
        // The account grain ends the IMAP/POP3 sessions that logged in with it.
        await grains.GetGrain<IAccountAccessGrain>(Me(http)).RevokeAppPasswordBy(name, Actor(http, Me(http))) == AppPasswordStatus.Revoked
            ? TypedResults.NoContent()
            : ApiProblem.NotFound("No such app password", name);

    // --- lockout ---

    private static async Task<Results<Ok<UnlockResponse>, ProblemHttpResult>> Unlock(string address, HttpContext http, IGrainFactory grains)
    {
        if (!RouteNames.TryAddress(address, out var a, out var problem)) return problem;
        var security = grains.GetGrain<IAccountAccessGrain>(a);
        var wasLocked = await security.LockedUntil() is not null;
        return await security.Unlock(Actor(http, a)) ? TypedResults.Ok(new UnlockResponse(a, wasLocked)) : ApiProblem.NoSuchAccount(a);
    }

    // --- delegation ---

    private static async Task<Ok<List<DelegationResponse>>> MyDelegations(HttpContext http, IGrainFactory grains) =>
        TypedResults.Ok((await grains.GetGrain<IAccountAccessGrain>(Me(http)).Delegations()).Select(DelegationResponse.From).ToList());

    private static Task<Results<Created<DelegationResponse>, ProblemHttpResult>> DelegateMine([FromBody] DelegationRequest? req, HttpContext http, IGrainFactory grains) =>
        AddDelegation(Me(http), req, http, grains);

    private static Task<Results<NoContent, ProblemHttpResult>> UndelegateMine(string @delegate, HttpContext http, IGrainFactory grains) =>
        RemoveDelegation(Me(http), @delegate, http, grains);

    private static async Task<Results<Ok<List<DelegationResponse>>, ProblemHttpResult>> AccountDelegations(string address, IGrainFactory grains)
    {
        if (!RouteNames.TryAddress(address, out var a, out var problem)) return problem;
        return TypedResults.Ok((await grains.GetGrain<IAccountAccessGrain>(a).Delegations()).Select(DelegationResponse.From).ToList());
    }

    private static async Task<Results<Created<DelegationResponse>, ProblemHttpResult>> AddAccountDelegation(string address, [FromBody] DelegationRequest? req,
        HttpContext http, IGrainFactory grains)
    {
        if (!RouteNames.TryAddress(address, out var a, out var problem)) return problem;
        return await AddDelegation(a, req, http, grains);
    }

    private static async Task<Results<NoContent, ProblemHttpResult>> RemoveAccountDelegation(string address, string @delegate, HttpContext http, IGrainFactory grains)
    {
        if (!RouteNames.TryAddress(address, out var a, out var problem)) return problem;
        return await RemoveDelegation(a, @delegate, http, grains);
    }

    private static async Task<Results<Created<DelegationResponse>, ProblemHttpResult>> AddDelegation(string owner, DelegationRequest? req, HttpContext http, IGrainFactory grains)
    {
        if (req is null) return ApiProblem.BadJson();
        if (!RouteNames.TryAddress(req.Delegate, out var to, out var problem)) return problem;
        var actor = Actor(http, owner);
        switch (await grains.GetGrain<IAccountAccessGrain>(owner).AddDelegate(to, actor))
        {
            case DelegationStatus.Added:
                var made = (await grains.GetGrain<IAccountAccessGrain>(owner).Delegations()).First(d => d.Owner == owner && d.Delegate == to);
                return TypedResults.Created($"/api/v1/accounts/{Uri.EscapeDataString(owner)}/delegations/{Uri.EscapeDataString(to)}", DelegationResponse.From(made));
            case DelegationStatus.AlreadyExists:
                return ApiProblem.Conflict("Delegation exists", $"{to} already has access to {owner}");
            case DelegationStatus.Self:
                return ApiProblem.BadRequest("Cannot delegate to oneself");
            case DelegationStatus.NoSuchDelegate:
                return ApiProblem.BadRequest("No such delegate", $"{to} is not an account here");
            default:
                return ApiProblem.NoSuchAccount(owner);
        }
    }

    private static async Task<Results<NoContent, ProblemHttpResult>> RemoveDelegation(string owner, string @delegate, HttpContext http, IGrainFactory grains)
    {
        if (!RouteNames.TryAddress(@delegate, out var to, out var problem)) return problem;
        return await grains.GetGrain<IAccountAccessGrain>(owner).RemoveDelegate(to, Actor(http, owner)) == DelegationStatus.Removed
            ? TypedResults.NoContent()
            : ApiProblem.NotFound("No such delegation", $"{owner} → {to}");
    }

    // --- IP rules ---

    private static async Task<Results<Ok<List<LoginIpRuleResponse>>, ProblemHttpResult>> Rules(string domain, IGrainFactory grains)
    {
        if (!RouteNames.TryDomain(domain, out var d, out var problem)) return problem;
        return TypedResults.Ok((await grains.GetGrain<ILoginSecurityGrain>(0).Rules(d)).Select(LoginIpRuleResponse.From).ToList());
    }

    private static async Task<Results<Created<LoginIpRuleResponse>, ProblemHttpResult>> AddRule(string domain, [FromBody] LoginIpRuleRequest? req,
        HttpContext http, IGrainFactory grains)
    {
        if (req is null) return ApiProblem.BadJson();
        if (!RouteNames.TryDomain(domain, out var d, out var problem)) return problem;
        if (string.IsNullOrWhiteSpace(req.Network)) return ApiProblem.BadRequest("network is required", "a CIDR prefix such as 192.0.2.0/24 or 2001:db8::/32");
        if (req.Note is { Length: > 200 }) return ApiProblem.BadRequest("Note too long", "at most 200 characters");
        var result = await grains.GetGrain<ILoginSecurityGrain>(0).AddRule(d, req.DepartmentId, req.Network, req.Note, Actor(http));
        return result.Status switch
        {
            LoginRuleStatus.Added => TypedResults.Created($"/api/v1/domains/{d}/login-ip-rules/{result.Rule!.Id}", LoginIpRuleResponse.From(result.Rule)),
            LoginRuleStatus.Exists => ApiProblem.Conflict("Rule exists", req.Network),
            LoginRuleStatus.NoSuchDepartment => ApiProblem.BadRequest("No such department", $"{req.DepartmentId} is not a department of {d}"),
            _ => ApiProblem.BadRequest("Invalid network", $"'{req.Network}': a CIDR prefix with the host bits zero, such as 192.0.2.0/24"),
        };
    }

    private static async Task<Results<NoContent, ProblemHttpResult>> DeleteRule(string domain, long id, HttpContext http, IGrainFactory grains)
    {
        if (!RouteNames.TryDomain(domain, out var d, out var problem)) return problem;
        return await grains.GetGrain<ILoginSecurityGrain>(0).DeleteRule(d, id, Actor(http)) is null
            ? ApiProblem.NotFound("No such rule", id.ToString(System.Globalization.CultureInfo.InvariantCulture))
            : TypedResults.NoContent();
    }
}

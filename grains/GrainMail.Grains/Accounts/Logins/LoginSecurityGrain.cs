using Orleans.Concurrency;
using System.Text.Json;
using GrainMail.Contracts.Accounts;
using GrainMail.Storage.Audit;
using GrainMail.Storage.Logins;

namespace GrainMail.Grains.Accounts.Logins;

/// <summary>The database side of login history, IP allow-lists and API sessions (see <see cref="ILoginSecurityGrain"/>).</summary>
[StatelessWorker, Reentrant]
public sealed class LoginSecurityGrain(
    LoginLogStore log, LoginRuleStore ruleStore, LoginRules rules, WebSessionStore webSessions, AuditLog audit) : Grain, ILoginSecurityGrain
{
    public async Task<IReadOnlyList<LoginRecordInfo>> Logins(string? account, string? domain, long? departmentId, long? beforeId, int limit) =>
        (await log.ReadAsync(account, domain, departmentId, beforeId, limit)).Select(s => new LoginRecordInfo(s.Id, s.Row.At, s.Row.Account,
            s.Row.ActingFor, s.Row.Channel, s.Row.ClientIp, s.Row.ClientName, s.Row.Result, s.Row.Reason, s.Row.Country, s.Row.Region,
            s.Row.City)).ToList();

    public async Task<IReadOnlyList<LoginIpRuleInfo>> Rules(string domain) =>
        (await ruleStore.ForDomainAsync(domain)).Select(r => Info(r.Rule)).ToList();

    public async Task<LoginRuleResult> AddRule(string domain, long? departmentId, string network, string? note, SecurityActor actor)
    {
        // Canonical prefixes only (host bits zero), as for the integrations' source addresses.
        if (!IpPlaceCsv.TryParseCanonical(network.Trim(), out var parsed)) return new LoginRuleResult(LoginRuleStatus.InvalidNetwork);
        if (departmentId is { } dep && !await ruleStore.DepartmentInDomainAsync(domain, dep)) return new LoginRuleResult(LoginRuleStatus.NoSuchDepartment);
        var added = await ruleStore.AddAsync(domain, departmentId, parsed, note, actor.Actor);
        rules.Invalidate(domain);
        await audit.AppendAsync(new AuditRecord(actor.Actor, actor.Role, actor.ClientIp, "login-ip-rule.add", departmentId is null ? domain : $"{domain}/department/{departmentId}",
            added is null ? "exists" : "ok", JsonSerializer.Serialize(new Dictionary<string, string> { ["network"] = parsed.ToString() })));
        return added is null ? new LoginRuleResult(LoginRuleStatus.Exists) : new LoginRuleResult(LoginRuleStatus.Added, Info(added));
    }

    public async Task<LoginIpRuleInfo?> DeleteRule(string domain, long id, SecurityActor actor)
    {
        var removed = await ruleStore.DeleteAsync(domain, id);
        rules.Invalidate(domain);
        if (removed is not null)
        {
            await audit.AppendAsync(new AuditRecord(actor.Actor, actor.Role, actor.ClientIp, "login-ip-rule.remove",
                removed.DepartmentId is null ? domain : $"{domain}/department/{removed.DepartmentId}", "ok",
                JsonSerializer.Serialize(new Dictionary<string, string> { ["network"] = removed.Network })));
        }
        return removed is null ? null : Info(removed);
    }

    public async Task<IReadOnlyList<WebSessionInfo>> WebSessions(string account) =>
        (await webSessions.OfAsync(account)).Select(s => new WebSessionInfo(s.Id, s.Kind, s.CreatedAt, s.LastUsedAt, s.ExpiresAt)).ToList();

    public async Task<bool> EndWebSession(string account, string id, SecurityActor actor)
    {
        var ended = await webSessions.EndAsync(account, id);
        if (ended)
            await audit.AppendAsync(new AuditRecord(actor.Actor, actor.Role, actor.ClientIp, "session.revoke", account, "ok",
                JsonSerializer.Serialize(new Dictionary<string, string> { ["session"] = id, ["kind"] = "api" })));
        return ended;
    }

    public async Task<bool> EndMailSession(string account, Guid id, SecurityActor actor)
    {
        var ended = await GrainFactory.GetGrain<ISessionBoardGrain>(account).End(new MailSessionEnd(MailSessionEndReason.Revoked, account, SessionId: id)) > 0;
        if (ended)
            await audit.AppendAsync(new AuditRecord(actor.Actor, actor.Role, actor.ClientIp, "session.revoke", account, "ok",
                JsonSerializer.Serialize(new Dictionary<string, string> { ["session"] = id.ToString(), ["kind"] = "mail" })));
        return ended;
    }

    private static LoginIpRuleInfo Info(LoginIpRule r) => new(r.Id, r.Domain, r.DepartmentId, r.Network, r.Note, r.CreatedBy, r.CreatedAt);
}

using System.Text.Json;
using GrainMail.Contracts.Accounts;
using GrainMail.Grains.Accounts.Passwords;
using GrainMail.Storage.Audit;
using GrainMail.Storage.Security;
using Orleans.Concurrency;

namespace GrainMail.Grains.Accounts;

/// <summary>Reads and writes the security policy rows (migration 0020) for the admin API; stateless, on the caller's silo.</summary>
[StatelessWorker]
public sealed class SecurityPolicyGrain(AccountSecurityStore store, AuditLog audit) : Grain, ISecurityPolicyGrain
{
    public Task<SecurityPolicy> GetPolicy(string domain) => store.GetPolicyAsync(domain);

    public async Task SetPolicy(string domain, SecurityPolicy policy, SecurityActor actor)
    {
        var before = await store.GetPolicyAsync(domain);
        await store.SetPolicyAsync(domain, policy);
        await audit.AppendAsync(new AuditRecord(actor.Actor, actor.Role, actor.ClientIp, "security-policy.update", domain, "ok",
            JsonSerializer.Serialize(new { before, after = policy })));
    }

    public async Task<bool> SetDepartmentTwoFactor(string domain, long departmentId, bool? required, SecurityActor actor)
    {
        if (!await store.SetDepartmentTwoFactorAsync(domain, departmentId, required)) return false;
        await audit.AppendAsync(new AuditRecord(actor.Actor, actor.Role, actor.ClientIp, "security-policy.department", $"{domain} department {departmentId}", "ok",
            JsonSerializer.Serialize(new { twoFactorRequired = required })));
        return true;
    }

    public Task<IReadOnlyDictionary<long, bool>> GetDepartmentTwoFactor(string domain) => store.GetDepartmentTwoFactorAsync(domain);

    public async Task<IReadOnlyList<string>> CheckPassword(string domain, string localPart, string? displayName, string password) =>
        PasswordJudge.Violations(await store.GetPolicyAsync(domain), password, localPart, displayName);

    public Task<IReadOnlyList<WeakPasswordEntry>> ListWeak(string domain) => store.ListWeakAsync(domain);
}

/// <summary>Password-reset requests per client address: at most 10 an hour (in memory; a restart forgets).</summary>
public sealed class ResetRateGrain(TimeProvider clock) : Grain, IResetRateGrain
{
    public const int PerHour = 10;

    private readonly Queue<DateTimeOffset> _recent = new();

    public Task<bool> TryTake()
    {
        var now = clock.GetUtcNow();
        while (_recent.Count > 0 && now - _recent.Peek() > TimeSpan.FromHours(1)) _recent.Dequeue();
        if (_recent.Count >= PerHour) return Task.FromResult(false);
        _recent.Enqueue(now);
        return Task.FromResult(true);
    }
}

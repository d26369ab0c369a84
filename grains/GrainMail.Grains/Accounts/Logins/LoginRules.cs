using System.Collections.Concurrent;
using System.Net;
using GrainMail.Storage.Logins;

namespace GrainMail.Grains.Accounts.Logins;

/// <summary>
/// The login IP allow-lists as the guard applies them: a domain's rules read at most once per
/// <see cref="CacheFor"/> per silo (a change reaches every silo within that time), the account's
/// department path read only when its domain has department rules. Every level that has rules
/// (the domain, each department from the root down to the account's) must list the address.
/// </summary>
public sealed class LoginRules(LoginRuleStore store, TimeProvider clock)
{
    public static readonly TimeSpan CacheFor = TimeSpan.FromSeconds(5);

    private sealed record Level(long? DepartmentId, long[]? Path, List<IPNetwork> Networks);

    private readonly ConcurrentDictionary<string, (DateTimeOffset Loaded, List<Level> Levels)> _domains = new(StringComparer.Ordinal);

    /// <summary>Null when the address may log in; otherwise the reason the user is told.</summary>
    public async Task<string?> DenialAsync(string account, string remoteIp)
    {
        var at = account.LastIndexOf('@');
        if (at <= 0) return null;
        var domain = account[(at + 1)..];
        var levels = await LevelsAsync(domain);
        if (levels.Count == 0) return null;
        IPAddress.TryParse(remoteIp, out var ip);
        if (ip is { IsIPv4MappedToIPv6: true }) ip = ip.MapToIPv4();
        long[]? path = null;
        if (levels.Any(l => l.DepartmentId is not null)) path = await store.AccountPathAsync(domain, account[..at]);
        foreach (var level in levels)
        {
            if (level.DepartmentId is { } dep && (path is null || !path.Contains(dep))) continue;
            if (ip is not null && level.Networks.Any(n => n.Contains(ip))) continue;
            return $"Logins from {remoteIp} are not allowed for this account (address outside the {(level.DepartmentId is null ? "domain's" : "department's")} allow-list)";
        }
        return null;
    }

    private async Task<List<Level>> LevelsAsync(string domain)
    {
        var now = clock.GetUtcNow();
        if (_domains.TryGetValue(domain, out var cached) && now - cached.Loaded < CacheFor) return cached.Levels;
        var rules = await store.ForDomainAsync(domain);
        var levels = new List<Level>();
        foreach (var group in rules.GroupBy(r => r.Rule.DepartmentId))
        {
            var networks = group.Select(r => IPNetwork.TryParse(r.Rule.Network, out var n) ? n : (IPNetwork?)null)
                .Where(n => n is not null).Select(n => n!.Value).ToList();
            levels.Add(new Level(group.Key, group.First().DepartmentPath, networks));
        }
        _domains[domain] = (now, levels);
        return levels;
    }

    /// <summary>Forgets a domain's rules on this silo (after a change made here).</summary>
    public void Invalidate(string domain) => _domains.TryRemove(domain, out _);
}

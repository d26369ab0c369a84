using System.Text.Json;
using GrainMail.Contracts;
using GrainMail.Contracts.Domains;
using GrainMail.Contracts.Governance;
using GrainMail.Grains.Regions;
using GrainMail.Storage.Audit;
using GrainMail.Storage.Governance;

namespace GrainMail.Grains.Governance;

/// <summary>
/// One domain's governance configuration (key: the domain). Loads its rows at activation and is
/// their only writer, so the monitoring rules (never oneself, one master, no cycle through any
/// chain) are checked against a complete, current picture. <see cref="Policy"/> answers the submit
/// path from memory.
/// </summary>
[StepDownOnStorageFailure]
[HomeRegionPlacement]
public sealed class GovernanceGrain(GovernanceStore store, AuditLog audit, GovernanceNotices notices) : Grain, IGovernanceGrain
{
    private string _domain = "";
    private GovernanceSettings _settings = GovernanceSettings.Default;
    private List<ApprovalRule> _rules = [];
    private Dictionary<string, MonitoringRelation> _monitoring = new(StringComparer.Ordinal);
    private GovernancePolicy _policy = new("", [], new Dictionary<string, string>());

    public override async Task OnActivateAsync(CancellationToken cancellationToken)
    {
        _domain = this.GetPrimaryKeyString();
        await StorageFailureFilter.Activating(async () =>
        {
            _settings = await store.LoadSettingsAsync(_domain);
            _rules = await store.LoadRulesAsync(_domain);
            _monitoring = (await store.LoadMonitoringAsync(_domain)).ToDictionary(m => m.Monitored, StringComparer.Ordinal);
        });
        Rebuild();
        // Junk and Trash have retention defaults in every domain: a domain in use has its sweep.
        GrainFactory.GetGrain<IRetentionGrain>(_domain).Start().Ignore();
    }

    private void Rebuild() => _policy = new GovernancePolicy(_domain, _rules.ToList(),
        _settings.MonitoringEnabled
            ? _monitoring.Values.ToDictionary(m => m.Monitored, m => m.Master, StringComparer.Ordinal)
            : new Dictionary<string, string>());

    public Task<GovernancePolicy> Policy() => Task.FromResult(_policy);

    public Task<GovernanceSettings> GetSettings() => Task.FromResult(_settings);

    public async Task SetMonitoring(bool enabled, string? reviewer, GovernanceActor actor)
    {
        _settings = _settings with { MonitoringEnabled = enabled, MonitoringReviewer = reviewer };
        await store.SaveSettingsAsync(_domain, _settings);
        Rebuild();
        await AuditAsync(actor, "governance.monitoring.authorise", _domain, new { enabled, reviewer });
    }

    public async Task SetRecallDays(int days, GovernanceActor actor)
    {
        _settings = _settings with { RecallDays = days };
        await store.SaveSettingsAsync(_domain, _settings);
        await AuditAsync(actor, "governance.recall.days", _domain, new { days });
    }

    public async Task SetRetention(IReadOnlyDictionary<string, int> folders, GovernanceActor actor)
    {
        _settings = _settings with { Retention = new Dictionary<string, int>(folders, StringComparer.Ordinal) };
        await store.SaveSettingsAsync(_domain, _settings);
        await AuditAsync(actor, "governance.retention.set", _domain, folders);
        await GrainFactory.GetGrain<IRetentionGrain>(_domain).Start();
    }

    public Task<IReadOnlyList<ApprovalRule>> ListRules() => Task.FromResult<IReadOnlyList<ApprovalRule>>(_rules.ToList());

    public async Task<ApprovalRule> AddRule(ApprovalRule rule, GovernanceActor actor)
    {
        var id = await store.AddRuleAsync(_domain, rule);
        var added = rule with { Id = id };
        _rules.Add(added);
        Rebuild();
        // The expiry reminder runs while the domain has rules (it also sends notices a crash left unsent).
        await GrainFactory.GetGrain<IApprovalGrain>(_domain).Held(Guid.Empty);
        await AuditAsync(actor, "governance.approval-rule.add", $"{_domain}/{id}", added);
        return added;
    }

    public async Task<bool> RemoveRule(long id, GovernanceActor actor)
    {
        if (!await store.RemoveRuleAsync(_domain, id)) return false;
        _rules.RemoveAll(r => r.Id == id);
        Rebuild();
        await AuditAsync(actor, "governance.approval-rule.remove", $"{_domain}/{id}", null);
        return true;
    }

    public Task<IReadOnlyList<MonitoringRelation>> ListMonitoring() =>
        Task.FromResult<IReadOnlyList<MonitoringRelation>>(_monitoring.Values.OrderBy(m => m.Monitored, StringComparer.Ordinal).ToList());

    public async Task<MonitoringStatus> AddMonitoring(string monitored, string master, GovernanceActor actor)
    {
        var status = await CheckAsync(monitored, master);
        if (status == MonitoringStatus.Ok)
        {
            var at = await store.AddMonitoringAsync(_domain, monitored, master);
            _monitoring[monitored] = new MonitoringRelation(monitored, master, at);
            Rebuild();
            await notices.MonitoringChangedAsync(GrainFactory, _domain, _settings.MonitoringReviewer, monitored, master, created: true, actor);
        }
        await AuditAsync(actor, "governance.monitoring.add", monitored, new { master }, status == MonitoringStatus.Ok ? "ok" : status.ToString());
        return status;
    }

    private async Task<MonitoringStatus> CheckAsync(string monitored, string master)
    {
        if (!_settings.MonitoringEnabled) return MonitoringStatus.NotAuthorised;
        if (MailAddress.DomainOf(monitored) != _domain || MailAddress.DomainOf(master) != _domain) return MonitoringStatus.NotInDomain;
        var domain = GrainFactory.GetGrain<IDomainGrain>(_domain);
        foreach (var a in new[] { monitored, master })
        {
            if (await domain.GetAccountPolicy(a[..a.LastIndexOf('@')]) is null) return MonitoringStatus.NoSuchAccount;
        }
        return MonitoringRules.Check(_monitoring.ToDictionary(m => m.Key, m => m.Value.Master, StringComparer.Ordinal), monitored, master);
    }

    public async Task<MonitoringStatus> RemoveMonitoring(string monitored, GovernanceActor actor)
    {
        if (!_monitoring.TryGetValue(monitored, out var relation) || !await store.RemoveMonitoringAsync(_domain, monitored))
            return MonitoringStatus.NotFound;
        _monitoring.Remove(monitored);
        Rebuild();
        await notices.MonitoringChangedAsync(GrainFactory, _domain, _settings.MonitoringReviewer, monitored, relation.Master, created: false, actor);
        await AuditAsync(actor, "governance.monitoring.remove", monitored, new { relation.Master });
        return MonitoringStatus.Ok;
    }

    private Task AuditAsync(GovernanceActor actor, string action, string target, object? detail, string result = "ok") =>
        audit.AppendAsync(new AuditRecord(actor.Actor, actor.Role, actor.ClientIp, action, target, result,
            detail is null ? null : JsonSerializer.Serialize(detail)));
}

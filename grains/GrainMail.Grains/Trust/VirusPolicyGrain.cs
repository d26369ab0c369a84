using GrainMail.Contracts.Trust;
using GrainMail.Storage.Audit;

namespace GrainMail.Grains.Trust;

[GenerateSerializer]
public sealed class VirusPolicyState
{
    /// <summary>Null until an admin sets one: <see cref="VirusPolicy.Default"/> applies.</summary>
    [Id(0)] public VirusPolicy? Policy { get; set; }
}

/// <summary>One domain's virus policy in grain storage; read by the intake on every scanned message whose scan failed.</summary>
public sealed class VirusPolicyGrain(
    [PersistentState("viruspolicy", GrainStorage.Name)] IPersistentState<VirusPolicyState> state, AuditLog audit) : Grain, IVirusPolicyGrain
{
    public Task<VirusPolicy> Get() => Task.FromResult(state.State.Policy ?? VirusPolicy.Default);

    public async Task Set(VirusPolicy policy, string actor, string clientIp)
    {
        var before = state.State.Policy ?? VirusPolicy.Default;
        state.State.Policy = policy;
        await state.WriteStateAsync();
        await audit.AppendAsync(new AuditRecord(actor, "admin", clientIp, "domain.virus-policy", this.GetPrimaryKeyString(), "ok",
            $"{{\"deliverUnscanned\":{{\"before\":{(before.DeliverUnscanned ? "true" : "false")},\"after\":{(policy.DeliverUnscanned ? "true" : "false")}}}}}"));
    }
}

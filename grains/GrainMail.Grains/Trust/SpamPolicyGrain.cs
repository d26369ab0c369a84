using GrainMail.Contracts.Trust;

namespace GrainMail.Grains.Trust;

[GenerateSerializer]
public sealed class SpamPolicyState
{
    /// <summary>Null until an admin sets one: the defaults apply.</summary>
    [Id(0)] public SpamPolicy? Policy { get; set; }
}

/// <summary>One domain's spam policy, persisted in grain storage; read by the intake on every MX message
/// (an activation answers from memory).</summary>
public sealed class SpamPolicyGrain(
    [PersistentState("spampolicy", GrainStorage.Name)] IPersistentState<SpamPolicyState> state) : Grain, ISpamPolicyGrain
{
    public Task<SpamPolicy> Get() => Task.FromResult(state.State.Policy ?? SpamPolicy.Default);

    public async Task Set(SpamPolicy policy)
    {
        if (policy.Problem() is { } problem) throw new ArgumentException(problem);
        state.State.Policy = policy;
        await state.WriteStateAsync();
    }
}

/// <summary>The receive log for the admin API, read on a silo.</summary>
[Orleans.Concurrency.StatelessWorker, Orleans.Concurrency.Reentrant]
public sealed class ReceiveLogGrain(GrainMail.Storage.Trust.ReceiveLogStore store) : Grain, IReceiveLogGrain
{
    public Task<IReadOnlyList<ReceiveLogEntry>> Read(string mailbox, int limit) => store.ReadAsync(mailbox, limit);
}

/// <summary>The quarantine for the admin API, on a silo.</summary>
[Orleans.Concurrency.StatelessWorker, Orleans.Concurrency.Reentrant]
public sealed class QuarantineGrain(GrainMail.Storage.Trust.QuarantineStore store) : Grain, IQuarantineGrain
{
    public async Task<IReadOnlyList<QuarantinedMessage>> List(string? mailbox, string? domain) =>
        (await store.ListAsync(mailbox, domain)).Select(q => new QuarantinedMessage(q.Id, q.Mailbox, q.Sender, q.Size, q.Score, q.Symbols, q.ReceivedAt)).ToList();

    public Task<bool> Release(Guid id) => store.ReleaseAsync(id);

    public Task<bool> Delete(Guid id) => store.DeleteAsync(id);
}

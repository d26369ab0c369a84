using GrainMail.Contracts.Jmap;
using GrainMail.Storage.Jmap;

namespace GrainMail.Grains.Jmap;

/// <summary>
/// The single writer of one account's JMAP submissions: it hands out the account's counter (one call
/// at a time, so two gateways cannot take the same value) and keeps nothing else in memory.
/// </summary>
public sealed class EmailSubmissionGrain(EmailSubmissionStore store) : Grain, IEmailSubmissionGrain
{
    private string _account = "";
    private long _state;

    public override async Task OnActivateAsync(CancellationToken cancellationToken)
    {
        _account = this.GetPrimaryKeyString();
        _state = (await store.ReadAsync(_account, cancellationToken)).State;
    }

    public Task<SubmissionLog> Read() => store.ReadAsync(_account);

    public Task<long> State() => Task.FromResult(_state);

    public async Task<long> Add(string id, DateTimeOffset sendAt, string json)
    {
        var next = _state + 1;
        await store.AddAsync(_account, id, next, sendAt, json);
        return _state = next;
    }

    public async Task<long> Destroy(IReadOnlyList<string> ids)
    {
        if (ids.Count == 0) return _state;
        var next = _state + 1;
        if (await store.DestroyAsync(_account, ids, next) > 0) _state = next;
        return _state;
    }

    public async Task Forget()
    {
        await store.DeleteAccountAsync(_account);
        DeactivateOnIdle();
    }
}

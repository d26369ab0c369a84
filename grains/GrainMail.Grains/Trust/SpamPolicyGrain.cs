using GrainMail.Contracts.Trust;
using Orleans.Storage;

namespace GrainMail.Grains.Trust;

[GenerateSerializer]
public sealed class SpamPolicyState
{
    /// <summary>Null until an admin sets one: the defaults apply.</summary>
    [Id(0)] public SpamPolicy? Policy { get; set; }
}

/// <summary>One domain's spam policy, persisted in grain storage; read by the intake for MX messages through each
/// silo's <see cref="SpamPolicyView"/> (an activation answers from memory).</summary>
public sealed class SpamPolicyGrain(
    [PersistentState("spampolicy", GrainStorage.Name)] IPersistentState<SpamPolicyState> state, SpamPolicyView view) : Grain, ISpamPolicyGrain
{
    public Task<SpamPolicy> Get() => Task.FromResult(state.State.Policy ?? SpamPolicy.Default);

    public async Task Set(SpamPolicy policy)
    {
        if (policy.Problem() is { } problem) throw new ArgumentException(problem);
        state.State.Policy = policy;
        try
        {
            await state.WriteStateAsync();
        }
        finally
        {
            // This silo's copy ends now (other silos' within SpamPolicyView.Freshness), whether or not the write held.
            view.Changed(this.GetPrimaryKeyString());
        }
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

[GenerateSerializer]
public sealed class ReputationState
{
    [Id(0)] public double Volume { get; set; }
    [Id(1)] public double Spam { get; set; }
    [Id(2)] public double Ham { get; set; }
    [Id(3)] public DateTimeOffset UpdatedAt { get; set; }
}

/// <summary>How often a reputation grain writes its counts when they changed (a test shortens it; the silo registers none).</summary>
public sealed record ReputationFlush(TimeSpan Period)
{
    public static readonly ReputationFlush Default = new(TimeSpan.FromMinutes(1));
}

/// <summary>
/// One sender's reputation (a /24 or /64, or an aligned domain). Counts live in memory and are written
/// at most once a minute and when the activation ends: a busy sender costs no storage write per message,
/// and a crash loses a minute of counts at most, which decay would blur anyway. A write that fails leaves
/// the counts to be written at the next tick (or by the final write when the activation ends): the state
/// is the absolute counts, never an increment, so writing it again after a write that landed unseen counts
/// nothing twice (and that case fails its version check instead, which ends the activation: the
/// database then holds what was written, and only the counts gathered since are lost, as in a crash).
/// </summary>
public sealed class ReputationGrain(
    [PersistentState("reputation", GrainStorage.Name)] IPersistentState<ReputationState> state, TimeProvider clock) : Grain, IReputationGrain
{
    private bool _dirty;
    private IGrainTimer? _flush;

    public Task<ReputationSnapshot> Get()
    {
        // Decayed on a copy: Get interleaves with the other calls (and with a flush writing the state), so it changes nothing.
        var s = state.State;
        var f = s.UpdatedAt == default ? 1.0 : GrainMail.Trust.Scoring.Reputation.Decay(clock.GetUtcNow() - s.UpdatedAt);
        return Task.FromResult(new ReputationSnapshot(s.Volume * f, s.Spam * f, s.Ham * f));
    }

    public Task Record(bool spam)
    {
        DecayToNow();
        var s = state.State;
        s.Volume += 1;
        if (spam) s.Spam += 1;
        else s.Ham += 1;
        MarkDirty();
        return Task.CompletedTask;
    }

    public Task Add(int spam, int ham)
    {
        if (spam < 0 || ham < 0) throw new ArgumentOutOfRangeException(nameof(spam), "counts are never negative");
        if (spam + ham == 0) return Task.CompletedTask;
        DecayToNow();
        var s = state.State;
        s.Volume += spam + ham;
        s.Spam += spam;
        s.Ham += ham;
        MarkDirty();
        return Task.CompletedTask;
    }

    public Task Correct(bool spam)
    {
        DecayToNow();
        var s = state.State;
        if (spam)
        {
            s.Ham = Math.Max(0, s.Ham - 1);
            s.Spam = Math.Min(s.Volume, s.Spam + 1);
        }
        else
        {
            s.Spam = Math.Max(0, s.Spam - 1);
            s.Ham = Math.Min(s.Volume, s.Ham + 1);
        }
        MarkDirty();
        return Task.CompletedTask;
    }

    private void MarkDirty()
    {
        _dirty = true;
        if (_flush is null)
        {
            var period = (ServiceProvider.GetService(typeof(ReputationFlush)) as ReputationFlush ?? ReputationFlush.Default).Period;
            _flush = this.RegisterGrainTimer(FlushAsync, new GrainTimerCreationOptions(period, period) { KeepAlive = false });
        }
    }

    private void DecayToNow()
    {
        var s = state.State;
        var now = clock.GetUtcNow();
        if (s.UpdatedAt != default)
        {
            var f = GrainMail.Trust.Scoring.Reputation.Decay(now - s.UpdatedAt);
            s.Volume *= f;
            s.Spam *= f;
            s.Ham *= f;
        }
        s.UpdatedAt = now;
    }

    private async Task FlushAsync(CancellationToken ct)
    {
        if (!_dirty) return;
        // Cleared first: the timer's turn does not interleave with the counting calls, so nothing changes during the
        // write, but a change that did would mark the state dirty again and be written at the next tick.
        _dirty = false;
        try
        {
            await state.WriteStateAsync(ct);
        }
        catch (InconsistentStateException)
        {
            // The row moved on (another activation, or this one's write that landed unseen): the storage wrapper ends
            // this activation, and a final write would only fail its version check again.
            throw;
        }
        catch
        {
            // Before, the flag stayed cleared: counts whose write failed (the database away) waited for the next
            // change, and without one were never written, not even when the activation ended.
            _dirty = true;
            throw;
        }
    }

    public override async Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken)
    {
        if (_dirty) await state.WriteStateAsync(cancellationToken);
    }
}

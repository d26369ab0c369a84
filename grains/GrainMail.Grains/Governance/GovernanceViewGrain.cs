using GrainMail.Contracts.Governance;
using GrainMail.Storage.Governance;
using Orleans.Concurrency;

namespace GrainMail.Grains.Governance;

[StatelessWorker, Reentrant]
public sealed class GovernanceViewGrain(GovernanceStore store) : Grain, IGovernanceViewGrain
{
    public async Task<HeldMessage?> FindHeld(Guid id) => (await store.GetHeldAsync(id))?.ToContract();

    public async Task<IReadOnlyList<HeldMessage>> HeldForReviewer(string reviewer) =>
        (await store.HeldForReviewerAsync(reviewer)).Select(h => h.ToContract()).ToList();
}

using GrainMail.Contracts.Operations;
using GrainMail.Storage.Domains;
using GrainMail.Storage.Outbound;
using Orleans.Concurrency;

namespace GrainMail.Grains.Operations;

[StatelessWorker, Reentrant]
public sealed class AdminViewGrain(DomainDirectory directory, OutboundStore outbound) : Grain, IAdminViewGrain
{
    public async Task<IReadOnlyList<DomainListing>> ListDomains() =>
        (await directory.ListAsync()).Select(d => new DomainListing(d.Name, d.HomeRegion, d.CreatedAt)).ToList();

    public async Task<IReadOnlyList<string>> OutboundDestinations() => await outbound.DestinationsAsync();

    public async Task<IReadOnlyList<SendAttempt>> SentLog(string sender, int limit) =>
        (await outbound.AttemptsOfSenderAsync(sender, Math.Clamp(limit, 1, 1000)))
            .Select(a => new SendAttempt(a.MessageId, a.Recipient, a.At, a.Link, a.Remote, a.Outcome, a.Reply)).ToList();
}

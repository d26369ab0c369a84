using GrainMail.Contracts.Governance;
using GrainMail.Storage.Governance;
using Orleans.Concurrency;

namespace GrainMail.Grains.Governance;

/// <summary>Reads the report counters; stateless, so every silo serves it.</summary>
[StatelessWorker, Reentrant]
public sealed class ReportGrain(ReportStore store) : Grain, IReportGrain
{
    public async Task<IReadOnlyList<DomainDay>> Daily(string domain, DateOnly from, DateOnly to) =>
        (await store.DailyAsync(domain, from, to)).Select(d => new DomainDay(d.Day, d.Received, d.ReceivedInternal, d.Received - d.ReceivedInternal,
            d.Sent, d.Sent - d.SentExternal, d.SentExternal,
            d.TopSenders.Select(t => new SenderCount(t.Account, t.Sent)).ToList(),
            d.Logins.Select(l => new LoginTally(l.Channel, l.Result, l.Country, l.City, l.Logins)).ToList())).ToList();

    public async Task<IReadOnlyList<AccountDay>> Accounts(string domain, DateOnly from, DateOnly to) =>
        (await store.AccountsAsync(domain, from, to)).Select(a => new AccountDay(a.Account, a.Day, a.Received, a.Sent)).ToList();
}

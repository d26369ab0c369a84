using GrainMail.Contracts.Accounts;
using Microsoft.Extensions.Logging;

namespace GrainMail.Grains.Accounts.Logins;

/// <summary>
/// One account's open IMAP/POP3 sessions, as the gateways report them (see <see cref="ISessionBoardGrain"/>).
/// Memory only: a gateway's report replaces its previous one and is forgotten after
/// <see cref="ReportLifetime"/> without renewal, so a gateway that died takes its sessions along.
/// </summary>
public sealed class SessionBoardGrain(TimeProvider clock, ILogger<SessionBoardGrain> logger) : Grain, ISessionBoardGrain
{
    /// <summary>Gateways renew every 4 minutes (OpenMailSessions.RenewEvery); three missed renewals drop a report.</summary>
    public static readonly TimeSpan ReportLifetime = TimeSpan.FromMinutes(13);

    private sealed record GatewayReport(IMailSessionObserver Observer, IReadOnlyList<OpenMailSession> Sessions, DateTimeOffset At);

    private readonly Dictionary<Guid, GatewayReport> _gateways = [];

    public Task Report(Guid gateway, IMailSessionObserver observer, IReadOnlyList<OpenMailSession> sessions)
    {
        if (sessions.Count == 0) _gateways.Remove(gateway);
        else _gateways[gateway] = new GatewayReport(observer, sessions, clock.GetUtcNow());
        return Task.CompletedTask;
    }

    public Task<IReadOnlyList<OpenMailSession>> List()
    {
        Expire();
        return Task.FromResult<IReadOnlyList<OpenMailSession>>(_gateways.Values.SelectMany(g => g.Sessions).OrderBy(s => s.Since).ToList());
    }

    public async Task<int> End(MailSessionEnd end)
    {
        Expire();
        var matched = 0;
        foreach (var (id, report) in _gateways.ToList())
        {
            var hit = report.Sessions.Where(end.Matches).ToList();
            if (hit.Count == 0) continue;
            matched += hit.Count;
            _gateways[id] = report with { Sessions = report.Sessions.Except(hit).ToList() };
            try
            {
                await report.Observer.EndSessions(end);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                // The gateway is gone, and its connections with it.
                logger.LogInformation(e, "Gateway {Gateway} did not answer the end of {Count} sessions of {Account}", id, hit.Count, this.GetPrimaryKeyString());
                _gateways.Remove(id);
            }
        }
        return matched;
    }

    private void Expire()
    {
        var now = clock.GetUtcNow();
        foreach (var id in _gateways.Where(g => now - g.Value.At > ReportLifetime).Select(g => g.Key).ToList()) _gateways.Remove(id);
    }
}

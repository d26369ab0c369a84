using System.Collections.Concurrent;
using GrainMail.Contracts.Accounts;
using Microsoft.Extensions.Logging;

namespace GrainMail.Gateways.Common.Sessions;

/// <summary>
/// The IMAP and POP3 sessions this gateway process holds, reported to each account's
/// <see cref="ISessionBoardGrain"/> (the account that logged in and, for a delegated login, the
/// mailbox it acts for), so that revoking a credential anywhere in the cluster reaches the
/// connections here: the board calls this process's observer, which closes the matching ones.
/// Reports are renewed every <see cref="RenewEvery"/>, which also rebuilds a board lost with its silo.
/// </summary>
public sealed class OpenMailSessions : IMailSessionObserver, IDisposable
{
    public static readonly TimeSpan RenewEvery = TimeSpan.FromMinutes(4);

    private sealed record Entry(OpenMailSession Info, Action<string> Close);

    private readonly IGrainFactory _grains;
    private readonly ILogger<OpenMailSessions> _logger;
    private readonly Guid _id = Guid.NewGuid();
    private readonly ConcurrentDictionary<Guid, Entry> _open = new();
    private readonly Lazy<IMailSessionObserver> _self;
    private readonly Timer _renew;

    public OpenMailSessions(IGrainFactory grains, ILogger<OpenMailSessions> logger)
    {
        _grains = grains;
        _logger = logger;
        _self = new(() => grains.CreateObjectReference<IMailSessionObserver>(this));
        _renew = new Timer(_ => _ = RenewAllAsync(), null, RenewEvery, RenewEvery);
    }

    public int Count => _open.Count;

    /// <summary>
    /// Registers a logged-in session; <paramref name="close"/> ends its connection (with the reason
    /// for the client). Dispose the answer when the session ends.
    /// </summary>
    public async Task<IAsyncDisposable> OpenAsync(string account, string? actsFor, string channel, string clientIp, string? appPassword, Action<string> close)
    {
        var info = new OpenMailSession(Guid.NewGuid(), account, actsFor, channel, clientIp, appPassword, DateTimeOffset.UtcNow);
        _open[info.Id] = new Entry(info, close);
        await ReportAsync(BoardsOf(info));
        return new Registration(this, info);
    }

    public Task EndSessions(MailSessionEnd end)
    {
        foreach (var entry in _open.Values.Where(e => end.Matches(e.Info)).ToList())
        {
            _logger.LogInformation("Ending {Channel} session of {Account} from {Ip}: {Reason}", entry.Info.Channel, entry.Info.Account, entry.Info.ClientIp, end.Reason);
            try
            {
                entry.Close(end.Text);
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                _logger.LogWarning(e, "Closing a session of {Account} failed", entry.Info.Account);
            }
        }
        return Task.CompletedTask;
    }

    private static IEnumerable<string> BoardsOf(OpenMailSession s) => s.ActsFor is { } other && other != s.Account ? [s.Account, other] : [s.Account];

    private async Task ReportAsync(IEnumerable<string> boards)
    {
        foreach (var board in boards)
        {
            var sessions = _open.Values.Select(e => e.Info).Where(s => s.Account == board || s.ActsFor == board).ToList();
            try
            {
                await _grains.GetGrain<ISessionBoardGrain>(board).Report(_id, _self.Value, sessions);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                // The login stands; the next renewal reports it again.
                _logger.LogWarning(e, "Reporting the open sessions of {Account} failed", board);
            }
        }
    }

    private async Task RenewAllAsync()
    {
        try
        {
            await ReportAsync(_open.Values.SelectMany(e => BoardsOf(e.Info)).Distinct().ToList());
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            _logger.LogWarning(e, "Renewing the open session reports failed");
        }
    }

    public void Dispose() => _renew.Dispose();

    private sealed class Registration(OpenMailSessions owner, OpenMailSession info) : IAsyncDisposable
    {
        private int _disposed;

        public async ValueTask DisposeAsync()
        {
            if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
            owner._open.TryRemove(info.Id, out _);
            await owner.ReportAsync(BoardsOf(info));
        }
    }
}

using System.Collections.Concurrent;
using GrainMail.Storage.Domains;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace GrainMail.Grains.Regions;

/// <summary>
/// Domain → home region, readable without a grain call (placement filters are synchronous).
/// Loaded from <c>mail_domain</c> at start; then every <see cref="Refresh"/> only the rows
/// changed since (by <c>updated_at</c>), and the whole directory every <see cref="FullReload"/>
/// (which also drops deleted domains). A domain created or moved through this silo is known
/// here at once, on other silos within <see cref="Refresh"/>. Until a silo knows a domain, its grains are placed anywhere and go home on the
/// next check (<see cref="HomeRegionKeeper"/>).
/// </summary>
public sealed class HomeRegions(DomainDirectory directory, ILogger<HomeRegions> logger) : BackgroundService
{
    public static readonly TimeSpan Refresh = TimeSpan.FromSeconds(2);

    public static readonly TimeSpan FullReload = TimeSpan.FromMinutes(5);

    private DateTimeOffset? _since;
    private DateTime _fullAt;

    private volatile ConcurrentDictionary<string, string> _map = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>The home region of the domain a grain key belongs to (a domain, or an address in it).</summary>
    public string? RegionOfKey(string key)
    {
        var at = key.LastIndexOf('@');
        var domain = at >= 0 ? key[(at + 1)..] : key;
        return _map.TryGetValue(domain, out var region) ? region : null;
    }

    /// <summary>What this silo has just written to the directory.</summary>
    public void Set(string domain, string region) => _map[domain] = region;

    public void Remove(string domain) => _map.TryRemove(domain, out _);

    public int Count => _map.Count;

    public async Task ReloadAsync(CancellationToken ct)
    {
        var full = _since is null || DateTime.UtcNow >= _fullAt;
        var (changed, next) = await directory.ChangedSinceAsync(full ? null : _since, ct);
        if (full)
        {
            var map = new ConcurrentDictionary<string, string>(StringComparer.OrdinalIgnoreCase);
            foreach (var (name, region) in changed) map[name] = region;
            _map = map;
            _fullAt = DateTime.UtcNow + FullReload;
        }
        else
        {
            foreach (var (name, region) in changed) _map[name] = region;
        }
        _since = next;
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(Refresh);
        do
        {
            try
            {
                await ReloadAsync(stoppingToken);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                // The database may be failing over: keep the map we have and try again.
                logger.LogDebug(e, "Home-region map refresh failed");
            }
        }
        while (await timer.WaitForNextTickAsync(stoppingToken));
    }
}

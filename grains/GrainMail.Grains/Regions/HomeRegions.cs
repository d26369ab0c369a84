using System.Collections.Concurrent;
using GrainMail.Storage.Domains;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace GrainMail.Grains.Regions;

/// <summary>
/// Domain → home region, readable without a grain call (placement filters are synchronous).
/// Loaded from <c>mail_domain</c> at start and re-read every <see cref="Refresh"/>; a domain
/// created or moved through this silo is known here at once, on other silos at their next
/// refresh. Until a silo knows a domain, its grains are placed anywhere and go home on the
/// next check (<see cref="HomeRegionKeeper"/>).
/// </summary>
public sealed class HomeRegions(DomainDirectory directory, ILogger<HomeRegions> logger) : BackgroundService
{
    public static readonly TimeSpan Refresh = TimeSpan.FromSeconds(5);

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
        var rows = await directory.ListAsync(ct);
        var next = new ConcurrentDictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (var (name, region, _) in rows) next[name] = region;
        _map = next;
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

using System.Net;
using Orleans.Messaging;

namespace GrainMail.Silo;

/// <summary>
/// How a gateway process finds the silos without database credentials: a list of
/// <c>host:port</c> Orleans gateway endpoints (GRAINMAIL_SILOS), names resolved again at every
/// refresh, so a Kubernetes headless service name follows silo pods as they come and go.
/// </summary>
public sealed class SiloGatewayList(IReadOnlyList<(string Host, int Port)> endpoints, ILogger<SiloGatewayList> logger) : IGatewayListProvider
{
    public TimeSpan MaxStaleness => TimeSpan.FromSeconds(5);

    [Obsolete("Orleans treats every provider as updatable")]
    public bool IsUpdatable => true;

    public Task InitializeGatewayListProvider() => Task.CompletedTask;

    public async Task<IList<Uri>> GetGateways()
    {
        var gateways = new List<Uri>();
        foreach (var (host, port) in endpoints)
        {
            IPAddress[] addresses;
            try
            {
                addresses = IPAddress.TryParse(host, out var literal) ? [literal] : await System.Net.Dns.GetHostAddressesAsync(host);
            }
            catch (System.Net.Sockets.SocketException e)
            {
                // One name that does not resolve (a region gone dark) must not hide the others.
                logger.LogWarning("Silo gateway {Host} does not resolve: {Error}", host, e.Message);
                continue;
            }
            gateways.AddRange(addresses.Select(a => SiloAddress.New(new IPEndPoint(a, port), 0).ToGatewayUri()));
        }
        return gateways;
    }

    /// <summary>Parses "host:port,host:port" (IPv6 literals in brackets); throws with the bad entry named.</summary>
    public static IReadOnlyList<(string Host, int Port)> Parse(string list)
    {
        var result = new List<(string, int)>();
        foreach (var entry in list.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var colon = entry.LastIndexOf(':');
            if (colon <= 0 || !int.TryParse(entry[(colon + 1)..], out var port) || port is < 1 or > 65535)
                throw new InvalidOperationException($"GRAINMAIL_SILOS: '{entry}' is not host:port");
            result.Add((entry[..colon].Trim('[', ']'), port));
        }
        if (result.Count == 0) throw new InvalidOperationException("GRAINMAIL_SILOS names no silo");
        return result;
    }
}

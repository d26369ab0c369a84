using System.Collections.Concurrent;
using System.Net;

namespace GrainMail.Gateways.Common;

/// <summary>Counts open connections of one listener family in all and per client address.</summary>
public sealed class ConnectionLimiter(int maxConnections, int maxConnectionsPerIp)
{
    private readonly ConcurrentDictionary<IPAddress, int> _perIp = new();
    private int _total;

    public bool TryEnter(IPAddress ip)
    {
        if (Interlocked.Increment(ref _total) > maxConnections)
        {
            Interlocked.Decrement(ref _total);
            return false;
        }
        var n = _perIp.AddOrUpdate(ip, 1, (_, v) => v + 1);
        if (n > maxConnectionsPerIp)
        {
            Leave(ip);
            return false;
        }
        return true;
    }

    public void Leave(IPAddress ip)
    {
        Interlocked.Decrement(ref _total);
        _perIp.AddOrUpdate(ip, 0, (_, v) => v - 1);
        _perIp.TryRemove(new KeyValuePair<IPAddress, int>(ip, 0));
    }
}

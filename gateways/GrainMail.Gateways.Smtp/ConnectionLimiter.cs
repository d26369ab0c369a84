using System.Collections.Concurrent;
using System.Net;

namespace GrainMail.Gateways.Smtp;

/// <summary>Counts open connections in all and per client address.</summary>
public sealed class ConnectionLimiter(SmtpOptions options)
{
    private readonly ConcurrentDictionary<IPAddress, int> _perIp = new();
    private int _total;

    public bool TryEnter(IPAddress ip)
    {
        if (Interlocked.Increment(ref _total) > options.MaxConnections)
        {
            Interlocked.Decrement(ref _total);
            return false;
        }
        var n = _perIp.AddOrUpdate(ip, 1, (_, v) => v + 1);
        if (n > options.MaxConnectionsPerIp)
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

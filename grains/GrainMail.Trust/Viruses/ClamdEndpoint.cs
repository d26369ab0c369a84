using System.Net;
using System.Net.Sockets;

namespace GrainMail.Trust.Viruses;

/// <summary>Where clamd listens: a TCP host and port, or a Unix socket path.</summary>
public sealed record ClamdEndpoint(string? Host, int Port, string? SocketPath)
{
    /// <summary>Reads <c>host:port</c>, <c>[v6]:port</c> or <c>unix:/path</c>; the reason on failure.</summary>
    public static bool TryParse(string text, out ClamdEndpoint? endpoint, out string? problem)
    {
        endpoint = null;
        problem = null;
        text = text.Trim();
        if (text.StartsWith("unix:", StringComparison.OrdinalIgnoreCase))
        {
            var path = text[5..];
            if (path.Length == 0 || !Path.IsPathRooted(path))
            {
                problem = $"'{text}': unix: needs an absolute socket path";
                return false;
            }
            endpoint = new ClamdEndpoint(null, 0, path);
            return true;
        }
        var colon = text.LastIndexOf(':');
        if (colon <= 0 || !int.TryParse(text.AsSpan(colon + 1), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var port)
            || port is < 1 or > 65535)
        {
            problem = $"'{text}' is not host:port or unix:/path";
            return false;
        }
        var host = text[..colon];
        // An IPv6 address needs brackets: "::1:3310" could be an address without a port.
        var bracketed = host.StartsWith('[') && host.EndsWith(']');
        if (bracketed) host = host[1..^1];
        if (host.Length == 0 || host.Contains(':') && (!bracketed || !IPAddress.TryParse(host, out _)))
        {
            problem = $"'{text}' is not host:port or unix:/path";
            return false;
        }
        endpoint = new ClamdEndpoint(host, port, null);
        return true;
    }

    public async Task<Socket> ConnectAsync(CancellationToken ct)
    {
        if (SocketPath is not null)
        {
            var unix = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            try
            {
                await unix.ConnectAsync(new UnixDomainSocketEndPoint(SocketPath), ct);
                return unix;
            }
            catch
            {
                unix.Dispose();
                throw;
            }
        }
        EndPoint target = IPAddress.TryParse(Host, out var ip) ? new IPEndPoint(ip, Port) : new DnsEndPoint(Host!, Port);
        var tcp = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            await tcp.ConnectAsync(target, ct);
            return tcp;
        }
        catch
        {
            tcp.Dispose();
            throw;
        }
    }

    public override string ToString() => SocketPath is not null ? "unix:" + SocketPath : $"{Host}:{Port}";
}

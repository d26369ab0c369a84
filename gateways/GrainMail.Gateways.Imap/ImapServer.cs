using System.Net;
using GrainMail.Gateways.Common;
using GrainMail.Gateways.Imap.Mime;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.Logging;

namespace GrainMail.Gateways.Imap;

/// <summary>Entry point for Kestrel connections on the IMAP listeners: admission, then one <see cref="ImapSession"/>.</summary>
public sealed class ImapServer(
    IGrainFactory grains,
    MessageCache messages,
    ImapOptions options,
    ServerTls tls,
    ILogger<ImapServer> logger)
{
    private readonly ConnectionLimiter _limiter = new(options.MaxConnections, options.MaxConnectionsPerIp);

    internal IGrainFactory Grains => grains;
    internal MessageCache Messages => messages;
    internal ImapOptions Options => options;
    internal ServerTls Tls => tls;
    internal ILogger Logger => logger;

    public async Task HandleAsync(ConnectionContext connection, ImapService service)
    {
        var remote = (connection.RemoteEndPoint as IPEndPoint)?.Address ?? IPAddress.None;
        if (!_limiter.TryEnter(remote))
        {
            await connection.Transport.Output.WriteAsync("* BYE Too many connections, try again later\r\n"u8.ToArray());
            await connection.Transport.Output.CompleteAsync();
            return;
        }
        try
        {
            await using var session = new ImapSession(this, connection, service, remote);
            await session.RunAsync(connection.ConnectionClosed);
        }
        catch (Exception e) when (e is IOException or OperationCanceledException or ConnectionResetException
            or ObjectDisposedException or System.Security.Authentication.AuthenticationException)
        {
            logger.LogDebug("IMAP session from {Remote} ended: {Error}", remote, e.Message);
        }
        finally
        {
            _limiter.Leave(remote);
        }
    }
}

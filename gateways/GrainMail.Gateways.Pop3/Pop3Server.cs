using GrainMail.Gateways.Common.Tls;
using System.Net;
using GrainMail.Gateways.Common;
using GrainMail.Gateways.Common.Messages;
using GrainMail.Operations;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.Logging;

namespace GrainMail.Gateways.Pop3;

/// <summary>Entry point for Kestrel connections on the POP3 listeners.</summary>
public sealed class Pop3Server(
    IGrainFactory grains,
    MessageCache messages,
    Pop3Options options,
    ServerTls tls,
    GrainMail.Gateways.Common.Sessions.OpenMailSessions sessions,
    ILogger<Pop3Server> logger)
{
    private readonly ConnectionLimiter _limiter = new(options.MaxConnections, options.MaxConnectionsPerIp);

    internal IGrainFactory Grains => grains;
    internal MessageCache Messages => messages;
    internal Pop3Options Options => options;
    internal ServerTls Tls => tls;
    internal GrainMail.Gateways.Common.Sessions.OpenMailSessions Sessions => sessions;
    internal ILogger Logger => logger;

    public Task HandleAsync(ConnectionContext connection, Pop3Service service) =>
        GatewayConnection.RunAsync(connection, _limiter, "-ERR [SYS/TEMP] Too many connections, try again later\r\n"u8.ToArray(), "POP3", logger,
            GrainMailMeters.Pop3Sessions, new("listener", service == Pop3Service.Pop3s ? "pop3s" : "pop3"),
            async remote =>
            {
                await using var session = new Pop3Session(this, connection, service, remote);
                await session.RunAsync(connection.ConnectionClosed);
            }, implicitTls: service == Pop3Service.Pop3s ? tls : null);
}

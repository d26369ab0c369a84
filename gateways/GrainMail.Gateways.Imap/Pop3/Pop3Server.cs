using GrainMail.Gateways.Common.Tls;
using System.Net;
using GrainMail.Gateways.Common;
using GrainMail.Gateways.Imap.Mime;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.Logging;

namespace GrainMail.Gateways.Imap.Pop3;

/// <summary>Which POP3 listener a connection came in on: 110 with STLS, or 995 with implicit TLS.</summary>
public enum Pop3Service
{
    Pop3,
    Pop3s,
}

/// <summary>Entry point for Kestrel connections on the POP3 listeners.</summary>
public sealed class Pop3Server(
    IGrainFactory grains,
    MessageCache messages,
    ImapOptions options,
    ServerTls tls,
    ILogger<Pop3Server> logger)
{
    private readonly ConnectionLimiter _limiter = new(options.MaxConnections, options.MaxConnectionsPerIp);

    internal IGrainFactory Grains => grains;
    internal MessageCache Messages => messages;
    internal ImapOptions Options => options;
    internal ServerTls Tls => tls;
    internal ILogger Logger => logger;

    public Task HandleAsync(ConnectionContext connection, Pop3Service service) =>
        GatewayConnection.RunAsync(connection, _limiter, "-ERR [SYS/TEMP] Too many connections, try again later\r\n"u8.ToArray(), "POP3", logger,
            GrainMail.Operations.GrainMailMeters.ImapSessions, new("protocol", "pop3"),
            async remote =>
            {
                await using var session = new Pop3Session(this, connection, service, remote);
                await session.RunAsync(connection.ConnectionClosed);
            }, implicitTls: service == Pop3Service.Pop3s ? tls : null);
}

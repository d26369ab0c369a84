using GrainMail.Gateways.Common.Tls;
using System.Net;
using GrainMail.Gateways.Common;
using GrainMail.Gateways.Common.Intake;
using GrainMail.Gateways.Smtp.Session;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.Logging;

namespace GrainMail.Gateways.Smtp;

/// <summary>
/// Entry point for Kestrel connections on the SMTP listeners: admission (connection limits),
/// then one <see cref="SmtpSession"/> per connection.
/// </summary>
public sealed class SmtpServer(
    IGrainFactory grains,
    MessageIntake intake,
    SmtpOptions options,
    ServerTls tls,
    ILogger<SmtpServer> logger)
{
    internal IGrainFactory Grains => grains;
    internal MessageIntake Intake => intake;
    internal SmtpOptions Options => options;
    private readonly ConnectionLimiter limiter = new(options.MaxConnections, options.MaxConnectionsPerIp);

    internal ServerTls Tls => tls;

    /// <summary>The clock of tarpits and harvest windows.</summary>
    internal TimeProvider Time { get; } = TimeProvider.System;

    internal RecipientHarvestGuard Harvest { get; } = new(options, TimeProvider.System);
    internal ILogger Logger => logger;

    public Task HandleAsync(ConnectionContext connection, SmtpService service) =>
        GatewayConnection.RunAsync(connection, limiter, "421 4.7.0 Too many connections, try again later\r\n"u8.ToArray(), "SMTP", logger,
            GrainMail.Operations.GrainMailMeters.SmtpSessions, new("listener", service.ToString()),
            async remote =>
            {
                GrainMail.Operations.GrainMailMeters.SmtpConnections.Add(1, new KeyValuePair<string, object?>("listener", service.ToString()));
                await using var session = new SmtpSession(this, connection, service, remote);
                await session.RunAsync(connection.ConnectionClosed);
            }, implicitTls: service == SmtpService.Submissions ? tls : null);
}

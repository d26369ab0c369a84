using System.Diagnostics.Metrics;
using GrainMail.Gateways.Common;
using GrainMail.Gateways.Common.Tls;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.Logging;

namespace GrainMail.Gateways.ManageSieve;

/// <summary>Entry point for Kestrel connections on the ManageSieve listener (RFC 5804, port 4190).</summary>
public sealed class ManageSieveServer(IGrainFactory grains, ManageSieveOptions options, ServerTls tls, ILogger<ManageSieveServer> logger)
{
    public const string MeterName = "GrainMail.ManageSieve";

    private static readonly Meter Meter = new(MeterName);
    internal static readonly UpDownCounter<long> Sessions = Meter.CreateUpDownCounter<long>("grainmail.managesieve.sessions", description: "Open ManageSieve sessions");

    private readonly ConnectionLimiter _limiter = new(options.MaxConnections, options.MaxConnectionsPerIp);

    internal IGrainFactory Grains => grains;
    internal ManageSieveOptions Options => options;
    internal ServerTls Tls => tls;
    internal ILogger Logger => logger;

    public Task HandleAsync(ConnectionContext connection) =>
        GatewayConnection.RunAsync(connection, _limiter, "BYE (TRYLATER) \"Too many connections\"\r\n"u8.ToArray(), "ManageSieve", logger,
            Sessions, new("listener", "managesieve"),
            async remote =>
            {
                await using var session = new ManageSieveSession(this, connection, remote);
                await session.RunAsync(connection.ConnectionClosed);
            });
}

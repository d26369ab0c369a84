using GrainMail.Gateways.Common.Tls;
using System.Net;
using GrainMail.Gateways.Common;
using GrainMail.Gateways.Common.Messages;
using GrainMail.Gateways.Imap.Search;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.Logging;

namespace GrainMail.Gateways.Imap;

/// <summary>Entry point for Kestrel connections on the IMAP listeners: admission, then one <see cref="ImapSession"/>.</summary>
public sealed class ImapServer(
    IGrainFactory grains,
    MessageCache messages,
    ImapOptions options,
    ServerTls tls,
    GrainMail.Gateways.Common.Sessions.OpenMailSessions sessions,
    ILogger<ImapServer> logger)
{
    // Before any message is parsed: MimeKit decodes every charset through what .NET has registered.
    static ImapServer() => GrainMail.Gateways.Imap.Mime.ImapCharsets.EnsureRegistered();

    private readonly SearchBudget _searchBudget = new(options.MaxConcurrentContentSearches, options.MaxSearchContentBytes);
    private readonly ConnectionLimiter _limiter = new(options.MaxConnections, options.MaxConnectionsPerIp);

    internal IGrainFactory Grains => grains;
    internal MessageCache Messages => messages;
    internal ImapOptions Options => options;
    internal SearchBudget SearchBudget => _searchBudget;
    internal ServerTls Tls => tls;
    internal GrainMail.Gateways.Common.Sessions.OpenMailSessions Sessions => sessions;
    internal ILogger Logger => logger;

    public Task HandleAsync(ConnectionContext connection, ImapService service) =>
        GatewayConnection.RunAsync(connection, _limiter, "* BYE Too many connections, try again later\r\n"u8.ToArray(), "IMAP", logger,
            GrainMail.Operations.GrainMailMeters.ImapSessions, new("protocol", "imap"),
            async remote =>
            {
                await using var session = new ImapSession(this, connection, service, remote);
                await session.RunAsync(connection.ConnectionClosed);
            }, implicitTls: service == ImapService.Imaps ? tls : null);
}

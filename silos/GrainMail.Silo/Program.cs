using GrainMail.Gateways.Common.Tls;
using OpenTelemetry.Trace;
using OpenTelemetry.Metrics;
using GrainMail.Gateways.Http;
using GrainMail.Gateways.Jmap;
using GrainMail.Silo;
using GrainMail.Silo.Configuration;
using GrainMail.Silo.Telemetry;
using GrainMail.Storage.Blobs;
using GrainMail.Storage.Database;
using GrainMail.Gateways.Common;
using GrainMail.Gateways.Imap;
using GrainMail.Gateways.Common.Messages;
using GrainMail.Gateways.Pop3;
using GrainMail.Gateways.Smtp;
using Microsoft.AspNetCore.Connections;

// GrainMail host. GRAINMAIL_ROLE picks what runs in this process:
//   node    (default) one silo with every gateway co-hosted, and (when no database is configured)
//           a private PostgreSQL under the data directory;
//   silo    a silo with the admin API, no mail listeners;
//   gateway the SMTP/IMAP/POP3 listeners and the admin API as an Orleans client of the cluster
//           (ADO.NET clustering: it finds the silos in the membership table).
// Legacy charsets (GB2312, GBK, Big5, ISO-2022-JP, ...) before anything touches MimeKit: MimeKit remembers
// a charset it could not find, so a message parsed before registration would leave GB2312 undecodable
// for the whole process (found by the content classifier's tests).
System.Text.Encoding.RegisterProvider(System.Text.CodePagesEncodingProvider.Instance);
var builder = WebApplication.CreateBuilder(args);
builder.Configuration.AddEnvironmentVariables();
// GRAINMAIL_* variables, shared keys and older names become configuration keys (README, Configuration).
builder.Configuration.AddGrainMailNames();
// Orleans' own start-up detail (options dumps, placement notes) is for debugging, not for operators.
builder.Logging.AddFilter("Orleans", LogLevel.Warning);
builder.Logging.AddFilter("Microsoft.AspNetCore", LogLevel.Warning);
// Every setting is bound and checked before anything starts: a value out of range stops here,
// naming the setting, instead of surfacing later as a crash or a listener that misbehaves.
if (GrainMailOptions.Problems(builder.Configuration) is { Count: > 0 } problems)
{
    Console.Error.WriteLine("grainmail: invalid configuration:");
    foreach (var problem in problems) Console.Error.WriteLine("  " + problem);
    return 2;
}
builder.Services.AddGrainMailOptions(builder.Configuration);
var settings = SiloSetup.Settings(builder.Configuration);
var role = settings.Role.ToLowerInvariant() switch
{
    "node" or "" => HostRole.Node,
    "silo" => HostRole.Silo,
    "gateway" => HostRole.Gateway,
    _ => throw new InvalidOperationException($"GRAINMAIL_ROLE must be node, silo or gateway, not '{settings.Role}'"),
};
var runsSilo = role != HostRole.Gateway;
var runsGateways = role != HostRole.Silo;
var dataDir = Path.GetFullPath(settings.DataDir);
Directory.CreateDirectory(dataDir);

using var startupLogs = LoggerFactory.Create(b => b.AddSimpleConsole(o => o.SingleLine = true));
var log = startupLogs.CreateLogger("GrainMail");

EmbeddedPostgres? embedded = null;
var connectionString = settings.ConnectionString;
// A gateway with a silo list needs no database at all: it holds no credentials and no master key.
var gatewayWithoutDatabase = !runsSilo && !string.IsNullOrWhiteSpace(settings.SiloGateways);
if (!runsSilo && !gatewayWithoutDatabase && string.IsNullOrWhiteSpace(connectionString))
{
    Console.Error.WriteLine("grainmail: a gateway process needs GRAINMAIL_SILOS (the silos' gateway endpoints) or GRAINMAIL_DB");
    return 2;
}
if (runsSilo && string.IsNullOrWhiteSpace(connectionString))
{
    try
    {
        embedded = await EmbeddedPostgres.StartAsync(Path.Combine(dataDir, "pg"), settings.EmbeddedPostgresPort, log);
    }
    catch (EmbeddedPostgresException e)
    {
        Console.Error.WriteLine("grainmail: " + e.Message);
        return 2;
    }
    connectionString = embedded.ConnectionString();
}

// Only silos decrypt mail: a gateway process never loads or creates the master key.
MasterKey? masterKey = !runsSilo ? null : string.IsNullOrWhiteSpace(settings.MasterKey)
    ? MasterKey.LoadOrCreate(Path.Combine(dataDir, "master.key"))
    : MasterKey.FromHex(settings.MasterKey);
var tokenPath = Path.Combine(dataDir, "admin.token");
var adminToken = string.IsNullOrWhiteSpace(settings.AdminToken) ? AdminToken.LoadOrCreate(tokenPath) : new AdminToken(settings.AdminToken);

if (runsSilo) SiloSetup.ConfigureServices(builder.Services, settings, connectionString!, masterKey!);
else builder.Services.AddSingleton(TimeProvider.System);
builder.Services.AddSingleton(adminToken);
// Sign-on links point at the HTTPS listener (the webmail is there only), whatever listener the integration called.
builder.Services.AddSingleton(new GrainMail.Gateways.Http.Sessions.SsoLinkOptions(settings.HttpsPort));
if (runsSilo)
{
    builder.Services.AddSingleton<IReadinessCheck, SiloReadiness>();
    builder.Services.AddHostedService<OutboundResumer>();
    builder.AddGrainMailOperations(settings); // gauges, dashboard (Telemetry/OperationsSetup.cs)
}
else
{
    builder.Services.AddSingleton<IReadinessCheck, GatewayReadiness>();
    builder.AddGatewayOperations(); // the gateways' meters; gauges and dashboard live on silos
}
// Metrics: ours, Orleans' own meter and the runtime's, scraped at /metrics (Prometheus text format).
// Traces (and metrics too) go to an OTLP collector when OTEL_EXPORTER_OTLP_ENDPOINT is set.
var otlp = !string.IsNullOrWhiteSpace(Environment.GetEnvironmentVariable("OTEL_EXPORTER_OTLP_ENDPOINT"));
var telemetry = builder.Services.AddOpenTelemetry()
    .WithMetrics(metrics =>
    {
        metrics.AddMeter("GrainMail.Smtp", "GrainMail.Imap", "GrainMail.Pop3", "GrainMail.Delivery", "GrainMail.Outbound", GrainMail.Gateways.ManageSieve.ManageSieveServer.MeterName, "Microsoft.Orleans")
            .AddRuntimeInstrumentation()
            .AddPrometheusExporter();
        if (otlp) metrics.AddOtlpExporter();
    });
// Spans are made only when someone collects them: listening to Orleans' sources turns every grain
// call into an activity, which cost SMTP throughput (3.7x the anchor instead of 4.1-4.4x) with
// nowhere to send them.
if (otlp)
{
    telemetry.WithTracing(tracing => tracing
        .AddSource(GrainMail.Operations.GrainMailTracing.SourceName, "Microsoft.Orleans.Runtime", "Microsoft.Orleans.Application")
        .AddOtlpExporter());
}
// Log lines carry the trace and span ids of the message they are about.
builder.Logging.Configure(o => o.ActivityTrackingOptions = ActivityTrackingOptions.TraceId | ActivityTrackingOptions.SpanId);
builder.Services.AddGrainMailAdmin(); // problem details, the admin token's authentication, OpenAPI
builder.Services.AddGrainMailJmap(); // JMAP on the users' HTTPS listener (gateways/GrainMail.Gateways.Jmap)
GrainMail.Gateways.Jmap.Methods.JmapMethodRegistration.AddJmapMethods<GrainMail.Gateways.Jmap.Submission.IdentityMethods>(builder.Services); // Identity (issue 18, jmap-extras)
GrainMail.Gateways.Jmap.Submission.SubmissionRegistration.AddJmapSubmissionAndVacation(builder.Services); // EmailSubmission, VacationResponse (issue 18, jmap-submit)
// SmtpOptions, ImapOptions, Pop3Options and the rest are bound in AddGrainMailOptions (Configuration/).
// Per-domain certificates (issue 18, 4.2.19): every TLS listener picks by SNI, else the node's certificate.
builder.Services.AddSingleton<DomainCertificates>();
if (runsGateways) builder.Services.AddHostedService<DomainCertificateRefresher>();
builder.Services.AddSingleton(sp => new ServerTls(TlsCertificate.Load(settings.TlsCertificatePem, settings.TlsKeyPem, dataDir,
    sp.GetRequiredService<SmtpOptions>().HostName))
{ Domains = sp.GetRequiredService<DomainCertificates>() });
builder.Services.AddSingleton<SmtpServer>();
builder.Services.AddSingleton<GrainMail.Gateways.Common.Intake.MessageIntake>();
builder.Services.AddSingleton<MessageCache>();
builder.Services.AddSingleton<GrainMail.Gateways.Common.Sessions.OpenMailSessions>();
builder.Services.AddSingleton<ImapServer>();
builder.Services.AddSingleton<Pop3Server>();
builder.Services.AddSingleton<GrainMail.Gateways.ManageSieve.ManageSieveServer>();
var listeners = new List<string>();
builder.WebHost.ConfigureKestrel(k =>
{
    k.Limits.MaxRequestBodySize = 1024 * 1024;
    var http = new Uri(settings.HttpUrl);
    k.Listen(GrainMailSettings.ParseAddress(http.Host), http.Port);
    if (!runsGateways) return;
    var bind = GrainMailSettings.ParseAddress(settings.ListenAddress);
    foreach (var (port, service) in new[]
    {
        (settings.SmtpMxPort, SmtpService.Mx),
        (settings.SmtpSubmissionPort, SmtpService.Submission),
        (settings.SmtpSubmissionsPort, SmtpService.Submissions),
    })
    {
        if (port <= 0) continue;
        k.Listen(bind, port, listen => listen.Run(ctx => listen.ApplicationServices.GetRequiredService<SmtpServer>().HandleAsync(ctx, service)));
        listeners.Add($"  SMTP {service,-12}{bind}:{port}{(service == SmtpService.Submissions ? " (implicit TLS)" : " (STARTTLS)")}");
    }
    foreach (var (port, service) in new[] { (settings.ImapPort, ImapService.Imap), (settings.ImapsPort, ImapService.Imaps) })
    {
        if (port <= 0) continue;
        k.Listen(bind, port, listen => listen.Run(ctx => listen.ApplicationServices.GetRequiredService<ImapServer>().HandleAsync(ctx, service)));
        listeners.Add($"  IMAP        {bind}:{port}{(service == ImapService.Imaps ? " (implicit TLS)" : " (STARTTLS)")}");
    }
    foreach (var (port, service) in new[] { (settings.Pop3Port, Pop3Service.Pop3), (settings.Pop3sPort, Pop3Service.Pop3s) })
    {
        if (port <= 0) continue;
        k.Listen(bind, port, listen => listen.Run(ctx => listen.ApplicationServices.GetRequiredService<Pop3Server>().HandleAsync(ctx, service)));
        listeners.Add($"  POP3        {bind}:{port}{(service == Pop3Service.Pop3s ? " (implicit TLS)" : " (STLS)")}");
    }
    if (settings.ManageSievePort > 0)
    {
        k.Listen(bind, settings.ManageSievePort, listen => listen.Run(ctx =>
            listen.ApplicationServices.GetRequiredService<GrainMail.Gateways.ManageSieve.ManageSieveServer>().HandleAsync(ctx)));
        listeners.Add($"  ManageSieve {bind}:{settings.ManageSievePort} (STARTTLS)");
    }
    if (settings.HttpsPort > 0)
    {
        // Users' HTTP (CardDAV, /api/v1/me): the node's TLS certificate, resolved at the first handshake.
        // The certificate is picked per handshake by SNI (the domain's own, with its intermediates).
        k.Listen(bind, settings.HttpsPort, listen => listen.UseHttps(new Microsoft.AspNetCore.Server.Kestrel.Https.TlsHandshakeCallbackOptions
        {
            OnConnection = context => ValueTask.FromResult(listen.ApplicationServices.GetRequiredService<ServerTls>()
                .OptionsFor(context.ClientHelloInfo.ServerName, [System.Net.Security.SslApplicationProtocol.Http2, System.Net.Security.SslApplicationProtocol.Http11])),
        }));
        listeners.Add($"  HTTPS       {bind}:{settings.HttpsPort} (CardDAV, /api/v1/me, JMAP, webmail /mail/)");
    }
});
if (runsSilo) builder.Host.UseOrleans(silo => SiloSetup.ConfigureSilo(silo, settings, connectionString!));
else builder.Host.UseOrleansClient(client => SiloSetup.ConfigureClient(client, settings, connectionString));

// Migrations run before Orleans starts: its providers read their queries from OrleansQuery.
if (runsSilo)
{
    await using var migrationSource = Npgsql.NpgsqlDataSource.Create(connectionString!);
    await new MigrationRunner(migrationSource, startupLogs.CreateLogger<MigrationRunner>()).ApplyAsync();
}

var app = builder.Build();
// The TLS certificate (made once when none is configured) is ready before the first connection.
app.Services.GetRequiredService<ServerTls>();
app.UseStatusCodePages();
app.MapGrainMailAdmin();
app.MapGrainMailJmap();
// The webmail's files at /mail/ (HTTPS listener only; Webmail/WebmailEndpoints).
GrainMail.Gateways.Http.Webmail.WebmailEndpoints.MapWebmail(app,
    GrainMail.Gateways.Http.Webmail.WebmailFiles.Locate(settings.WebmailPath, AppContext.BaseDirectory));
// Open like /healthz: scrapers sit on the operators' network; the listener is loopback by default.
app.MapPrometheusScrapingEndpoint("/metrics").AllowAnonymous();
if (runsSilo) app.MapGrainMailOperations(settings);

app.Lifetime.ApplicationStarted.Register(() =>
{
    Console.WriteLine($"GrainMail is running as {role.ToString().ToLowerInvariant()} (region {settings.Region}, data in {dataDir})");
    Console.WriteLine($"  admin API   {settings.HttpUrl}/api/v1   (bearer token in {(string.IsNullOrWhiteSpace(settings.AdminToken) ? tokenPath : "configuration")})");
    Console.WriteLine($"  health      {settings.HttpUrl}/healthz  {settings.HttpUrl}/readyz");
    foreach (var l in listeners) Console.WriteLine(l);
    if (runsSilo) Console.WriteLine($"  silo        {settings.AdvertisedAddress}:{settings.SiloPort} (gateway {settings.GatewayPort})");
    else Console.WriteLine("  cluster     client of the silos in the membership table");
    Console.WriteLine(gatewayWithoutDatabase ? $"  PostgreSQL  none here (silos at {settings.SiloGateways})"
        : embedded is null
        ? "  PostgreSQL  configured connection string"
        : $"  PostgreSQL  embedded, 127.0.0.1:{embedded.Port}, data in {embedded.DataDirectory}");
    Console.WriteLine("Press Ctrl-C to stop.");
});

try
{
    await app.RunAsync();
}
finally
{
    if (embedded is not null) await embedded.StopAsync();
}
return 0;

internal enum HostRole
{
    Node,
    Silo,
    Gateway,
}

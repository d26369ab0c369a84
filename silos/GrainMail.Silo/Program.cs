using GrainMail.Gateways.Http;
using GrainMail.Silo;
using GrainMail.Storage.Blobs;
using GrainMail.Storage.Database;
using Microsoft.AspNetCore.Server.Kestrel.Core;

// GrainMail single-process host: one silo with every gateway co-hosted, and (when no database
// is configured) a private PostgreSQL under the data directory.
var builder = WebApplication.CreateBuilder(args);
builder.Configuration.AddEnvironmentVariables(); // GRAINMAIL_* mapped below
// Orleans' own start-up detail (options dumps, placement notes) is for debugging, not for operators.
builder.Logging.AddFilter("Orleans", LogLevel.Warning);
builder.Logging.AddFilter("Microsoft.AspNetCore", LogLevel.Warning);
var settings = builder.Configuration.GetSection("GrainMail").Get<GrainMailSettings>() ?? new GrainMailSettings();
ApplyEnvironment(settings);
var dataDir = Path.GetFullPath(settings.DataDir);
Directory.CreateDirectory(dataDir);

using var startupLogs = LoggerFactory.Create(b => b.AddSimpleConsole(o => o.SingleLine = true));
var log = startupLogs.CreateLogger("GrainMail");

EmbeddedPostgres? embedded = null;
var connectionString = settings.ConnectionString;
if (string.IsNullOrWhiteSpace(connectionString))
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

var masterKey = string.IsNullOrWhiteSpace(settings.MasterKey)
    ? MasterKey.LoadOrCreate(Path.Combine(dataDir, "master.key"))
    : MasterKey.FromHex(settings.MasterKey);
var tokenPath = Path.Combine(dataDir, "admin.token");
var adminToken = string.IsNullOrWhiteSpace(settings.AdminToken) ? AdminToken.LoadOrCreate(tokenPath) : new AdminToken(settings.AdminToken);

SiloSetup.ConfigureServices(builder.Services, settings, connectionString, masterKey);
builder.Services.AddSingleton(adminToken);
builder.Services.AddSingleton(new AdminApiOptions { DefaultRegion = settings.Region, MaxMessageBytes = settings.MaxMessageBytes });
builder.Services.AddSingleton<IReadinessCheck, SiloReadiness>();
builder.Services.AddProblemDetails();
builder.Services.Configure<KestrelServerOptions>(o => o.Limits.MaxRequestBodySize = 1024 * 1024);
builder.WebHost.UseUrls(settings.HttpUrl);
builder.Host.UseOrleans(silo => SiloSetup.ConfigureSilo(silo, settings, connectionString));

// Migrations run before Orleans starts: its providers read their queries from OrleansQuery.
await using (var migrationSource = Npgsql.NpgsqlDataSource.Create(connectionString))
{
    await new MigrationRunner(migrationSource, startupLogs.CreateLogger<MigrationRunner>()).ApplyAsync();
}

var app = builder.Build();
app.UseStatusCodePages();
app.MapGrainMailAdmin();

app.Lifetime.ApplicationStarted.Register(() =>
{
    Console.WriteLine($"GrainMail is running (region {settings.Region}, data in {dataDir})");
    Console.WriteLine($"  admin API   {settings.HttpUrl}/api/v1   (bearer token in {(string.IsNullOrWhiteSpace(settings.AdminToken) ? tokenPath : "configuration")})");
    Console.WriteLine($"  health      {settings.HttpUrl}/healthz  {settings.HttpUrl}/readyz");
    Console.WriteLine($"  silo        {settings.AdvertisedAddress}:{settings.SiloPort} (gateway {settings.GatewayPort})");
    Console.WriteLine(embedded is null
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

// GRAINMAIL_* variables win over configuration files: they are what operators and tests set.
static void ApplyEnvironment(GrainMailSettings s)
{
    string? Env(string name) => Environment.GetEnvironmentVariable(name) is { Length: > 0 } v ? v : null;
    s.DataDir = Env("GRAINMAIL_DATA") ?? s.DataDir;
    s.ConnectionString = Env("GRAINMAIL_DB") ?? s.ConnectionString;
    s.HttpUrl = Env("GRAINMAIL_HTTP") ?? s.HttpUrl;
    s.Region = Env("GRAINMAIL_REGION") ?? s.Region;
    s.AdminToken = Env("GRAINMAIL_ADMIN_TOKEN") ?? s.AdminToken;
    s.MasterKey = Env("GRAINMAIL_MASTER_KEY") ?? s.MasterKey;
    if (int.TryParse(Env("GRAINMAIL_SILO_PORT"), out var sp)) s.SiloPort = sp;
    if (int.TryParse(Env("GRAINMAIL_GATEWAY_PORT"), out var gp)) s.GatewayPort = gp;
    if (int.TryParse(Env("GRAINMAIL_PG_PORT"), out var pp)) s.EmbeddedPostgresPort = pp;
}

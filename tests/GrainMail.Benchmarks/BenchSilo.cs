using GrainMail.Silo;
using GrainMail.Silo.Configuration;
using GrainMail.Storage.Blobs;
using GrainMail.Storage.Database;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Npgsql;

/// <summary>
/// The in-process node the benchmarks measure: an embedded PostgreSQL (fsync on) in a temp directory of its own with every
/// migration applied, and a silo on it configured as the node's Program configures one (localhost clustering, warnings and
/// worse logged). <see cref="StartAsync"/> starts both; <see cref="NewSilo"/> builds another silo on the same database
/// (the drain mode's second one). Disposing stops PostgreSQL and deletes the directory.
/// </summary>
internal sealed class BenchSilo : IAsyncDisposable
{
    private readonly EmbeddedPostgres _pg;
    private readonly IConfiguration _configuration;
    private readonly GrainMailSettings _settings;
    private readonly MasterKey _masterKey = new(new byte[32].Select((_, i) => (byte)i).ToArray());

    private BenchSilo(string root, EmbeddedPostgres pg, IConfiguration configuration)
    {
        Root = root;
        _pg = pg;
        ConnectionString = pg.ConnectionString();
        _configuration = configuration;
        _settings = SiloSetup.Settings(configuration);
    }

    /// <summary>The temp directory (PostgreSQL's data under "pg").</summary>
    public string Root { get; }

    public string ConnectionString { get; }

    /// <summary>The silo <see cref="StartAsync"/> started.</summary>
    public IHost Host { get; private set; } = null!;

    public IGrainFactory Grains => Host.Services.GetRequiredService<IGrainFactory>();

    /// <param name="name">The temp directory's prefix (grainmail-NAME-PID).</param>
    /// <param name="configuration">GrainMail settings beside QueueCount 8, which every mode uses.</param>
    public static async Task<BenchSilo> StartAsync(string name, IReadOnlyDictionary<string, string?>? configuration = null)
    {
        var root = Path.Combine(Path.GetTempPath(), $"grainmail-{name}-{Environment.ProcessId}");
        Directory.CreateDirectory(root);
        File.SetUnixFileMode(root, (UnixFileMode)0b111_101_101);
        var pg = await EmbeddedPostgres.StartAsync(Path.Combine(root, "pg"));
        var values = new Dictionary<string, string?> { ["GrainMail:QueueCount"] = "8" };
        foreach (var (k, v) in configuration ?? new Dictionary<string, string?>()) values[k] = v;
        var bench = new BenchSilo(root, pg, new ConfigurationBuilder().AddInMemoryCollection(values).Build());
        try
        {
            await using (var ds = NpgsqlDataSource.Create(bench.ConnectionString)) await new MigrationRunner(ds).ApplyAsync();
            bench.Host = bench.NewSilo();
            await bench.Host.StartAsync();
            return bench;
        }
        catch
        {
            await bench.DisposeAsync();
            throw;
        }
    }

    /// <summary>A silo on the same database, not started.</summary>
    public IHost NewSilo()
    {
        var builder = Microsoft.Extensions.Hosting.Host.CreateApplicationBuilder();
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        builder.Services.AddGrainMailOptions(_configuration);
        SiloSetup.ConfigureServices(builder.Services, _settings, ConnectionString, _masterKey);
        builder.UseOrleans(silo =>
        {
            SiloSetup.ConfigureSilo(silo, _settings, ConnectionString, clustering: false);
            silo.UseLocalhostClustering();
        });
        return builder.Build();
    }

    /// <summary>Stops PostgreSQL (again is harmless).</summary>
    public Task StopDatabaseAsync() => _pg.StopAsync();

    public async ValueTask DisposeAsync()
    {
        Host?.Dispose();
        await _pg.StopAsync();
        Directory.Delete(Root, recursive: true);
    }
}

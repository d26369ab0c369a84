using GrainMail.Silo;
using GrainMail.Silo.Configuration;
using Microsoft.Extensions.Configuration;
using GrainMail.Storage.Blobs;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Orleans.TestingHost;

namespace GrainMail.Tests.Infrastructure;

/// <summary>
/// An InProcessTestCluster whose silos use the production configuration (grain storage,
/// reminders and the durable stream provider on a real PostgreSQL database).
/// </summary>
public static class TestSilos
{
    /// <summary>The production configuration with a few test values, as the host would bind it.</summary>
    public static IConfiguration Configuration() => new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
    {
        ["GrainMail:QueueCount"] = "4",
        ["GrainMail:QueueVisibilityTimeout"] = "00:00:20",
        // Cheap hashing keeps account set-up fast; the format and code path are the production ones.
        ["GrainMail:PasswordHashMemoryKiB"] = "1024",
        ["GrainMail:PasswordHashIterations"] = "1",
        // No resolver answers here; the trust tests run a host with their own DNS server.
        ["GrainMail:Trust:Enabled"] = "false",
    }).Build();

    /// <param name="services">Replaces silo services after the production set-up (a test clock, for instance).</param>
    /// <param name="client">Adds to the test's Orleans client (a gateway's call filter, for instance).</param>
    /// <param name="silo">Runs after the production silo set-up (which registers the grain storage, for a test to wrap it).</param>
    public static async Task<InProcessTestCluster> StartAsync(string connectionString, short silos = 1, Action<IServiceCollection>? services = null,
        Action<Orleans.Hosting.IClientBuilder>? client = null, Action<Orleans.Hosting.ISiloBuilder>? silo = null)
    {
        // Each cluster anchors its audit chain into a file of its own (its database is its own too).
        var configuration = new ConfigurationBuilder().AddConfiguration(Configuration()).AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["GrainMail:Audit:AnchorFile"] = Path.Combine(Path.GetTempPath(), "grainmail-test-anchors", $"{Guid.NewGuid():N}.log"),
        }).Build();
        var settings = SiloSetup.Settings(configuration);
        var masterKey = new MasterKey(new byte[32].Select((_, i) => (byte)(i * 7 + 1)).ToArray());
        var builder = new InProcessTestClusterBuilder(silos);
        // The production service id, not a new one per cluster: grain state and reminders are keyed by it,
        // so a cluster started again on the same database (a whole-cluster restart) finds them, as in production.
        builder.Options.ServiceId = settings.ServiceId;
        builder.ConfigureSiloHost((_, host) =>
        {
            host.Services.AddGrainMailOptions(configuration);
            SiloSetup.ConfigureServices(host.Services, settings, connectionString, masterKey);
            services?.Invoke(host.Services);
            host.Logging.SetMinimumLevel(LogLevel.Warning);
        });
        builder.ConfigureSilo((_, siloBuilder) =>
        {
            SiloSetup.ConfigureSilo(siloBuilder, settings, connectionString, clustering: false);
            silo?.Invoke(siloBuilder);
        });
        builder.ConfigureClientHost(host => host.Logging.SetMinimumLevel(LogLevel.Warning));
        if (client is not null) builder.ConfigureClient(client);
        var cluster = builder.Build();
        await cluster.DeployAsync();
        return cluster;
    }

    public static T Service<T>(this InProcessTestCluster cluster) where T : notnull =>
        cluster.GetSiloServiceProvider(cluster.Silos[0].SiloAddress).GetRequiredService<T>();
}

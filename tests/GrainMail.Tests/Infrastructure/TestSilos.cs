using GrainMail.Silo;
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
    public static GrainMailSettings Settings() => new()
    {
        QueueCount = 4,
        QueueVisibilityTimeout = TimeSpan.FromSeconds(20),
        // Cheap hashing keeps account set-up fast; the format and code path are the production ones.
        PasswordHashMemoryKiB = 1024,
        PasswordHashIterations = 1,
    };

    public static async Task<InProcessTestCluster> StartAsync(string connectionString, short silos = 1)
    {
        var settings = Settings();
        var masterKey = new MasterKey(new byte[32].Select((_, i) => (byte)(i * 7 + 1)).ToArray());
        var builder = new InProcessTestClusterBuilder(silos);
        builder.ConfigureSiloHost((_, host) =>
        {
            SiloSetup.ConfigureServices(host.Services, settings, connectionString, masterKey);
            host.Logging.SetMinimumLevel(LogLevel.Warning);
        });
        builder.ConfigureSilo((_, silo) => SiloSetup.ConfigureSilo(silo, settings, connectionString, clustering: false));
        builder.ConfigureClientHost(host => host.Logging.SetMinimumLevel(LogLevel.Warning));
        var cluster = builder.Build();
        await cluster.DeployAsync();
        return cluster;
    }

    public static T Service<T>(this InProcessTestCluster cluster) where T : notnull =>
        cluster.GetSiloServiceProvider(cluster.Silos[0].SiloAddress).GetRequiredService<T>();
}

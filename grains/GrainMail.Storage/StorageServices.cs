using GrainMail.Storage.Blobs;
using GrainMail.Storage.Database;
using GrainMail.Storage.Delivery;
using GrainMail.Storage.Domains;
using GrainMail.Storage.Mailboxes;
using GrainMail.Storage.Streams;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace GrainMail.Storage;

public static class StorageServices
{
    /// <summary>
    /// Registers the PostgreSQL data source and everything built on it. Silos and gateway hosts
    /// call this with the same connection string and queue count, so that they agree on which
    /// partition a stream lives in.
    /// </summary>
    public static IServiceCollection AddGrainMailStorage(this IServiceCollection services, string connectionString,
        MasterKey masterKey, PgQueueOptions queueOptions)
    {
        services.AddSingleton(_ => new NpgsqlDataSourceBuilder(connectionString).Build());
        services.AddSingleton(masterKey);
        services.AddSingleton(queueOptions);
        services.AddSingleton(new PgStreamQueueMapper(queueOptions.QueueCount));
        services.AddSingleton<KeyRing>();
        services.AddSingleton<BlobStore>();
        services.AddSingleton<EventCodec>();
        services.AddSingleton<StreamQueueStore>();
        services.AddSingleton<MessageSubmitter>();
        services.AddSingleton<MailboxStore>();
        services.AddSingleton<DomainDirectory>();
        services.AddSingleton<MigrationRunner>();
        return services;
    }
}

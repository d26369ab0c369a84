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
        services.AddSingleton(_ =>
        {
            var builder = new NpgsqlDataSourceBuilder(connectionString);
            // The hot statements (submit, lease, deliver) run thousands of times a second: let
            // Npgsql prepare them server-side, so PostgreSQL parses and plans each once per connection.
            if (builder.ConnectionStringBuilder.MaxAutoPrepare == 0) builder.ConnectionStringBuilder.MaxAutoPrepare = 64;
            // These connections hold no session state (no SET, no advisory locks: the migration
            // runner uses a data source of its own), so the reset on every return to the pool is pure cost.
            builder.ConnectionStringBuilder.NoResetOnClose = true;
            return builder.Build();
        });
        services.AddSingleton(masterKey);
        services.AddSingleton(queueOptions);
        services.AddSingleton(new PgStreamQueueMapper(queueOptions.QueueCount));
        services.AddSingleton<KeyRing>();
        services.AddSingleton<BlobStore>();
        services.AddSingleton<EventCodec>();
        services.AddSingleton<StreamQueueStore>();
        services.AddSingleton<DeadLetterStore>();
        services.AddSingleton(sp =>
        {
            var submitter = ActivatorUtilities.CreateInstance<MessageSubmitter>(sp);
            // Failure tests of real processes only (unset in every deployment).
            SubmitFaults.Apply(submitter, Environment.GetEnvironmentVariable(SubmitFaults.Variable));
            return submitter;
        });
        services.AddSingleton<GrainMail.Storage.Trust.ReceiveLogStore>();
        services.AddSingleton<GrainMail.Storage.Trust.QuarantineStore>();
        services.AddSingleton<GrainMail.Storage.Trust.ContentStore>();
        services.AddSingleton<GrainMail.Storage.Trust.ReputationFeedbackStore>();
        services.AddSingleton<GrainMail.Storage.Trust.LearnQueueStore>();
        services.AddSingleton<GrainMail.Storage.Trust.SrsKeyStore>();
        services.AddSingleton<MailboxStore>();
        services.AddSingleton<ThreadIdBackfillStore>();
        services.AddSingleton<GrainMail.Storage.Outbound.OutboundStore>();
        services.AddSingleton<DomainDirectory>();
        services.AddSingleton<GrainMail.Storage.Organization.DirectoryStore>();
        services.AddSingleton<DirectoryAliasStore>();
        services.AddSingleton<GrainMail.Storage.Admin.AdminAccessStore>();
        services.AddSingleton<GrainMail.Storage.Admin.IntegrationStore>();
        services.AddSingleton<GrainMail.Storage.Lists.MailingListStore>();
        // Autocomplete from a per-silo in-memory copy of each domain's address book, checked against a version
        // number before every search (GRAINMAIL_ADDRESSBOOK_INDEX=0 in the environment: SQL for every search, for comparison).
        services.AddSingleton(sp => new GrainMail.Storage.AddressBook.AddressBookStore(sp.GetRequiredService<NpgsqlDataSource>(),
            Environment.GetEnvironmentVariable("GRAINMAIL_ADDRESSBOOK_INDEX") == "0"
                ? null
                : new GrainMail.Storage.AddressBook.AddressBookIndex(sp.GetRequiredService<NpgsqlDataSource>())));
        services.AddSingleton<GrainMail.Storage.Audit.AuditLog>();
        services.AddSingleton<GrainMail.Storage.Tls.DomainCertificateStore>();
        services.AddSingleton<GrainMail.Storage.LargeFiles.LargeFileStore>();
        services.AddSingleton<GrainMail.Storage.Uploads.UploadBlobStore>();
        services.AddSingleton<GrainMail.Storage.Mailboxes.MailboxHistoryStore>();
        services.AddSingleton<GrainMail.Storage.Audit.AuditReader>();
        services.AddSingleton<GrainMail.Storage.Governance.MessageIndex>();
        services.AddSingleton<GrainMail.Storage.Governance.ReportStore>();
        services.AddSingleton<GrainMail.Storage.Security.AccountSecurityStore>();
        services.AddSingleton<GrainMail.Storage.Logins.LoginLogStore>();
        services.AddSingleton<GrainMail.Storage.Logins.LoginRuleStore>();
        services.AddSingleton<GrainMail.Storage.Logins.DelegationStore>();
        services.AddSingleton<GrainMail.Storage.Logins.WebSessionStore>();
        services.AddSingleton<GrainMail.Storage.Governance.GovernanceStore>();
        services.AddSingleton<GrainMail.Storage.Sieve.SieveStore>();
        services.AddSingleton<GrainMail.Storage.Jmap.EmailSubmissionStore>();
        services.AddSingleton<GrainMail.Storage.Jmap.ReportArrivals>();
        services.AddSingleton<GrainMail.Storage.Jmap.DeliveryFactsReader>();
        services.AddSingleton<GrainMail.Storage.Jmap.IdentityStore>();
        services.AddSingleton<MigrationRunner>();
        return services;
    }
}

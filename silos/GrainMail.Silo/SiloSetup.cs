using GrainMail.Dns;
using GrainMail.Outbound;
using System.Net;
using GrainMail.Grains;
using GrainMail.Grains.Accounts;
using GrainMail.Storage;
using GrainMail.Storage.Blobs;
using GrainMail.Storage.Streams;
using GrainMail.Contracts.Delivery;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Orleans.Configuration;
using Orleans.Hosting;
using Orleans.Streams;
using Orleans.Placement;
using Orleans.Runtime.MembershipService.SiloMetadata;
using GrainMail.Grains.Regions;
using GrainMail.Gateways.Common;

namespace GrainMail.Silo;

/// <summary>
/// Orleans configuration shared by the host and the cluster tests: ADO.NET clustering, grain
/// storage and reminders on PostgreSQL, and the durable mail stream provider.
/// </summary>
public static class SiloSetup
{
    public static void ConfigureServices(IServiceCollection services, GrainMailSettings settings, string connectionString, MasterKey masterKey)
    {
        services.AddGrainMailStorage(connectionString, masterKey, new PgQueueOptions
        {
            QueueCount = settings.QueueCount,
            VisibilityTimeout = settings.QueueVisibilityTimeout,
            MaxAttempts = settings.QueueMaxAttempts,
        });
        services.AddSingleton(TimeProvider.System);
        services.AddSingleton(new PasswordHashOptions
        {
            MemoryKiB = settings.PasswordHashMemoryKiB,
            Iterations = settings.PasswordHashIterations,
        });
        services.AddSingleton<PasswordHasher>();
        services.AddSingleton(new LockoutOptions());
        services.AddSingleton(SecurityClock.FromEnvironment());
        // Login security (issue 16): allow-lists, the login record, new-location and lockout notices.
        services.TryAddSingleton(new GrainMail.Grains.Accounts.Logins.LoginSecurityOptions());
        services.AddSingleton<GrainMail.Grains.Accounts.Logins.LoginLocator>();
        services.AddSingleton<GrainMail.Grains.Accounts.Logins.LoginRules>();
        services.AddSingleton<GrainMail.Grains.Accounts.Logins.LoginNotices>();
        services.AddSingleton<GrainMail.Grains.Accounts.Logins.LoginRecorder>();
        services.AddHostedService(sp => sp.GetRequiredService<GrainMail.Grains.Accounts.Logins.LoginRecorder>());
        services.AddSingleton<ILoginGuard, GrainMail.Grains.Accounts.Logins.LoginGuard>();
        // DirectoryOptions, OutboundOptions and IntakeOptions are bound and validated in
        // Configuration/GrainMailOptions (AddGrainMailOptions), like the gateways' options.
        services.AddSingleton<MailDns>();
        services.AddSingleton<OutboundSender>();
        services.AddSingleton<GrainMail.Grains.Trust.ContentTrust>();
        // The MAC key of X-Spam-Origin (which reputation counts a message went into), the same on every node.
        services.AddSingleton(new GrainMail.Trust.Scoring.OriginStamp(masterKey.Derive("grainmail:spam-origin")));
        services.AddSingleton<GrainMail.Grains.Trust.InboundTrust>();
        services.AddSingleton<GrainMail.Grains.Trust.ReputationView>();
        services.AddSingleton<GrainMail.Grains.Trust.SpamPolicyView>();
        services.AddSingleton<GrainMail.Grains.Trust.VirusScan>();
        // SRS: keyed by GRAINMAIL_SRS_SECRET, else by a key derived from the master key (the same on every node).
        services.AddSingleton(sp =>
        {
            var srs = sp.GetRequiredService<GrainMail.Outbound.Forwarding.SrsOptions>();
            var secret = string.IsNullOrEmpty(srs.Secret) ? masterKey.Derive("grainmail:srs") : System.Text.Encoding.UTF8.GetBytes(srs.Secret);
            return new GrainMail.Outbound.Forwarding.SrsRewriter(secret, TimeProvider.System, srs.MaxAge);
        });
        services.AddSingleton<GrainMail.Grains.Forwarding.ForwardedMail>();
        services.AddSingleton<GrainMail.Outbound.Routes.RouteDeliveries>();
        services.AddSingleton<DkimKeyStore>();
        services.AddSingleton<CertificateTrust>();
        services.AddSingleton<MtaStsPolicies>();
        services.AddSingleton<GrainMail.Grains.Delivery.DeliveryReports>();
        services.AddSingleton<GrainMail.Grains.Sieve.SieveDelivery>();
        // GrainMail:Lists (ExpansionBatch, PacedBacklog, PacingMaxWait); the defaults pace expansion.
        services.AddSingleton(sp => sp.GetService<Microsoft.Extensions.Configuration.IConfiguration>()?.GetSection("GrainMail:Lists")
            .Get<GrainMail.Grains.Lists.ListOptions>() ?? new GrainMail.Grains.Lists.ListOptions());
        services.AddHostedService<GrainMail.Grains.Audit.AuditRetention>(); // GrainMail:Audit:RetentionDays
        services.AddHostedService<GrainMail.Grains.LargeFiles.LargeFileSweeper>(); // expired links and abandoned uploads (issue 18)
        services.AddHostedService<GrainMail.Grains.Uploads.UploadSweeper>(); // expired JMAP uploads (issue 18)
        // Old message_index rows get their subject word tokens in the background (GrainMail:SubjectWords).
        services.AddSingleton(sp => sp.GetService<Microsoft.Extensions.Configuration.IConfiguration>()?.GetSection("GrainMail:SubjectWords")
            .Get<GrainMail.Grains.Governance.SubjectWordsBackfillOptions>() ?? new GrainMail.Grains.Governance.SubjectWordsBackfillOptions());
        services.AddHostedService<GrainMail.Grains.Governance.SubjectWordsBackfill>();
        // Messages stored without a thread id get theirs in the background (GrainMail:ThreadIds, migration 0039).
        services.AddSingleton(sp => sp.GetService<Microsoft.Extensions.Configuration.IConfiguration>()?.GetSection("GrainMail:ThreadIds")
            .Get<GrainMail.Grains.Mailboxes.ThreadIdBackfillOptions>() ?? new GrainMail.Grains.Mailboxes.ThreadIdBackfillOptions());
        services.AddHostedService<GrainMail.Grains.Mailboxes.ThreadIdBackfill>();
        // Users' verdicts (moves into and out of Junk) queued in PostgreSQL and applied by the learners (GrainMail:LearnQueue, migration 0042).
        services.AddSingleton(sp => sp.GetService<Microsoft.Extensions.Configuration.IConfiguration>()?.GetSection("GrainMail:LearnQueue")
            .Get<GrainMail.Grains.Trust.LearnQueueOptions>() ?? new GrainMail.Grains.Trust.LearnQueueOptions());
        services.AddHostedService<GrainMail.Grains.Trust.LearnQueueWorker>();
        // The chain's tip anchored outside the database (GrainMail:Audit:AnchorFile, AnchorEvery).
        services.AddSingleton(sp => new GrainMail.Storage.Audit.AuditAnchors(
            sp.GetRequiredService<GrainMail.Grains.Audit.AuditOptions>().AnchorFile is { Length: > 0 } anchorFile
                ? Path.GetFullPath(anchorFile)
                : Path.Combine(Path.GetFullPath(settings.DataDir), "audit-anchors.log")));
        services.AddSingleton<GrainMail.Grains.Audit.AuditAnchoring>();
        services.AddHostedService(sp => sp.GetRequiredService<GrainMail.Grains.Audit.AuditAnchoring>());
        services.AddSingleton<GrainMail.Grains.Governance.SubmissionGovernance>();
        services.AddSingleton<GrainMail.Grains.Governance.GovernanceNotices>();
        services.AddSingleton<GrainMail.Grains.Governance.GovernanceClock>();
        // Two regions: the domain → home region map, the placement filter that reads it, and
        // the check that brings grains home.
        services.AddSingleton<HomeRegions>();
        services.AddHostedService(sp => sp.GetRequiredService<HomeRegions>());
        services.AddSingleton<HomeRegionKeeper>();
        services.AddPlacementFilter<HomeRegionPlacementFilterStrategy, HomeRegionPlacementFilterDirector>(ServiceLifetime.Singleton);
        services.AddSingleton<EgressRegions>();
        services.AddPlacementFilter<EgressRegionPlacementFilterStrategy, EgressRegionPlacementFilterDirector>(ServiceLifetime.Singleton);
    }


    /// <summary>The Orleans client of a gateway process: finds silos in the membership table.</summary>
    public static void ConfigureClient(IClientBuilder client, GrainMailSettings settings, string? connectionString)
    {
        client.AddActivityPropagation();
        client.Configure<ClusterOptions>(o =>
        {
            o.ClusterId = settings.ClusterId;
            o.ServiceId = settings.ServiceId;
        });
        if (!string.IsNullOrWhiteSpace(settings.SiloGateways))
        {
            var endpoints = SiloGatewayList.Parse(settings.SiloGateways);
            client.Services.AddSingleton<Orleans.Messaging.IGatewayListProvider>(sp =>
                new SiloGatewayList(endpoints, sp.GetRequiredService<ILogger<SiloGatewayList>>()));
        }
        else
        {
            client.UseAdoNetClustering(o =>
            {
                o.Invariant = "Npgsql";
                o.ConnectionString = connectionString;
            });
        }
        // A region going dark takes its silos' gateways with it: re-read the list often, so the
        // client stops trying dead ones and finds silos that joined.
        client.Configure<GatewayOptions>(o => o.GatewayListRefreshPeriod = TimeSpan.FromSeconds(5));
        client.Configure<ClientMessagingOptions>(o => o.ResponseTimeout = settings.GrainCallTimeout);
        client.AddOutgoingGrainCallFilter<SiloFailureRetry>();
        // Started before the silos (or during a failover): keep trying instead of exiting.
        client.UseConnectionRetryFilter(async (_, ct) =>
        {
            await Task.Delay(TimeSpan.FromSeconds(1), ct);
            return true;
        });
    }

    /// <summary>The host's own settings (section GrainMail), bound; <see cref="Configuration.GrainMailOptions"/> validates them.</summary>
    public static GrainMailSettings Settings(IConfiguration configuration) =>
        configuration.GetSection(GrainMailSettings.Section).Get<GrainMailSettings>() ?? new GrainMailSettings();

    public static void ConfigureSilo(ISiloBuilder silo, GrainMailSettings settings, string connectionString, bool clustering = true)
    {
        // Grain calls carry the caller's trace context (W3C), so a trace follows a message across silos.
        silo.AddActivityPropagation();
        silo.UseSiloMetadata(new Dictionary<string, string> { [SiloRegion.MetadataKey] = settings.Region });
        silo.AddOutgoingGrainCallFilter<SiloFailureRetry>();
        // Npgsql's exceptions cannot cross to a caller: a grain's database failure leaves as the project's own.
        silo.AddIncomingGrainCallFilter<GrainMail.Grains.StorageFailureFilter>();
        silo.Configure<SiloMessagingOptions>(o => o.ResponseTimeout = settings.GrainCallTimeout);
        // Failure detection, tuned so that mail flows again within seconds of a region going
        // dark: a silo that misses 2 probes of 2 s is suspected, and 2 votes declare it dead
        // (the defaults, 3 × 5 s, take about half a minute). Killed processes refuse
        // connections at once, so in practice probes fail fast; a silo that is merely slow
        // gets 4 s, which a healthy silo on a loaded machine meets easily.
        silo.Configure<ClusterMembershipOptions>(o =>
        {
            o.ProbeTimeout = settings.MembershipProbeTimeout;
            o.NumMissedProbesLimit = 2;
            o.NumVotesForDeathDeclaration = 2;
            o.TableRefreshTimeout = TimeSpan.FromSeconds(5);
            o.IAmAliveTablePublishTimeout = TimeSpan.FromSeconds(30);
        });
        silo.Configure<ClusterOptions>(o =>
        {
            o.ClusterId = settings.ClusterId;
            o.ServiceId = settings.ServiceId;
        });
        if (clustering)
        {
            silo.UseAdoNetClustering(o =>
            {
                o.Invariant = "Npgsql";
                o.ConnectionString = connectionString;
            });
            silo.ConfigureEndpoints(IPAddress.Parse(settings.AdvertisedAddress), settings.SiloPort, settings.GatewayPort, listenOnAnyHostAddress: false);
        }
        silo.AddAdoNetGrainStorage(GrainStorage.Name, o =>
        {
            o.Invariant = "Npgsql";
            o.ConnectionString = connectionString;
        });
        // Its database failures leave as the project's own exception also while a grain activates (no call filter sees
        // that), and a failed state write ends the activation, whose state in memory no longer matches the row.
        GrainMail.Grains.StorageFailureGrainStorage.Decorate(silo.Services, GrainStorage.Name);
        silo.UseAdoNetReminderService(o =>
        {
            o.Invariant = "Npgsql";
            o.ConnectionString = connectionString;
        });
        silo.AddPersistentStreams(DeliveryStreams.Provider, PgQueueAdapterFactory.Create, stream =>
        {
            // Implicit subscriptions only: no pub/sub grain state, no rendezvous call per stream.
            stream.ConfigureStreamPubSub(StreamPubSubType.ImplicitOnly);
            stream.Configure<SimpleQueueCacheOptions>(ob => ob.Configure(o => o.CacheSize = 4096));
            // Up to 32 queued events of one stream reach its consumer in one call, so a mailbox
            // that has fallen behind places them in one transaction (one WAL flush) rather than one
            // each. Safe with this queue: consumers delete their rows in their own transactions, so
            // the cursor moving ahead of the commit hands nothing over early.
            stream.ConfigurePullingAgent(ob => ob.Configure(o => o.BatchContainerBatchSize = 32));
        });
        silo.AddMemoryGrainStorage("PubSubStore");
    }
}

using GrainMail.Outbound;
using System.Net;
using GrainMail.Grains;
using GrainMail.Grains.Accounts;
using GrainMail.Storage;
using GrainMail.Storage.Blobs;
using GrainMail.Storage.Streams;
using GrainMail.Contracts.Delivery;
using Microsoft.Extensions.DependencyInjection;
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
        services.AddSingleton(new GrainMail.Grains.Domains.DirectoryOptions { Postmaster = settings.Postmaster });
        var outbound = BuildOutboundOptions(settings);
        services.AddSingleton(outbound);
        services.AddSingleton<MailDns>();
        services.AddSingleton<OutboundSender>();
        services.AddSingleton<DkimKeyStore>();
        services.AddSingleton<CertificateTrust>();
        services.AddSingleton<MtaStsPolicies>();
        services.AddSingleton<GrainMail.Grains.Delivery.DeliveryReports>();
        services.AddSingleton(new GrainMail.Grains.Intake.IntakeOptions
        {
            SpoolDirectory = Path.Combine(Path.GetFullPath(settings.DataDir), "spool"),
            MaxMessageBytes = settings.MaxMessageBytes,
        });
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

    /// <summary>Outbound delivery settings from the host settings (links, rules, retry schedule).</summary>
    public static OutboundOptions BuildOutboundOptions(GrainMailSettings settings)
    {
        var outbound = new OutboundOptions
        {
            HostName = string.IsNullOrWhiteSpace(settings.HostName) ? Environment.MachineName.ToLowerInvariant() : settings.HostName,
            Port = settings.SmtpOutPort,
            GiveUpAfter = settings.OutboundGiveUpAfter,
            DelayNoticeAfter = settings.OutboundDelayNoticeAfter,
            DnsServers = (settings.DnsServers ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
                .Select(System.Net.IPEndPoint.Parse).Select(e => e.Port == 0 ? new System.Net.IPEndPoint(e.Address, 53) : e).ToList(),
        };
        if (settings.OutboundRetrySchedule.Count > 0) outbound.RetrySchedule = settings.OutboundRetrySchedule;
        if (settings.OutboundLinks.Count > 0)
        {
            if (settings.OutboundLinks.Select(l => l.Name).Distinct().Count() != settings.OutboundLinks.Count)
                throw new InvalidOperationException("Outbound link names must be unique");
            outbound.Links = settings.OutboundLinks;
        }
        else
        {
            outbound.Links = [new EgressLink { Name = "direct", Region = settings.Region, Kind = LinkKind.Direct }];
        }
        if (settings.DomesticSuffixes.Count > 0) outbound.DomesticSuffixes = settings.DomesticSuffixes;
        outbound.DomesticMxRanges = settings.DomesticMxRanges;
        outbound.ProbeAfter = settings.OutboundProbeAfter;
        outbound.LinkDownAfterFailures = settings.LinkDownAfterFailures;
        outbound.LinkCooldown = settings.LinkCooldown;
        outbound.AccountRecipientsPerHour = settings.OutboundAccountRecipientsPerHour;
        outbound.MtaStsHttpsPort = settings.MtaStsHttpsPort;
        outbound.TrustedCaPem = settings.OutboundTrustedCaPem;
        outbound.DomainRecipientsPerHour = settings.OutboundDomainRecipientsPerHour;
        return outbound;
    }

    public static void ConfigureSilo(ISiloBuilder silo, GrainMailSettings settings, string connectionString, bool clustering = true)
    {
        // Grain calls carry the caller's trace context (W3C), so a trace follows a message across silos.
        silo.AddActivityPropagation();
        silo.UseSiloMetadata(new Dictionary<string, string> { [SiloRegion.MetadataKey] = settings.Region });
        silo.AddOutgoingGrainCallFilter<SiloFailureRetry>();
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

using System.Collections;

namespace GrainMail.Silo.Configuration;

/// <summary>
/// The names a setting can be given besides its configuration key: the GRAINMAIL_* environment
/// variables operators and the manifests set, the shared keys that apply to several sections,
/// and the flat names settings had before each gateway got its own section. They become the
/// keys below before anything is bound (README, Configuration, lists the same table).
/// Precedence: a GRAINMAIL_* variable wins over everything; a section's own key wins over a
/// shared or older name.
/// </summary>
public static class ConfigurationKeys
{
    /// <summary>GRAINMAIL_* environment variables and the key each one sets. An empty variable is unset.</summary>
    public static readonly IReadOnlyDictionary<string, string> Environment = new Dictionary<string, string>(StringComparer.Ordinal)
    {
        ["GRAINMAIL_DATA"] = "GrainMail:DataDir",
        ["GRAINMAIL_DB"] = "GrainMail:ConnectionString",
        ["GRAINMAIL_HTTP"] = "GrainMail:HttpUrl",
        ["GRAINMAIL_REGION"] = "GrainMail:Region",
        ["GRAINMAIL_ROLE"] = "GrainMail:Role",
        ["GRAINMAIL_ADMIN_TOKEN"] = "GrainMail:AdminToken",
        ["GRAINMAIL_MASTER_KEY"] = "GrainMail:MasterKey",
        ["GRAINMAIL_SILOS"] = "GrainMail:SiloGateways",
        ["GRAINMAIL_SILO_PORT"] = "GrainMail:SiloPort",
        ["GRAINMAIL_GATEWAY_PORT"] = "GrainMail:GatewayPort",
        ["GRAINMAIL_PG_PORT"] = "GrainMail:EmbeddedPostgresPort",
        ["GRAINMAIL_LISTEN"] = "GrainMail:ListenAddress",
        ["GRAINMAIL_SMTP_MX_PORT"] = "GrainMail:SmtpMxPort",
        ["GRAINMAIL_SMTP_SUBMISSION_PORT"] = "GrainMail:SmtpSubmissionPort",
        ["GRAINMAIL_SMTP_SUBMISSIONS_PORT"] = "GrainMail:SmtpSubmissionsPort",
        ["GRAINMAIL_IMAP_PORT"] = "GrainMail:ImapPort",
        ["GRAINMAIL_IMAPS_PORT"] = "GrainMail:ImapsPort",
        ["GRAINMAIL_POP3_PORT"] = "GrainMail:Pop3Port",
        ["GRAINMAIL_POP3S_PORT"] = "GrainMail:Pop3sPort",
        ["GRAINMAIL_HTTPS_PORT"] = "GrainMail:HttpsPort",
        ["GRAINMAIL_MANAGESIEVE_PORT"] = "GrainMail:ManageSievePort",
        ["GRAINMAIL_SMTP_OUT_PORT"] = "GrainMail:Outbound:Port",
        ["GRAINMAIL_DNS"] = "GrainMail:Dns:Resolvers",
        ["GRAINMAIL_DNSBL"] = "GrainMail:Dns:Blocklists",
        ["GRAINMAIL_TRUST"] = "GrainMail:Trust:Enabled",
        ["GRAINMAIL_CLAMD"] = "GrainMail:Clamd:Endpoint",
        ["GRAINMAIL_SRS_SECRET"] = "GrainMail:Srs:Secret",
        ["GRAINMAIL_DASHBOARD"] = "GrainMail:Dashboard",
        ["GRAINMAIL_AUDIT_RETENTION_DAYS"] = "GrainMail:Audit:RetentionDays",
        ["GRAINMAIL_AUDIT_ANCHOR_EVERY"] = "GrainMail:Audit:AnchorEvery",
        ["GRAINMAIL_AUDIT_ANCHOR_FILE"] = "GrainMail:Audit:AnchorFile",
        ["GRAINMAIL_GEOIP"] = "GrainMail:Logins:GeoIpCsv",
        ["GRAINMAIL_WEBMAIL"] = "GrainMail:WebmailPath",
    };

    /// <summary>
    /// Keys of the GrainMail section that stand for keys of other sections: shared settings (one
    /// value for every protocol) and the older flat names. A name (and everything under it, for
    /// lists) is copied to each target that is not set itself.
    /// </summary>
    public static readonly IReadOnlyDictionary<string, string[]> Aliases = new Dictionary<string, string[]>(StringComparer.OrdinalIgnoreCase)
    {
        // Shared by several sections.
        ["GrainMail:HostName"] = ["GrainMail:Smtp:HostName", "GrainMail:Imap:HostName", "GrainMail:Outbound:HostName"],
        ["GrainMail:AllowPlaintextAuth"] = ["GrainMail:Smtp:AllowPlaintextAuth", "GrainMail:Imap:AllowPlaintextAuth", "GrainMail:Pop3:AllowPlaintextAuth"],
        ["GrainMail:MaxAuthFailuresPerSession"] = ["GrainMail:Smtp:MaxAuthFailures", "GrainMail:Imap:MaxAuthFailures", "GrainMail:Pop3:MaxAuthFailures"],
        ["GrainMail:Postmaster"] = ["GrainMail:Smtp:Postmaster", "GrainMail:Directory:Postmaster"],
        // Message limits: one set for SMTP, IMAP APPEND and the admin API.
        ["GrainMail:MaxMessageBytes"] = ["GrainMail:Messages:MaxMessageBytes"],
        ["GrainMail:SmtpMaxHeaderSectionBytes"] = ["GrainMail:Messages:MaxHeaderSectionBytes"],
        ["GrainMail:SmtpMaxHeaderFieldBytes"] = ["GrainMail:Messages:MaxHeaderFieldBytes"],
        ["GrainMail:SmtpMaxHeaderFieldLines"] = ["GrainMail:Messages:MaxHeaderFieldLines"],
        ["GrainMail:SmtpMaxHeaderFields"] = ["GrainMail:Messages:MaxHeaderFields"],
        // SMTP.
        ["GrainMail:SmtpCommandTimeout"] = ["GrainMail:Smtp:CommandTimeout"],
        ["GrainMail:SmtpDataTimeout"] = ["GrainMail:Smtp:DataTimeout"],
        ["GrainMail:SmtpMinDataBytesPerSecond"] = ["GrainMail:Smtp:MinDataBytesPerSecond"],
        ["GrainMail:SmtpDataRateGrace"] = ["GrainMail:Smtp:DataRateGrace"],
        ["GrainMail:SmtpMaxConnectionsPerIp"] = ["GrainMail:Smtp:MaxConnectionsPerIp"],
        ["GrainMail:SmtpMaxConnections"] = ["GrainMail:Smtp:MaxConnections"],
        ["GrainMail:SmtpFreeUnknownRecipients"] = ["GrainMail:Smtp:FreeUnknownRecipients"],
        ["GrainMail:SmtpTarpitDelay"] = ["GrainMail:Smtp:TarpitDelay"],
        ["GrainMail:SmtpMaxTarpitDelay"] = ["GrainMail:Smtp:MaxTarpitDelay"],
        ["GrainMail:SmtpMaxUnknownRecipientsPerSession"] = ["GrainMail:Smtp:MaxUnknownRecipientsPerSession"],
        ["GrainMail:SmtpMaxUnknownRecipientsPerIp"] = ["GrainMail:Smtp:MaxUnknownRecipientsPerIp"],
        ["GrainMail:SmtpUnknownRecipientWindow"] = ["GrainMail:Smtp:UnknownRecipientWindow"],
        // IMAP.
        ["GrainMail:ImapMaxConnectionsPerIp"] = ["GrainMail:Imap:MaxConnectionsPerIp"],
        ["GrainMail:ImapMaxConnections"] = ["GrainMail:Imap:MaxConnections"],
        ["GrainMail:ImapLoginTimeout"] = ["GrainMail:Imap:LoginTimeout"],
        ["GrainMail:ImapIdleTimeout"] = ["GrainMail:Imap:IdleTimeout"],
        ["GrainMail:ImapSearchConcurrency"] = ["GrainMail:Imap:MaxConcurrentContentSearches"],
        ["GrainMail:ImapMaxSearchBytes"] = ["GrainMail:Imap:MaxSearchContentBytes"],
        // POP3.
        ["GrainMail:Pop3MaxConnectionsPerIp"] = ["GrainMail:Pop3:MaxConnectionsPerIp"],
        ["GrainMail:Pop3MaxConnections"] = ["GrainMail:Pop3:MaxConnections"],
        ["GrainMail:Pop3LoginTimeout"] = ["GrainMail:Pop3:LoginTimeout"],
        ["GrainMail:Pop3AutologoutTimeout"] = ["GrainMail:Pop3:AutologoutTimeout"],
        // Outbound.
        ["GrainMail:SmtpOutPort"] = ["GrainMail:Outbound:Port"],
        ["GrainMail:DnsServers"] = ["GrainMail:Dns:Resolvers"],
        // The resolvers were an outbound setting before the inbound checks shared them.
        ["GrainMail:Outbound:Resolvers"] = ["GrainMail:Dns:Resolvers"],
        ["GrainMail:OutboundRetrySchedule"] = ["GrainMail:Outbound:RetrySchedule"],
        ["GrainMail:OutboundGiveUpAfter"] = ["GrainMail:Outbound:GiveUpAfter"],
        ["GrainMail:OutboundDelayNoticeAfter"] = ["GrainMail:Outbound:DelayNoticeAfter"],
        ["GrainMail:OutboundLinks"] = ["GrainMail:Outbound:Links"],
        ["GrainMail:DomesticSuffixes"] = ["GrainMail:Outbound:DomesticSuffixes"],
        ["GrainMail:DomesticMxRanges"] = ["GrainMail:Outbound:DomesticMxRanges"],
        ["GrainMail:OutboundProbeAfter"] = ["GrainMail:Outbound:ProbeAfter"],
        ["GrainMail:LinkDownAfterFailures"] = ["GrainMail:Outbound:LinkDownAfterFailures"],
        ["GrainMail:LinkCooldown"] = ["GrainMail:Outbound:LinkCooldown"],
        ["GrainMail:OutboundAccountRecipientsPerHour"] = ["GrainMail:Outbound:AccountRecipientsPerHour"],
        ["GrainMail:OutboundDomainRecipientsPerHour"] = ["GrainMail:Outbound:DomainRecipientsPerHour"],
        ["GrainMail:MtaStsHttpsPort"] = ["GrainMail:Outbound:MtaStsHttpsPort"],
        ["GrainMail:OutboundTrustedCaPem"] = ["GrainMail:Outbound:TrustedCaPem"],
    };

    /// <summary>
    /// The keys to lay over <paramref name="configuration"/> so that every name above reaches its
    /// key: aliases first (where the target is not set), then the environment variables.
    /// </summary>
    public static Dictionary<string, string?> Overlay(IConfiguration configuration, IDictionary environment)
    {
        var overlay = new Dictionary<string, string?>(StringComparer.OrdinalIgnoreCase);
        foreach (var (alias, targets) in Aliases)
        {
            var source = configuration.GetSection(alias);
            if (!source.Exists()) continue;
            foreach (var target in targets)
            {
                if (configuration.GetSection(target).Exists()) continue;
                foreach (var (key, value) in source.AsEnumerable())
                {
                    if (value is not null) overlay[target + key[alias.Length..]] = value;
                }
            }
        }
        foreach (var (variable, key) in Environment)
        {
            if (environment[variable] is string { Length: > 0 } value) overlay[key] = value;
        }
        return overlay;
    }

    /// <summary>Adds the overlay as the last (winning) configuration source.</summary>
    public static IConfigurationBuilder AddGrainMailNames(this IConfigurationManager configuration) =>
        configuration.AddInMemoryCollection(Overlay(configuration, System.Environment.GetEnvironmentVariables()));

    /// <summary>For messages: how else <paramref name="key"/> can be set (its environment form, a GRAINMAIL_* variable, older names).</summary>
    public static string OtherNames(string key)
    {
        var names = new List<string> { key.Replace(":", "__", StringComparison.Ordinal) };
        names.AddRange(Environment.Where(e => e.Value.Equals(key, StringComparison.OrdinalIgnoreCase)).Select(e => e.Key));
        names.AddRange(Aliases.Where(a => a.Value.Any(t => key.Equals(t, StringComparison.OrdinalIgnoreCase) || key.StartsWith(t + ":", StringComparison.OrdinalIgnoreCase)))
            .Select(a => a.Key.Replace(":", "__", StringComparison.Ordinal)));
        return string.Join(", ", names);
    }
}

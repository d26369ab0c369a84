namespace GrainMail.Silo;

/// <summary>
/// Host settings, from the "GrainMail" configuration section or GRAINMAIL_* environment
/// variables (see README). Defaults are the embedded single node.
/// </summary>
public sealed class GrainMailSettings
{
    /// <summary>Data directory: embedded PostgreSQL, master key, admin token (GRAINMAIL_DATA).</summary>
    public string DataDir { get; set; } = "data";

    /// <summary>PostgreSQL connection string; empty means the embedded default (GRAINMAIL_DB).</summary>
    public string? ConnectionString { get; set; }

    /// <summary>Port the embedded PostgreSQL prefers (a free one is used when it is taken).</summary>
    public int EmbeddedPostgresPort { get; set; } = 55432;

    public string HttpUrl { get; set; } = "http://127.0.0.1:8080";

    /// <summary>Silo metadata <c>region</c> (GRAINMAIL_REGION): beijing, hangzhou, …; domains name their home region.</summary>
    public string Region { get; set; } = "local";

    /// <summary>What this process runs (GRAINMAIL_ROLE): node (silo + gateways), silo, or gateway.</summary>
    public string Role { get; set; } = "node";

    /// <summary>A grain call without an answer for this long fails (and a retryable one is retried).</summary>
    public TimeSpan GrainCallTimeout { get; set; } = TimeSpan.FromSeconds(8);

    /// <summary>Membership probe timeout; 2 missed probes make a silo suspect (see SiloSetup).</summary>
    public TimeSpan MembershipProbeTimeout { get; set; } = TimeSpan.FromSeconds(2);

    public string ClusterId { get; set; } = "grainmail";

    public string ServiceId { get; set; } = "grainmail";

    public int SiloPort { get; set; } = 11111;

    public int GatewayPort { get; set; } = 30000;

    public string AdvertisedAddress { get; set; } = "127.0.0.1";

    /// <summary>
    /// Gateway role: the silos' Orleans gateway endpoints as host:port, comma-separated
    /// (GRAINMAIL_SILOS). Set, the gateway process needs no database credentials at all; unset,
    /// it finds the silos in the membership table of GRAINMAIL_DB.
    /// </summary>
    public string? SiloGateways { get; set; }

    /// <summary>The master key as 64 hex digits; when empty, read or created in DataDir/master.key.</summary>
    public string? MasterKey { get; set; }

    /// <summary>The admin token; when empty, read or created in DataDir/admin.token.</summary>
    public string? AdminToken { get; set; }

    public int QueueCount { get; set; } = 8;

    public TimeSpan QueueVisibilityTimeout { get; set; } = TimeSpan.FromMinutes(2);

    public int QueueMaxAttempts { get; set; } = 8;

    public int PasswordHashMemoryKiB { get; set; } = 19 * 1024;

    public int PasswordHashIterations { get; set; } = 2;

    public long MaxMessageBytes { get; set; } = 50L * 1024 * 1024;

    /// <summary>Address the mail listeners bind to (GRAINMAIL_LISTEN); 0.0.0.0 or :: to serve the network.</summary>
    public string ListenAddress { get; set; } = "127.0.0.1";

    /// <summary>SMTP ports (0 turns a listener off): MX, submission with STARTTLS, submission over implicit TLS.</summary>
    public int SmtpMxPort { get; set; } = 2525;

    public int SmtpSubmissionPort { get; set; } = 2587;

    public int SmtpSubmissionsPort { get; set; } = 2465;

    /// <summary>Host name in SMTP greetings and Received: headers; the machine name when empty.</summary>
    public string? HostName { get; set; }

    /// <summary>PEM certificate and key for TLS; a self-signed pair is made in DataDir/tls when empty.</summary>
    public string? TlsCertificatePem { get; set; }

    public string? TlsKeyPem { get; set; }

    public TimeSpan SmtpCommandTimeout { get; set; } = TimeSpan.FromMinutes(5);

    public TimeSpan SmtpDataTimeout { get; set; } = TimeSpan.FromMinutes(3);

    public int SmtpMinDataBytesPerSecond { get; set; } = 1024;

    public TimeSpan SmtpDataRateGrace { get; set; } = TimeSpan.FromSeconds(30);

    public int SmtpMaxConnectionsPerIp { get; set; } = 50;

    public int SmtpMaxConnections { get; set; } = 20_000;

    /// <summary>SMTP recipient harvesting defences (see SmtpOptions).</summary>
    public int SmtpFreeUnknownRecipients { get; set; } = 3;

    public TimeSpan SmtpTarpitDelay { get; set; } = TimeSpan.FromSeconds(1);

    public TimeSpan SmtpMaxTarpitDelay { get; set; } = TimeSpan.FromSeconds(10);

    public int SmtpMaxUnknownRecipientsPerSession { get; set; } = 20;

    public int SmtpMaxUnknownRecipientsPerIp { get; set; } = 200;

    public TimeSpan SmtpUnknownRecipientWindow { get; set; } = TimeSpan.FromHours(1);

    /// <summary>Header section limits of messages taken by SMTP (see MessageTextLimits).</summary>
    public int SmtpMaxHeaderSectionBytes { get; set; } = 1024 * 1024;

    public int SmtpMaxHeaderFieldBytes { get; set; } = 64 * 1024;

    public int SmtpMaxHeaderFieldLines { get; set; } = 1000;

    public int SmtpMaxHeaderFields { get; set; } = 1000;

    public int MaxAuthFailuresPerSession { get; set; } = 3;

    /// <summary>IMAP ports (0 turns a listener off): STARTTLS and implicit TLS.</summary>
    public int ImapPort { get; set; } = 1143;

    public int ImapsPort { get; set; } = 1993;

    /// <summary>POP3 ports (0 turns a listener off): STLS and implicit TLS.</summary>
    public int Pop3Port { get; set; } = 1110;

    public int Pop3sPort { get; set; } = 1995;

    /// <summary>IMAP connections (POP3 has its own caps below).</summary>
    public int ImapMaxConnectionsPerIp { get; set; } = 50;

    public int ImapMaxConnections { get; set; } = 20_000;

    /// <summary>IMAP before login: silence for this long ends the connection.</summary>
    public TimeSpan ImapLoginTimeout { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>IMAP after login, IDLE included (RFC 3501: at least 30 minutes).</summary>
    public TimeSpan ImapIdleTimeout { get; set; } = TimeSpan.FromMinutes(30);

    /// <summary>IMAP SEARCHes that read message bytes running at once in a gateway process (more wait).</summary>
    public int ImapSearchConcurrency { get; set; } = 4;

    /// <summary>Message octets one IMAP SEARCH may read; beyond it NO [LIMIT].</summary>
    public long ImapMaxSearchBytes { get; set; } = 512L * 1024 * 1024;

    /// <summary>POP3 connections, counted apart from IMAP's.</summary>
    public int Pop3MaxConnectionsPerIp { get; set; } = 50;

    public int Pop3MaxConnections { get; set; } = 20_000;

    /// <summary>POP3 before login: silence for this long ends the connection.</summary>
    public TimeSpan Pop3LoginTimeout { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>POP3 after login (RFC 1939 3: at least 10 minutes).</summary>
    public TimeSpan Pop3AutologoutTimeout { get; set; } = TimeSpan.FromMinutes(10);

    /// <summary>Outbound: destination SMTP port (GRAINMAIL_SMTP_OUT_PORT; 25 in production).</summary>
    public int SmtpOutPort { get; set; } = 25;

    /// <summary>Outbound: DNS resolvers as ip:port, comma-separated (GRAINMAIL_DNS); empty = the system's.</summary>
    public string? DnsServers { get; set; }

    /// <summary>Outbound: waits between attempts, the last repeating; empty = 1m 5m 15m 30m 1h 2h 4h.</summary>
    public List<TimeSpan> OutboundRetrySchedule { get; set; } = [];

    public TimeSpan OutboundGiveUpAfter { get; set; } = TimeSpan.FromDays(5);

    public TimeSpan OutboundDelayNoticeAfter { get; set; } = TimeSpan.FromHours(4);

    /// <summary>Egress links (name, region, kind Direct/Relay, relay host/port/TLS/credentials); empty = one direct link.</summary>
    public List<GrainMail.Outbound.EgressLink> OutboundLinks { get; set; } = [];

    /// <summary>Domestic destinations (always direct) by domain suffix or provider; empty = the built-in list.</summary>
    public List<string> DomesticSuffixes { get; set; } = [];

    /// <summary>CIDR ranges of domestic providers' MX hosts (a destination whose MX is in one is domestic).</summary>
    public List<string> DomesticMxRanges { get; set; } = [];

    /// <summary>A link not tried for this long gets one try first (exploration).</summary>
    public TimeSpan OutboundProbeAfter { get; set; } = TimeSpan.FromMinutes(5);

    public int LinkDownAfterFailures { get; set; } = 3;

    /// <summary>Outbound rate limits: external recipients per hour per account and per sender domain (0 = none).</summary>
    public int OutboundAccountRecipientsPerHour { get; set; } = 1000;

    public int OutboundDomainRecipientsPerHour { get; set; } = 20000;

    /// <summary>MTA-STS policy fetches: HTTPS port of mta-sts hosts (443 except in tests).</summary>
    public int MtaStsHttpsPort { get; set; } = 443;

    /// <summary>Extra trusted CA certificates (PEM file) for MTA-STS and verified TLS.</summary>
    public string? OutboundTrustedCaPem { get; set; }

    public TimeSpan LinkCooldown { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>
    /// The Orleans dashboard at /dashboard on the HTTP listener, behind the admin token
    /// (GRAINMAIL_DASHBOARD=false turns it off).
    /// </summary>
    public bool Dashboard { get; set; } = true;

    /// <summary>
    /// The node's postmaster address (RFC 5321 4.5.1): bare <c>&lt;Postmaster&gt;</c>, and
    /// <c>postmaster@</c> every hosted domain that has no postmaster of its own.
    /// </summary>
    public string? Postmaster { get; set; }

    /// <summary>Allow AUTH without TLS (only for loopback benchmarks).</summary>
    public bool AllowPlaintextAuth { get; set; }
}

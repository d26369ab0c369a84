using System.ComponentModel.DataAnnotations;
using System.Net;

namespace GrainMail.Silo;

/// <summary>
/// Host settings: the "GrainMail" configuration section's own keys (GRAINMAIL_* environment
/// variables map into them, see <see cref="Configuration.ConfigurationKeys"/> and README). What
/// the process is and where it listens; each gateway and the outbound sender have their own
/// section. Defaults are the embedded single node.
/// </summary>
public sealed class GrainMailSettings : IValidatableObject
{
    public const string Section = "GrainMail";

    /// <summary>Data directory: embedded PostgreSQL, master key, admin token (GRAINMAIL_DATA).</summary>
    [Required]
    public string DataDir { get; set; } = "data";

    /// <summary>PostgreSQL connection string; empty means the embedded default (GRAINMAIL_DB).</summary>
    public string? ConnectionString { get; set; }

    /// <summary>Port the embedded PostgreSQL prefers (a free one is used when it is taken; 0: any free port, as the benchmarks ask).</summary>
    [Range(0, 65535)]
    public int EmbeddedPostgresPort { get; set; } = 55432;

    /// <summary>The admin API and health listener (GRAINMAIL_HTTP): http://address:port.</summary>
    [Required]
    public string HttpUrl { get; set; } = "http://127.0.0.1:8080";

    /// <summary>Silo metadata <c>region</c> (GRAINMAIL_REGION): beijing, hangzhou, …; domains name their home region.</summary>
    [Required]
    public string Region { get; set; } = "local";

    /// <summary>What this process runs (GRAINMAIL_ROLE): node (silo + gateways), silo, or gateway.</summary>
    public string Role { get; set; } = "node";

    /// <summary>A grain call without an answer for this long fails (and a retryable one is retried).</summary>
    [Range(typeof(TimeSpan), "00:00:00.100", "01:00:00")]
    public TimeSpan GrainCallTimeout { get; set; } = TimeSpan.FromSeconds(8);

    /// <summary>Membership probe timeout; 2 missed probes make a silo suspect (see SiloSetup).</summary>
    [Range(typeof(TimeSpan), "00:00:00.100", "00:10:00")]
    public TimeSpan MembershipProbeTimeout { get; set; } = TimeSpan.FromSeconds(2);

    [Required]
    public string ClusterId { get; set; } = "grainmail";

    [Required]
    public string ServiceId { get; set; } = "grainmail";

    [Range(1, 65535)]
    public int SiloPort { get; set; } = 11111;

    [Range(1, 65535)]
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

    /// <summary>Partitions of the delivery stream.</summary>
    [Range(1, 1024)]
    public int QueueCount { get; set; } = 8;

    [Range(typeof(TimeSpan), "00:00:01", "1.00:00:00")]
    public TimeSpan QueueVisibilityTimeout { get; set; } = TimeSpan.FromMinutes(2);

    [Range(1, 1000)]
    public int QueueMaxAttempts { get; set; } = 8;

    /// <summary>Argon2id memory per hash (at least 8 KiB per lane, RFC 9106 3.1).</summary>
    [Range(8, 4 * 1024 * 1024)]
    public int PasswordHashMemoryKiB { get; set; } = 19 * 1024;

    [Range(1, 100)]
    public int PasswordHashIterations { get; set; } = 2;

    /// <summary>Address the mail listeners bind to (GRAINMAIL_LISTEN); 0.0.0.0 or :: to serve the network.</summary>
    public string ListenAddress { get; set; } = "127.0.0.1";

    /// <summary>SMTP ports (0 turns a listener off): MX, submission with STARTTLS, submission over implicit TLS.</summary>
    [Range(0, 65535)]
    public int SmtpMxPort { get; set; } = 2525;

    [Range(0, 65535)]
    public int SmtpSubmissionPort { get; set; } = 2587;

    [Range(0, 65535)]
    public int SmtpSubmissionsPort { get; set; } = 2465;

    /// <summary>PEM certificate and key for TLS; a self-signed pair is made in DataDir/tls when empty.</summary>
    public string? TlsCertificatePem { get; set; }

    public string? TlsKeyPem { get; set; }

    /// <summary>IMAP ports (0 turns a listener off): STARTTLS and implicit TLS.</summary>
    [Range(0, 65535)]
    public int ImapPort { get; set; } = 1143;

    [Range(0, 65535)]
    public int ImapsPort { get; set; } = 1993;

    /// <summary>POP3 ports (0 turns a listener off): STLS and implicit TLS.</summary>
    [Range(0, 65535)]
    public int Pop3Port { get; set; } = 1110;

    [Range(0, 65535)]
    public int Pop3sPort { get; set; } = 1995;

    /// <summary>ManageSieve (RFC 5804) with STARTTLS; 0 turns the listener off.</summary>
    [Range(0, 65535)]
    public int ManageSievePort { get; set; } = 4190;

    /// <summary>
    /// The HTTPS listener (0 turns it off) for mail users: CardDAV and /api/v1/me, with the same
    /// certificate as the mail listeners. Production puts 443 here (or a proxy in front of it).
    /// </summary>
    [Range(0, 65535)]
    public int HttpsPort { get; set; } = 8443;

    /// <summary>
    /// The Orleans dashboard at /dashboard on the HTTP listener, behind the admin token
    /// (GRAINMAIL_DASHBOARD=false turns it off).
    /// </summary>
    public bool Dashboard { get; set; } = true;

    /// <summary>
    /// The built webmail (GRAINMAIL_WEBMAIL): the folder with index.html that /mail/ serves on the
    /// HTTPS listener. Empty: "webmail" beside the binaries, else webmail/dist above them.
    /// </summary>
    public string? WebmailPath { get; set; }

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (Role.ToLowerInvariant() is not ("node" or "silo" or "gateway" or ""))
            yield return new("must be node, silo or gateway", [nameof(Role)]);
        if (!Uri.TryCreate(HttpUrl, UriKind.Absolute, out var http) || http.Scheme != Uri.UriSchemeHttp || !IsAddress(http.Host))
            yield return new("must be http://address:port with an IP address, localhost or *", [nameof(HttpUrl)]);
        if (!IsAddress(ListenAddress)) yield return new("must be an IP address, localhost or *", [nameof(ListenAddress)]);
        if (!IPAddress.TryParse(AdvertisedAddress, out _)) yield return new("must be an IP address", [nameof(AdvertisedAddress)]);
        if (!string.IsNullOrWhiteSpace(MasterKey) && (MasterKey.Length != 64 || !MasterKey.All(Uri.IsHexDigit)))
            yield return new("must be 64 hexadecimal digits", [nameof(MasterKey)]);
    }

    /// <summary>The host names Kestrel is given for listeners: an IP address, localhost, or a wildcard.</summary>
    public static IPAddress ParseAddress(string host) => host switch
    {
        "localhost" => IPAddress.Loopback,
        "*" or "+" or "0.0.0.0" => IPAddress.Any,
        _ => IPAddress.Parse(host.Trim('[', ']')),
    };

    private static bool IsAddress(string host) => host is "localhost" or "*" or "+" || IPAddress.TryParse(host.Trim('[', ']'), out _);
}

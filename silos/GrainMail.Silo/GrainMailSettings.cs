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

    public string Region { get; set; } = "local";

    public string ClusterId { get; set; } = "grainmail";

    public string ServiceId { get; set; } = "grainmail";

    public int SiloPort { get; set; } = 11111;

    public int GatewayPort { get; set; } = 30000;

    public string AdvertisedAddress { get; set; } = "127.0.0.1";

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
}

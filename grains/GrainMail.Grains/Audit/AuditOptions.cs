using System.ComponentModel.DataAnnotations;

namespace GrainMail.Grains.Audit;

/// <summary>How long the audit log keeps entries (section GrainMail:Audit; GRAINMAIL_AUDIT_RETENTION_DAYS).</summary>
public sealed class AuditOptions
{
    public const string Section = "GrainMail:Audit";

    /// <summary>Entries older than this many days are pruned; 0 keeps them forever.</summary>
    [Range(0, 36500)]
    public int RetentionDays { get; set; } = 365;

    /// <summary>How often the retention runs.</summary>
    [Range(typeof(TimeSpan), "00:00:01", "7.00:00:00")]
    public TimeSpan PruneEvery { get; set; } = TimeSpan.FromHours(1);

    /// <summary>
    /// How often the chain's tip is anchored outside the database (<see cref="AuditAnchoring"/>);
    /// zero anchors only at start and on demand (<c>grainmail audit anchor</c>).
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:00", "1.00:00:00")]
    public TimeSpan AnchorEvery { get; set; } = TimeSpan.FromMinutes(10);

    /// <summary>The append-only anchor file; empty: <c>audit-anchors.log</c> in the data directory.</summary>
    public string AnchorFile { get; set; } = "";
}

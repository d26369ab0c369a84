using System.ComponentModel.DataAnnotations;

namespace GrainMail.Outbound.Forwarding;

/// <summary>The Sender Rewriting Scheme's settings (section <see cref="Section"/>).</summary>
public sealed class SrsOptions
{
    public const string Section = "GrainMail:Srs";

    /// <summary>
    /// The key of SRS hashes (GRAINMAIL_SRS_SECRET). Unset: a key derived from the master key, the same on
    /// every node of the cluster. Set it to keep SRS addresses valid across a master key change; every
    /// node must have the same value, and changing it voids the SRS addresses still out there.
    /// </summary>
    [MinLength(16)]
    public string? Secret { get; set; }

    /// <summary>How long a bounce to an SRS0 address is accepted after the forward.</summary>
    [Range(typeof(TimeSpan), "1.00:00:00", "365.00:00:00")]
    public TimeSpan MaxAge { get; set; } = TimeSpan.FromDays(21);
}

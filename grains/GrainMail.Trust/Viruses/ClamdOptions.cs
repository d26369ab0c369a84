using System.ComponentModel.DataAnnotations;

namespace GrainMail.Trust.Viruses;

/// <summary>Virus scanning through ClamAV's clamd (section <see cref="Section"/>); off while <see cref="Endpoint"/> is empty.</summary>
public sealed class ClamdOptions : IValidatableObject
{
    public const string Section = "GrainMail:Clamd";

    /// <summary>Where clamd listens (GRAINMAIL_CLAMD): <c>host:port</c> (its TCPSocket) or <c>unix:/path</c> (its LocalSocket).</summary>
    public string? Endpoint { get; set; }

    /// <summary>How long one scan (connect, stream, verdict) may take before clamd counts as unavailable (451 4.7.1).</summary>
    [Range(typeof(TimeSpan), "00:00:00.100", "00:10:00")]
    public TimeSpan Timeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// clamd's StreamMaxLength (Debian's clamd.conf: 25M). clamd answers a longer INSTREAM with an error and
    /// drops the connection, so no more than this is ever sent: a longer message is scanned up to here
    /// and its header says so. Set it to clamd's value (or lower).
    /// </summary>
    [Range(1024, long.MaxValue)]
    public long StreamMaxLength { get; set; } = 25L * 1024 * 1024;

    /// <summary>At most this many scans at once on this silo (clamd's MaxThreads is 10 by default); the rest wait.</summary>
    [Range(1, 256)]
    public int MaxConnections { get; set; } = 8;

    /// <summary>A pooled session idle this long is closed by us first; keep it under clamd's IdleTimeout (30 s by default).</summary>
    [Range(typeof(TimeSpan), "00:00:01", "01:00:00")]
    public TimeSpan IdleTimeout { get; set; } = TimeSpan.FromSeconds(20);

    public bool Enabled => !string.IsNullOrWhiteSpace(Endpoint);

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (Enabled && !ClamdEndpoint.TryParse(Endpoint!, out _, out var problem))
            yield return new ValidationResult(problem, [nameof(Endpoint)]);
    }
}

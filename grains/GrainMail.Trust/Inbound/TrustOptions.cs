namespace GrainMail.Trust.Inbound;

/// <summary>Inbound trust settings (section <see cref="Section"/>).</summary>
public sealed class TrustOptions
{
    public const string Section = "GrainMail:Trust";

    /// <summary>Whether MX mail is checked and scored (GRAINMAIL_TRUST=false turns it off, e.g. behind another filter).</summary>
    public bool Enabled { get; set; } = true;

    /// <summary>Our authserv-id in Authentication-Results (RFC 8601 2.5); the SMTP host name unless set.</summary>
    public string? AuthServId { get; set; }

    /// <summary>The public suffix list for DMARC's organisational domain (Debian's publicsuffix package).</summary>
    public string PublicSuffixList { get; set; } = Dmarc.PublicSuffixList.DefaultPath;

    /// <summary>Whether each silo keeps a copy of the global spam model's counts for the MX path (GlobalModelCopy, on by
    /// default); off, every message reads them from PostgreSQL (for a comparison, or if a model is too large for memory).</summary>
    public bool GlobalModelCopy { get; set; } = true;

    /// <summary>At most this many distinct linked domains of a body are asked of URI blocklists.</summary>
    [System.ComponentModel.DataAnnotations.Range(0, 100)]
    public int MaxUriDomains { get; set; } = 20;
}

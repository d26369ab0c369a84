using System.ComponentModel.DataAnnotations;

namespace GrainMail.Gateways.Common.Messages;

/// <summary>
/// The limits on a message at every way in — SMTP DATA and BDAT, IMAP APPEND, the admin API's
/// POST /messages — configured once (section <see cref="Section"/>) and handed to each gateway's
/// options by the host. A hosted domain may set a lower size limit of its own.
/// </summary>
public sealed class MessageLimits : IValidatableObject
{
    public const string Section = "GrainMail:Messages";

    /// <summary>
    /// The message, all of it (SMTP SIZE, IMAP APPENDLIMIT, the API's request body). Below 1 KiB
    /// hardly a header section fits.
    /// </summary>
    [Range(typeof(long), "1024", "9223372036854775807")]
    public long MaxMessageBytes { get; set; } = 50L * 1024 * 1024;

    /// <summary>
    /// The header section up to its empty line. At most 1 MiB: SMTP keeps that much of a message
    /// in memory and reads the header (From:, Message-ID, Date) from there.
    /// </summary>
    [Range(1024, 1024 * 1024)]
    public int MaxHeaderSectionBytes { get; set; } = MessageTextLimits.Default.MaxHeaderSectionBytes;

    /// <summary>One field with its folded lines; at least one line of RFC 5322 2.1.1's 998 characters and CRLF.</summary>
    [Range(1000, 1024 * 1024)]
    public int MaxHeaderFieldBytes { get; set; } = MessageTextLimits.Default.MaxHeaderFieldBytes;

    /// <summary>Lines of one field (the first and its continuations).</summary>
    [Range(1, 1_000_000)]
    public int MaxHeaderFieldLines { get; set; } = MessageTextLimits.Default.MaxHeaderFieldLines;

    /// <summary>Fields in the header section.</summary>
    [Range(1, 1_000_000)]
    public int MaxHeaderFields { get; set; } = MessageTextLimits.Default.MaxHeaderFields;

    /// <summary>The header limits as the text writer takes them.</summary>
    public MessageTextLimits Text => new(MaxHeaderSectionBytes, MaxHeaderFieldBytes, MaxHeaderFieldLines, MaxHeaderFields);

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (MaxHeaderFieldBytes > MaxHeaderSectionBytes)
            yield return new($"must not exceed MaxHeaderSectionBytes ({MaxHeaderSectionBytes})", [nameof(MaxHeaderFieldBytes)]);
    }
}

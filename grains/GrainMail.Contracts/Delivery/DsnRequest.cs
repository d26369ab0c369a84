using System.Text;

namespace GrainMail.Contracts.Delivery;

/// <summary>What a recipient's NOTIFY asks to be told of (RFC 3461 4.1).</summary>
[Flags]
public enum DsnNotify
{
    /// <summary>No NOTIFY given: failures and delays are reported, success is not (the RFC leaves this to us).</summary>
    None = 0,
    Never = 1,
    Success = 2,
    Failure = 4,
    Delay = 8,
}

/// <summary>One recipient's DSN parameters: NOTIFY, and ORCPT as "addr-type;address" (decoded from xtext).</summary>
public sealed record DsnRecipient(DsnNotify Notify = DsnNotify.None, string? OriginalRecipient = null)
{
    public static readonly DsnRecipient None = new();

    public bool Wants(DsnNotify what) => Notify switch
    {
        DsnNotify.None => what is DsnNotify.Failure or DsnNotify.Delay,
        _ when Notify.HasFlag(DsnNotify.Never) => false,
        _ => Notify.HasFlag(what),
    };
}

/// <summary>
/// The RFC 3461 parameters of one message as they travel with its delivery events: RET and
/// ENVID of MAIL FROM, NOTIFY and ORCPT of each RCPT. Encoded as the SMTP command's own
/// keyword=xtext tokens separated by spaces (xtext never holds a space); recipient groups start
/// with <c>RCPT=</c>, and tokens before the first group are the default recipient's (an inbound
/// event carries one recipient). Every DSN GrainMail writes reads it from here.
/// </summary>
/// <param name="ReturnHeaders">RET=HDRS was given (kept apart from no RET at all, so that a relay can pass it on as written).</param>
public sealed record DsnRequest(bool ReturnFull, string? EnvelopeId, DsnRecipient Default, IReadOnlyDictionary<string, DsnRecipient> Recipients,
    bool ReturnHeaders = false)
{
    public static readonly DsnRequest None = new(false, null, DsnRecipient.None, new Dictionary<string, DsnRecipient>());

    public DsnRecipient For(string recipient) => Recipients.GetValueOrDefault(recipient) ?? Default;

    public static string? Encode(string? ret, string? envelopeId, DsnRecipient? recipient = null,
        IEnumerable<KeyValuePair<string, DsnRecipient>>? recipients = null)
    {
        var b = new StringBuilder();
        if (ret is not null) b.Append(" RET=").Append(ret.ToUpperInvariant());
        if (envelopeId is not null) b.Append(" ENVID=").Append(XText.Encode(envelopeId));
        if (recipient is not null) AppendRecipient(b, recipient);
        foreach (var (address, r) in recipients ?? [])
        {
            b.Append(" RCPT=").Append(XText.Encode(address));
            AppendRecipient(b, r);
        }
        return b.Length == 0 ? null : b.ToString(1, b.Length - 1);
    }

    private static void AppendRecipient(StringBuilder b, DsnRecipient r)
    {
        if (r.Notify != DsnNotify.None)
        {
            var names = Enum.GetValues<DsnNotify>().Where(f => f != DsnNotify.None && r.Notify.HasFlag(f)).Select(f => f.ToString().ToUpperInvariant());
            b.Append(" NOTIFY=").Append(string.Join(',', names));
        }
        if (r.OriginalRecipient is not null) b.Append(" ORCPT=").Append(XText.Encode(r.OriginalRecipient));
    }

    /// <summary>Reads an encoded request; unknown or malformed tokens are skipped (never fatal for a delivery).</summary>
    public static DsnRequest Parse(string? encoded)
    {
        if (string.IsNullOrWhiteSpace(encoded)) return None;
        var full = false;
        var headers = false;
        string? envid = null;
        var current = DsnRecipient.None;
        string? currentAddress = null;
        var defaults = DsnRecipient.None;
        var map = new Dictionary<string, DsnRecipient>(StringComparer.OrdinalIgnoreCase);
        // Events written before this format separated the same tokens with ';'.
        var separators = encoded.Contains(' ') ? new[] { ' ' } : [';'];
        foreach (var token in encoded.Split(separators, StringSplitOptions.RemoveEmptyEntries))
        {
            var eq = token.IndexOf('=');
            if (eq <= 0) continue;
            var key = token[..eq].ToUpperInvariant();
            var value = token[(eq + 1)..];
            switch (key)
            {
                case "RET":
                    full = value.Equals("FULL", StringComparison.OrdinalIgnoreCase);
                    headers = value.Equals("HDRS", StringComparison.OrdinalIgnoreCase);
                    break;
                case "ENVID": envid = XText.Decode(value) ?? value; break;
                case "RCPT":
                    if (currentAddress is null) defaults = current;
                    else map[currentAddress] = current;
                    currentAddress = XText.Decode(value) ?? value;
                    current = DsnRecipient.None;
                    break;
                case "NOTIFY": current = current with { Notify = ParseNotify(value) }; break;
                case "ORCPT": current = current with { OriginalRecipient = XText.Decode(value) ?? value }; break;
            }
        }
        if (currentAddress is null) defaults = current;
        else map[currentAddress] = current;
        return new DsnRequest(full, envid, defaults, map, headers);
    }

    public static DsnNotify ParseNotify(string value)
    {
        var n = DsnNotify.None;
        foreach (var part in value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            n |= part.ToUpperInvariant() switch
            {
                "NEVER" => DsnNotify.Never,
                "SUCCESS" => DsnNotify.Success,
                "FAILURE" => DsnNotify.Failure,
                "DELAY" => DsnNotify.Delay,
                _ => DsnNotify.None,
            };
        }
        return n;
    }
}

using GrainMail.Contracts.Delivery;
using GrainMail.Gateways.Common.Messages;
using GrainMail.Gateways.Smtp.Protocol;
using GrainMail.Operations.Spool;

namespace GrainMail.Gateways.Smtp.Session;

/// <summary>A recipient that RCPT accepted: where it delivers, and its RFC 3461 parameters.</summary>
/// <param name="Address">The address as accepted (normalised).</param>
/// <param name="Mailboxes">Hosted mailboxes it reaches.</param>
/// <param name="External">Addresses outside that it reaches (submission, or an alias that forwards).</param>
/// <param name="List">A mailing list (address as accepted): one list event, expanded by the list's grain.</param>
/// <param name="ProtocolReject">Mailboxes whose Sieve script may refuse in the dialogue (ereject).</param>
public sealed record AcceptedRecipient(string Address, IReadOnlyList<string> Mailboxes, IReadOnlyList<string> External, RcptParameters Dsn,
    string? List = null, IReadOnlyList<string>? ProtocolReject = null);

/// <summary>
/// One mail transaction (RFC 5321 3.3): from MAIL to the end of DATA or the last BDAT chunk, or RSET.
/// Holds the reverse path, the MAIL parameters, the recipients accepted so far, and the chunks of BDAT.
/// </summary>
internal sealed class SmtpTransaction(string? sender, MailParameters parameters, long sizeLimit) : IDisposable
{
    private readonly List<AcceptedRecipient> _recipients = [];

    /// <summary>The reverse path, normalised; null for the null path.</summary>
    public string? Sender { get; } = sender;

    public MailParameters Parameters { get; } = parameters;

    /// <summary>The largest message this transaction may carry: the server's, lowered by recipients' domains.</summary>
    public long SizeLimit { get; private set; } = sizeLimit;

    public IReadOnlyList<AcceptedRecipient> Recipients => _recipients;

    /// <summary>BDAT chunks so far (RFC 3030), normalised as they arrive; null before the first chunk.</summary>
    public MessageSpool? Chunks { get; private set; }

    public MessageTextWriter? ChunkText { get; private set; }

    /// <summary>A chunk went past <see cref="SizeLimit"/>: the rest is read and dropped, LAST gets 552.</summary>
    public bool ChunksTooLarge { get; set; }

    /// <summary>Recipients taken from the authenticated sender's hourly budgets at RCPT (<see cref="RcptVerdict.Charged"/>).</summary>
    public int Charged { get; set; }

    /// <summary>Handed to the intake and not refused by it: the budgets stay spent. Otherwise the session gives them back.</summary>
    public bool Sent { get; set; }

    public void Add(AcceptedRecipient recipient) => _recipients.Add(recipient);

    public void LimitSize(long max) => SizeLimit = Math.Min(SizeLimit, max);

    public MessageTextWriter StartChunks(string spoolDirectory, MessageTextLimits limits)
    {
        if (Chunks is null)
        {
            Chunks = new MessageSpool(spoolDirectory);
            ChunkText = new MessageTextWriter(Chunks, limits);
        }
        return ChunkText!;
    }

    /// <summary>Hosted mailboxes of all recipients, each once.</summary>
    public List<string> Mailboxes() => _recipients.SelectMany(r => r.Mailboxes).Distinct(StringComparer.Ordinal).ToList();

    /// <summary>Mailboxes whose Sieve script may ereject (RFC 5429), each once; null when none.</summary>
    public List<string>? ProtocolRejectMailboxes() =>
        _recipients.SelectMany(r => r.ProtocolReject ?? []).Distinct(StringComparer.Ordinal).ToList() is { Count: > 0 } some ? some : null;

    /// <summary>Mailing lists among the recipients (addresses as accepted), each once.</summary>
    public List<string> Lists() => _recipients.Where(r => r.List is not null).Select(r => r.List!).Distinct(StringComparer.Ordinal).ToList();

    /// <summary>External addresses of all recipients, each once.</summary>
    public List<string> ExternalAddresses() => _recipients.SelectMany(r => r.External).Distinct(StringComparer.Ordinal).ToList();

    /// <summary>RET and ENVID as the delivery events carry them (<see cref="DsnRequest"/> encoding); null when neither was given.</summary>
    public string? EnvelopeDsn() => DsnRequest.Encode(Parameters.Return switch
    {
        DsnReturn.Full => "FULL",
        DsnReturn.Headers => "HDRS",
        _ => null,
    }, Parameters.EnvelopeId);

    /// <summary>
    /// NOTIFY and ORCPT per hosted mailbox and per external address (same encoding); the first
    /// recipient that reaches one wins.
    /// </summary>
    public Dictionary<string, string> RecipientDsn()
    {
        var map = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var r in _recipients)
        {
            var orcpt = r.Dsn.OriginalRecipient is { } o ? $"{r.Dsn.OriginalRecipientType};{o}" : null;
            if (DsnRequest.Encode(null, null, new DsnRecipient(r.Dsn.Notify, orcpt)) is not { } encoded) continue;
            foreach (var target in r.Mailboxes.Concat(r.External)) map.TryAdd(target, encoded);
        }
        return map;
    }

    public void Dispose() => Chunks?.Dispose();
}

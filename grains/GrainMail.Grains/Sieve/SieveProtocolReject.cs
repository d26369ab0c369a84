using GrainMail.Contracts.Intake;
using GrainMail.Contracts.Sieve;
using GrainMail.Operations.Spool;
using Orleans.Concurrency;

namespace GrainMail.Grains.Sieve;

/// <summary>
/// <c>ereject</c> in the SMTP dialogue (RFC 5429 2.1.1: refuse at the protocol level where possible).
/// Possible when the message from the internet has exactly one recipient, a local mailbox: the
/// server's one reply to DATA is then that recipient's answer. With more recipients (one reply for
/// all) or a message too large to hand to the script's grain, the refusal happens at delivery, as a
/// DSN. Only accounts whose active script uses ereject pay for the extra run, and nobody pays a grain
/// call to find out: the domain keeps the set of such accounts (told by each SieveGrain when its scripts
/// change) and names them in the recipient verdict RCPT already asks for, which the envelope carries here.
/// </summary>
internal static class SieveProtocolReject
{
    /// <summary>Larger messages are not run through the script before the reply; they bounce at delivery instead.</summary>
    public const long MaxBytes = 10L * 1024 * 1024;

    /// <summary>The SMTP reply refusing the message, or null to go on.</summary>
    public static async Task<string?> RefusalAsync(IGrainFactory grains, SubmissionEnvelope e, MessageContent content)
    {
        if (e.Mailboxes is not { Count: 1 } mailboxes || e.External is { Count: > 0 } || e.Lists is { Count: > 0 } || content.Length > MaxBytes) return null;
        if (e.ProtocolReject is not { } flagged || !flagged.Contains(mailboxes[0], StringComparer.Ordinal)) return null;
        var sieve = grains.GetGrain<ISieveGrain>(mailboxes[0]);
        var reason = await sieve.ProtocolReject(e.Sender, mailboxes[0], (await content.ToArrayAsync()).AsImmutable());
        if (reason is null) return null;
        // One line of printable text: the reason goes into the reply as it is.
        var line = new string([.. string.Join(' ', reason.Split(['\r', '\n'], StringSplitOptions.RemoveEmptyEntries)).Where(c => c is >= ' ' and <= '~')]).Trim();
        if (line.Length > 400) line = line[..400];
        return "550 5.7.1 " + (line.Length == 0 ? "Rejected by the recipient's filter" : line);
    }
}

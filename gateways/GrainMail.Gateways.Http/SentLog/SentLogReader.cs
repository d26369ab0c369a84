using GrainMail.Storage.Outbound;

namespace GrainMail.Gateways.Http.SentLog;

/// <summary>
/// Delivery attempts of one sender's mail. Read from the attempt table today; kept behind this
/// class so that it can become a grain call without touching the endpoint.
/// </summary>
public sealed class SentLogReader(OutboundStore store)
{
    public async Task<IReadOnlyList<SentAttemptResponse>> AttemptsOfSenderAsync(string sender, int limit, CancellationToken ct)
    {
        var log = await store.AttemptsOfSenderAsync(sender, limit, ct);
        return log.Select(l => new SentAttemptResponse(l.MessageId, l.Recipient, l.At, l.Link, l.Remote, l.Outcome, l.Reply)).ToList();
    }
}

using GrainMail.Contracts.Operations;

namespace GrainMail.Gateways.Http.SentLog;

/// <summary>Delivery attempts of one sender's mail, read on a silo.</summary>
public sealed class SentLogReader(IGrainFactory grains)
{
    public async Task<IReadOnlyList<SentAttemptResponse>> AttemptsOfSenderAsync(string sender, int limit, CancellationToken ct)
    {
        var log = await grains.GetGrain<IAdminViewGrain>(0).SentLog(sender, limit).WaitAsync(ct);
        return log.Select(l => new SentAttemptResponse(l.MessageId, l.Recipient, l.At, l.Link, l.Remote, l.Outcome, l.Reply)).ToList();
    }
}

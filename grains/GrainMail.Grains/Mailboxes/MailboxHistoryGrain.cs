using GrainMail.Contracts.Mailboxes;
using GrainMail.Storage.Mailboxes;
using Orleans.Concurrency;

namespace GrainMail.Grains.Mailboxes;

/// <summary>Reads the expunge tombstones for JMAP /changes on any silo (the mailbox grain commits them with each removal).</summary>
[StatelessWorker, Reentrant]
public sealed class MailboxHistoryGrain(MailboxHistoryStore store) : Grain, IMailboxHistoryGrain
{
    public async Task<IReadOnlyList<ExpungedEmail>?> ExpungedSince(string address, int folderId, long uidValidity, long sinceModSeq)
    {
        var rows = await store.ExpungedSinceAsync(address, folderId, uidValidity, sinceModSeq);
        // EMAILID is "M" + the first 12 bytes of the blob hash in hex (Gateways.Common ObjectIds.EmailId).
        return rows?.Select(r => new ExpungedEmail(r.Uid, r.ModSeq, r.EmailKey is { Length: 12 } k ? "M" + Convert.ToHexStringLower(k) : null, r.ThreadId)).ToList();
    }
}

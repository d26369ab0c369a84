using GrainMail.Contracts.Governance;
using GrainMail.Contracts.Mailboxes;
using GrainMail.Storage.Governance;
using Microsoft.Extensions.Logging;
using Orleans.Concurrency;

namespace GrainMail.Grains.Governance;

/// <summary>
/// Domain-wide search and deletion. The search reads <c>message_index</c> joined with the mailbox
/// rows (reads only); every removal goes through the mailbox's own grain, the single writer of its
/// state, which tells the open IMAP sessions (EXPUNGE) as for any other expunge.
/// </summary>
[StatelessWorker, Reentrant]
public sealed class DomainSweepGrain(MessageIndex index, ILogger<DomainSweepGrain> logger) : Grain, IDomainSweepGrain
{
    public async Task<IReadOnlyList<SweepHit>> Search(string domain, SweepQuery q)
    {
        var found = await index.SearchAsync(domain, new MessageIndexQuery(q.Sender, q.Subject, q.From, q.To, q.MessageId, q.Limit));
        return found.Select(m => new SweepHit(Convert.ToHexStringLower(m.Hash), m.ReceivedAt, m.EnvelopeFrom, m.HeaderFrom, m.Subject, m.MessageId,
            m.Copies.Select(c => new SweepCopy(c.Mailbox, c.Folder, c.Uid)).ToList())).ToList();
    }

    public async Task<IReadOnlyList<SweepDeletion>> Delete(string domain, IReadOnlyList<string> ids)
    {
        var result = new List<SweepDeletion>();
        foreach (var id in ids.Distinct(StringComparer.OrdinalIgnoreCase))
        {
            if (id.Length != 64 || !id.All(Uri.IsHexDigit))
            {
                result.Add(new SweepDeletion(id, null, null, [], []));
                continue;
            }
            var hash = Convert.FromHexString(id);
            var about = await index.SummaryAsync(domain, hash);
            var copies = await index.CopiesAsync(domain, hash);
            var removed = new List<SweepCopy>();
            var failed = new List<SweepCopy>();
            // One call pair per mailbox folder, all mailboxes at once: each grain applies its own.
            await Task.WhenAll(copies.GroupBy(c => (c.Mailbox, c.Folder)).Select(async g =>
            {
                var uids = g.Select(c => c.Uid).ToList();
                var copiesHere = g.Select(c => new SweepCopy(c.Mailbox, c.Folder, c.Uid)).ToList();
                try
                {
                    var mailbox = GrainFactory.GetGrain<IMailboxGrain>(g.Key.Mailbox);
                    await mailbox.StoreFlags(g.Key.Folder, uids, new FlagChange(FlagChangeMode.Add, MessageFlags.Deleted, []));
                    var expunged = await mailbox.Expunge(g.Key.Folder, uids);
                    lock (result)
                    {
                        removed.AddRange(copiesHere.Where(c => expunged.Uids.Contains(c.Uid)));
                        failed.AddRange(copiesHere.Where(c => !expunged.Uids.Contains(c.Uid)));
                    }
                }
                catch (Exception e)
                {
                    logger.LogWarning(e, "Domain-wide deletion: {Mailbox} {Folder} failed", g.Key.Mailbox, g.Key.Folder);
                    lock (result) failed.AddRange(copiesHere);
                }
            }));
            result.Add(new SweepDeletion(id.ToLowerInvariant(), about?.MessageId, about?.Subject,
                removed.OrderBy(c => c.Mailbox, StringComparer.Ordinal).ToList(), failed.OrderBy(c => c.Mailbox, StringComparer.Ordinal).ToList()));
        }
        return result;
    }
}

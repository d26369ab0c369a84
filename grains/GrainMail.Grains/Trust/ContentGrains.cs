using System.Security.Cryptography;
using GrainMail.Contracts.Trust;
using GrainMail.Storage.Audit;
using GrainMail.Storage.Blobs;
using GrainMail.Storage.Trust;
using GrainMail.Trust.Content;
using Microsoft.Extensions.Logging;
using MimeKit;

namespace GrainMail.Grains.Trust;

/// <summary>
/// Learns a mailbox's verdicts for its own model (<see cref="IContentLearnerGrain"/>): reads each blob on the
/// silo, tokenizes it and writes the counts keyed by the blob hash, so a message learned twice as the same
/// class changes nothing and a message moved back moves its counts. The verdicts come from the durable queue
/// (<see cref="LearnQueueStore"/>), applied in order and deleted once applied; a row applied again (the silo
/// stopped between the two) changes nothing for the same reason. A failed write is retried three times with a
/// growing pause; after that the row stays queued for the next drain (<see cref="LearnQueueWorker"/>).
/// </summary>
public sealed class ContentLearnerGrain(BlobStore blobs, ContentTrust content, ReputationFeedbackStore feedback, GrainMail.Trust.Scoring.OriginStamp origins,
    ReputationView reputation, LearnQueueStore queue, LearnQueueOptions options, ILogger<ContentLearnerGrain> logger) : Grain, IContentLearnerGrain
{
    private static readonly TimeSpan[] Pauses = [TimeSpan.FromMilliseconds(200), TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(5)];

    /// <summary>Rows read per round of a drain.</summary>
    private const int DrainBatch = 100;

    public async Task Drain() => await DrainNow();

    public async Task<int> DrainNow()
    {
        // Tests that stop a silo with verdicts still queued turn applying off (GrainMail:LearnQueue:Apply=false).
        if (!options.Apply) return 0;
        var owner = this.GetPrimaryKeyString();
        var changed = 0;
        while (true)
        {
            IReadOnlyList<LearnRequest> rows;
            try
            {
                rows = await queue.PendingAsync(owner, DrainBatch);
            }
            catch (Exception e) when (e is Npgsql.NpgsqlException or TimeoutException)
            {
                logger.LogWarning(e, "Learning queue of {Mailbox} not readable; left for the next drain", owner);
                return changed;
            }
            if (rows.Count == 0) return changed;
            var done = new List<long>(rows.Count);
            foreach (var row in rows)
            {
                var outcome = await LearnOneAsync(owner, new LearnItem(row.BlobDomain, row.BlobHash), row.Spam);
                if (outcome is null) break; // the database is away: this row and those after it wait, in order
                if (outcome.Value) changed++;
                done.Add(row.Id);
            }
            try
            {
                await queue.DeleteAsync(done);
            }
            catch (Exception e) when (e is Npgsql.NpgsqlException or TimeoutException)
            {
                // Applied but still queued: applying them again changes nothing.
                logger.LogWarning(e, "Learned verdicts of {Mailbox} not deleted from the queue; they will be applied again", owner);
                return changed;
            }
            if (done.Count < rows.Count) return changed;
        }
    }

    public async Task Learn(IReadOnlyList<LearnItem> items, bool spam) => await LearnNow(items, spam);

    public async Task<int> LearnNow(IReadOnlyList<LearnItem> items, bool spam)
    {
        var owner = this.GetPrimaryKeyString();
        var changed = 0;
        foreach (var item in items)
            if (await LearnOneAsync(owner, item, spam) == true) changed++;
        return changed;
    }

    /// <summary>True when the model changed, false when there was nothing to change (learned already, the blob gone,
    /// a message that does not parse), null when the database stayed away through the retries.</summary>
    private async Task<bool?> LearnOneAsync(string owner, LearnItem item, bool spam)
    {
        for (var attempt = 0; ; attempt++)
        {
            try
            {
                var raw = await blobs.ReadAsync(item.BlobDomain, item.BlobHash);
                if (raw is null) return false; // gone (expunged and collected): nothing to learn
                using var stream = new MemoryStream(raw, writable: false);
                var message = await MimeMessage.LoadAsync(stream);
                await CorrectReputationAsync(item.BlobHash, message, spam);
                return await content.LearnAsync(owner, item.BlobHash, message, spam) != LearnOutcome.AlreadyLearned;
            }
            catch (Exception e) when (e is Npgsql.NpgsqlException or TimeoutException && attempt < Pauses.Length)
            {
                logger.LogWarning(e, "Learning for {Mailbox} failed (attempt {Attempt}); retrying", owner, attempt + 1);
                await Task.Delay(Pauses[attempt]);
            }
            catch (Exception e) when (e is Npgsql.NpgsqlException or TimeoutException)
            {
                logger.LogError(e, "Learning a message as {Class} for {Mailbox} failed; left queued", spam ? "spam" : "ham", owner);
                return null;
            }
            catch (FormatException e)
            {
                logger.LogError(e, "A message to learn as {Class} for {Mailbox} does not parse; skipped", spam ? "spam" : "ham", owner);
                return false;
            }
        }
    }

    /// <summary>
    /// The user's verdict also corrects the sender reputation the message was counted in at arrival (the
    /// network and aligned domain its X-Spam-Origin names): once per message, whoever gives the verdict and
    /// however often; a verdict that agrees with how it was counted changes nothing. Mail that did not come
    /// through our MX (or carries a forged header) has no origin and is left out.
    /// </summary>
    private async Task CorrectReputationAsync(byte[] key, MimeMessage message, bool spam)
    {
        if (origins.Read(message.Headers[GrainMail.Trust.Scoring.OriginStamp.HeaderName]) is not { } origin) return;
        // Once per stamp (its id), else — stamps from before ids — once per message bytes.
        var once = origin.Id is { } id ? SHA256.HashData(System.Text.Encoding.ASCII.GetBytes("x-spam-origin:" + id)) : key;
        if (await feedback.RecordAsync(once, spam, origin.CountedSpam) is not { } before || before == spam) return;
        foreach (var k in origin.Keys)
        {
            reputation.Flush(GrainFactory, k);
            await GrainFactory.GetGrain<IReputationGrain>(k).Correct(spam);
            reputation.Forget(k);
        }
    }
}

/// <summary>The classifier and sender lists for the APIs (<see cref="IContentAdminGrain"/>), on a silo.</summary>
[Orleans.Concurrency.StatelessWorker, Orleans.Concurrency.Reentrant]
public sealed class ContentAdminGrain(ContentTrust content, ContentStore store, QuarantineStore quarantine, AuditLog audit) : Grain, IContentAdminGrain
{
    public async Task<string> Train(byte[] message, bool spam, SpamActor actor)
    {
        var raw = WithoutMboxLine(message);
        using var stream = new MemoryStream(raw, writable: false);
        var parsed = await MimeMessage.LoadAsync(stream);
        var key = SHA256.HashData(raw);
        var result = await content.LearnAsync(ContentStore.GlobalOwner, key, parsed, spam) switch
        {
            LearnOutcome.Learned => "learned",
            LearnOutcome.Relearned => "relearned",
            _ => "already-learned",
        };
        await Audit(actor, "spam.train", spam ? "spam" : "ham", result, $"{{\"sha256\":\"{Convert.ToHexStringLower(key)}\"}}");
        return result;
    }

    public async Task<ContentModelSize> ResetGlobal(SpamActor actor)
    {
        var (spam, ham) = await store.ResetAsync(ContentStore.GlobalOwner);
        content.ModelChanged(ContentStore.GlobalOwner);
        await Audit(actor, "spam.reset", "global", "ok", $"{{\"spamMessages\":{spam},\"hamMessages\":{ham}}}");
        return new ContentModelSize(spam, ham);
    }

    public async Task<bool> ReleaseOwn(string mailbox, Guid id, SpamActor actor)
    {
        var ok = (await quarantine.ListAsync(mailbox, null)).Any(q => q.Id == id) && await quarantine.ReleaseAsync(id);
        await Audit(actor, "quarantine.release", mailbox, ok ? "ok" : "not-found", $"{{\"id\":\"{id}\"}}");
        return ok;
    }

    public async Task<bool> DeleteOwn(string mailbox, Guid id, SpamActor actor)
    {
        var ok = (await quarantine.ListAsync(mailbox, null)).Any(q => q.Id == id) && await quarantine.DeleteAsync(id);
        await Audit(actor, "quarantine.delete", mailbox, ok ? "ok" : "not-found", $"{{\"id\":\"{id}\"}}");
        return ok;
    }

    private Task Audit(SpamActor a, string action, string target, string result, string? detail) =>
        audit.AppendAsync(new AuditRecord(a.Actor, a.Role, a.ClientIp, action, target, result, detail));

    public async Task<ContentClassification> Classify(byte[] message, string? mailbox)
    {
        using var stream = new MemoryStream(WithoutMboxLine(message), writable: false);
        var r = await content.ClassifyAsync(await MimeMessage.LoadAsync(stream), mailbox);
        return new ContentClassification(r.Verdict.Probability, r.Verdict.Clues, r.Tokens, r.Symbol?.Name, r.Symbol?.Weight ?? 0, r.Elapsed.TotalMicroseconds);
    }

    public async Task<ContentModelSize> ModelSize(string? mailbox)
    {
        var (spam, ham) = await store.TotalsAsync(mailbox ?? ContentStore.GlobalOwner);
        return new ContentModelSize(spam, ham);
    }

    public async Task<IReadOnlyList<SenderListItem>> Lists(string scope) =>
        (await store.ListAsync(scope)).Select(r => new SenderListItem(r.Entry, r.Allow, r.CreatedAt)).ToList();

    public async Task<bool> AddToList(string scope, bool allow, string entry, SpamActor actor)
    {
        var e = SenderLists.Normalize(entry) ?? throw new ArgumentException("not an address or a domain", nameof(entry));
        var added = await store.AddAsync(scope, allow, e);
        content.ListChanged(scope);
        await Audit(actor, allow ? "allowlist.add" : "blocklist.add", scope, added ? "ok" : "exists", Json(e));
        return added;
    }

    public async Task<bool> RemoveFromList(string scope, bool allow, string entry, SpamActor actor)
    {
        var removed = SenderLists.Normalize(entry) is { } e && await store.RemoveAsync(scope, allow, e);
        content.ListChanged(scope);
        await Audit(actor, allow ? "allowlist.remove" : "blocklist.remove", scope, removed ? "ok" : "not-found", Json(entry));
        return removed;
    }

    private static string Json(string entry) => "{\"entry\":\"" + System.Text.Json.JsonEncodedText.Encode(entry) + "\"}";

    /// <summary>An mbox file's "From " separator line is not part of the message (RFC 4155).</summary>
    public static byte[] WithoutMboxLine(byte[] raw)
    {
        if (raw.Length < 5 || !raw.AsSpan(0, 5).SequenceEqual("From "u8)) return raw;
        var end = Array.IndexOf(raw, (byte)'\n');
        return end < 0 ? [] : raw[(end + 1)..];
    }
}

using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text.Json.Nodes;
using GrainMail.Gateways.Common.Messages;
using Microsoft.Extensions.Caching.Memory;
using GrainMail.Gateways.Common.Mime;
using GrainMail.Gateways.Common.Objects;
using GrainMail.Gateways.Common.Sorting;
using GrainMail.Gateways.Jmap.Methods;
using Microsoft.Extensions.Configuration;

namespace GrainMail.Gateways.Jmap.Mail;

/// <summary>
/// Thread ids (RFC 8474 THREADID, the same function IMAP uses) per Email id. An Email id names
/// immutable content, so an entry never goes stale; bounded in count.
/// </summary>
public sealed class ThreadIndex
{
    private const int MaxEntries = 2_000_000;
    private readonly ConcurrentDictionary<string, string> _threads = new(StringComparer.Ordinal);

    public string? Known(string emailId) => _threads.GetValueOrDefault(emailId);

    public void Remember(string emailId, string threadId)
    {
        if (_threads.Count >= MaxEntries) _threads.Clear();
        _threads[emailId] = threadId;
    }
}

/// <summary>
/// Message content for JMAP: bytes through the gateways' shared <see cref="MessageCache"/>, parsed
/// forms, and a cache of the list properties (from, subject, preview, ...) per Email id, so a
/// page of 50 in a webmail list costs no parse after the first time.
/// </summary>
public sealed class EmailStore(MessageCache messages, ThreadIndex threads, Microsoft.Extensions.Configuration.IConfiguration? configuration = null) : IDisposable
{
    /// <summary>The summaries' cache bound, in bytes of their JSON.</summary>
    public const long SummaryCacheBytes = 64L * 1024 * 1024;

    // Each summary is kept as its UTF-8 JSON, one array, not a tree of JsonNodes (~30 objects each): tens of thousands
    // of long-lived trees made the gen1 collections that were the Email/get tail (issue 18, session 9).
    private readonly MemoryCache _summaries = new(new MemoryCacheOptions { SizeLimit = SummaryCacheBytes });

    // GrainMail:Jmap:BatchedSummaryReads=false brings back the read per message, for the benchmark's A/B (docs/benchmarks.md, session 9).
    private readonly bool _batched = configuration?.GetValue("GrainMail:Jmap:BatchedSummaryReads", true) ?? true;

    public ThreadIndex Threads => threads;

    public Task<LoadedMessage?> LoadAsync(EmailCopy copy) => messages.GetAsync(copy.Meta.Blob);

    /// <summary>
    /// The Email's thread id: the one stored with the message (issue 18), else computed from its
    /// headers the way the mailbox computes it (for messages the backfill has not reached yet).
    /// </summary>
    public ValueTask<string> ThreadIdAsync(EmailCopy copy)
    {
        if (copy.Meta.ThreadId is { } stored)
        {
            // Remembered for Thread/changes and queryChanges, which name the thread of an Email gone since.
            if (threads.Known(copy.EmailId) is null) threads.Remember(copy.EmailId, stored);
            return ValueTask.FromResult(stored);
        }
        return threads.Known(copy.EmailId) is { } known ? ValueTask.FromResult(known) : new ValueTask<string>(ComputeThreadIdAsync(copy));
    }

    private async Task<string> ComputeThreadIdAsync(EmailCopy copy)
    {
        var content = await LoadAsync(copy);
        // A message whose bytes are gone is its own thread (as ObjectIds has it for one without ids).
        var thread = content is null ? "T" + copy.EmailId[1..] : ObjectIds.ThreadId(content.Root.Headers, copy.Meta.Blob);
        threads.Remember(copy.EmailId, thread);
        return thread;
    }

    /// <summary>RFC 5256 sort keys of the message (IMAP SORT's own), for JMAP's from/to/subject/sentAt sorts.</summary>
    public async Task<MessageSummary?> SortKeysAsync(EmailCopy copy)
    {
        var content = await LoadAsync(copy);
        return content is null ? null : MessageSummary.FromHeaders(copy.Meta.Uid, 0, copy.Meta.InternalDate, copy.Meta.Blob.Size, content.Root.Headers);
    }

    public async Task<EmailReader?> ReaderAsync(EmailCopy copy)
    {
        var content = await LoadAsync(copy);
        return content is null ? null : EmailReader.Parse(content.Raw, "B" + copy.EmailId[1..]);
    }

    /// <summary>The summary properties (<see cref="EmailReader.SummaryProperties"/>) of a message, cached.</summary>
    public async Task<JsonObject?> SummaryAsync(EmailCopy copy)
    {
        if (_summaries.TryGetValue(copy.EmailId, out CachedSummary? cached) && cached is not null) return JsonNode.Parse(cached.Json) as JsonObject;
        var content = await LoadAsync(copy);
        return content is null ? null : Summarize(copy, content.Raw);
    }

    /// <summary>The summary's hasAttachment without parsing its JSON (the hasAttachment filter asks it of every Email).</summary>
    public async Task<bool?> HasAttachmentAsync(EmailCopy copy)
    {
        if (_summaries.TryGetValue(copy.EmailId, out CachedSummary? cached) && cached is not null) return cached.HasAttachment;
        var content = await LoadAsync(copy);
        return content is null ? null : (bool?)Summarize(copy, content.Raw)["hasAttachment"];
    }

    private sealed record CachedSummary(byte[] Json, bool HasAttachment);

    /// <summary>
    /// Puts the summaries of <paramref name="copies"/> into the cache: those not there are read in one batch
    /// (<see cref="MessageCache.GetManyAsync"/>) and parsed. <paramref name="timings"/> gets "blob" (the read,
    /// wall time), "parse" (summed) and "miss" (how many were not cached).
    /// </summary>
    public async Task SummariesAsync(IReadOnlyList<EmailCopy> copies, JmapTimings timings, CancellationToken ct)
    {
        var missing = copies.Where(c => !_summaries.TryGetValue(c.EmailId, out _)).DistinctBy(c => c.EmailId).ToList();
        timings.Add("miss", missing.Count);
        if (missing.Count == 0) return;
        var started = Stopwatch.GetTimestamp();
        if (!_batched)
        {
            // The read per message as before session 9 (16 at a time), kept for the A/B measurement.
            await Parallel.ForEachAsync(missing, new ParallelOptions { MaxDegreeOfParallelism = 16, CancellationToken = ct },
                async (copy, _) => await SummaryAsync(copy));
            timings.Since("blob", started);
            return;
        }
        // Not kept in the message cache: a list page needs the bytes once, for the summary, and 50 messages per page pushed
        // out what readers had opened.
        var contents = await messages.GetManyAsync(missing.Select(c => c.Meta.Blob).ToList(), ct, keep: false);
        timings.Since("blob", started);
        started = Stopwatch.GetTimestamp();
        for (var i = 0; i < missing.Count; i++)
            if (contents[i] is { } content) Summarize(missing[i], content.Raw);
        timings.Since("parse", started);
    }

    private JsonObject Summarize(EmailCopy copy, byte[] raw)
    {
        var reader = EmailReader.Parse(raw, "B" + copy.EmailId[1..]);
        var summary = new JsonObject();
        foreach (var p in EmailReader.SummaryProperties)
            if (reader.TryHeaderProperty(p, out var v)) summary[p] = v;
        var json = System.Text.Encoding.UTF8.GetBytes(summary.ToJsonString());
        _summaries.Set(copy.EmailId, new CachedSummary(json, (bool?)summary["hasAttachment"] == true), new MemoryCacheEntryOptions { Size = json.Length });
        return summary;
    }

    /// <summary>A stored message by its blob, outside any view (a report listed on a submission before its mailbox copy is seen).</summary>
    public Task<LoadedMessage?> LoadAsync(GrainMail.Contracts.Mailboxes.BlobRef blob) => messages.GetAsync(blob);

    public void Dispose() => _summaries.Dispose();
}

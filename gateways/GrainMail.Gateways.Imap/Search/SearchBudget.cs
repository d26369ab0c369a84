namespace GrainMail.Gateways.Imap.Search;

/// <summary>A SEARCH would read more message bytes than one search may: answered NO [LIMIT].</summary>
internal sealed class SearchLimitException(long limit) : Exception($"SEARCH would read more than {limit} octets of messages")
{
    public long Limit => limit;
}

/// <summary>
/// Bounds the searches that read message bytes (BODY, TEXT, HEADER, SENTBEFORE …), gateway-wide
/// and each: at most <c>maxConcurrent</c> run at once (the rest wait their turn), and one may read
/// at most <c>maxBytesPerSearch</c> octets of messages. Messages are read one at a time and let go
/// after they were looked at, so memory is bounded by the slots times the largest message,
/// whatever the number of clients or the size of their folders (16 concurrent SEARCH TEXT on a
/// 150 MB INBOX held 2.27 GB before).
/// </summary>
public sealed class SearchBudget(int maxConcurrent, long maxBytesPerSearch)
{
    private readonly SemaphoreSlim _slots = new(Math.Max(1, maxConcurrent), Math.Max(1, maxConcurrent));

    public long MaxBytesPerSearch => maxBytesPerSearch;

    /// <summary>Searches holding a slot now.</summary>
    public int Running => Math.Max(1, maxConcurrent) - _slots.CurrentCount;

    /// <summary>Waits for a slot; dispose the lease to give it back.</summary>
    public async Task<Lease> EnterAsync(CancellationToken ct)
    {
        await _slots.WaitAsync(ct);
        return new Lease(this);
    }

    /// <summary>One search's slot and its count of bytes read.</summary>
    public sealed class Lease(SearchBudget budget) : IDisposable
    {
        private bool _disposed;

        public long BytesRead { get; private set; }

        /// <summary>Counts a message about to be read; throws <see cref="SearchLimitException"/> beyond the per-search cap.</summary>
        public void Charge(long bytes)
        {
            if (BytesRead + bytes > budget.MaxBytesPerSearch) throw new SearchLimitException(budget.MaxBytesPerSearch);
            BytesRead += bytes;
        }

        public void Dispose()
        {
            if (_disposed) return;
            _disposed = true;
            budget._slots.Release();
        }
    }
}

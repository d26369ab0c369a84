using System.Diagnostics.CodeAnalysis;
using GrainMail.Storage.Delivery;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans.Configuration;
using Orleans.Providers.Streams.Common;
using Orleans.Runtime;
using Orleans.Streams;

namespace GrainMail.Storage.Streams;

/// <summary>
/// Orleans persistent stream provider over PostgreSQL queue tables. Orleans runs one pulling
/// agent per queue partition and spreads them over the silos. Events are leased, not removed,
/// when read; the consumer deletes the row in the transaction that applies the event, so an
/// event is either applied or handed out again, never lost.
/// </summary>
public sealed class PgQueueAdapterFactory(
    string name,
    PgQueueOptions options,
    SimpleQueueCacheOptions cacheOptions,
    PgStreamQueueMapper mapper,
    StreamQueueStore store,
    EventCodec codec,
    ILoggerFactory loggerFactory) : IQueueAdapterFactory
{
    public static IQueueAdapterFactory Create(IServiceProvider services, string name)
    {
        var options = services.GetRequiredService<PgQueueOptions>();
        var cache = services.GetRequiredService<IOptionsMonitor<SimpleQueueCacheOptions>>().Get(name);
        return ActivatorUtilities.CreateInstance<PgQueueAdapterFactory>(services, name, options, cache);
    }

    [Obsolete("Orleans calls the overload with a cancellation token.")]
    [ExcludeFromCodeCoverage]
    public Task<IQueueAdapter> CreateAdapter() => CreateAdapter(CancellationToken.None);

    public Task<IQueueAdapter> CreateAdapter(CancellationToken cancellationToken) =>
        Task.FromResult<IQueueAdapter>(new PgQueueAdapter(name, mapper, options, store, codec, loggerFactory));

    public IQueueAdapterCache GetQueueAdapterCache() => new SimpleQueueAdapterCache(cacheOptions, name, loggerFactory);

    public IStreamQueueMapper GetStreamQueueMapper() => mapper;

    // Delivery failures need no handling here: a row that was not consumed is leased again once
    // its visibility timeout runs out, and dead-lettered after MaxAttempts.
    public Task<IStreamFailureHandler> GetDeliveryFailureHandler(QueueId queueId) =>
        Task.FromResult<IStreamFailureHandler>(new NoOpStreamDeliveryFailureHandler());
}

/// <summary>Maps a stream to its partition; the same on every silo and gateway.</summary>
public sealed class PgStreamQueueMapper(int queueCount) : IConsistentRingStreamQueueMapper
{
    public const string QueuePrefix = "mailq";

    private readonly HashRingBasedStreamQueueMapper _ring =
        new(new HashRingStreamQueueMapperOptions { TotalQueueCount = queueCount }, QueuePrefix);

    public IEnumerable<QueueId> GetAllQueues() => _ring.GetAllQueues();

    public QueueId GetQueueForStream(StreamId streamId) => _ring.GetQueueForStream(streamId);

    public IEnumerable<QueueId> GetQueuesForRange(IRingRange range) => _ring.GetQueuesForRange(range);

    /// <summary>The partition number stored in <c>stream_queue.queue_id</c>.</summary>
    public int PartitionOf(StreamId streamId) => (int)GetQueueForStream(streamId).GetNumericId();
}

internal sealed class PgQueueAdapter(
    string name,
    PgStreamQueueMapper mapper,
    PgQueueOptions options,
    StreamQueueStore store,
    EventCodec codec,
    ILoggerFactory loggerFactory) : IQueueAdapter
{
    public string Name => name;

    public bool IsRewindable => false;

    public StreamProviderDirection Direction => StreamProviderDirection.ReadWrite;

    public async Task QueueMessageBatchAsync<T>(StreamId streamId, IEnumerable<T> events, StreamSequenceToken? token,
        Dictionary<string, object>? requestContext)
    {
        var partition = mapper.PartitionOf(streamId);
        var ns = streamId.GetNamespace() ?? "";
        var key = streamId.GetKeyAsString();
        var rows = events.Select(e => new OutgoingEvent(partition, ns, key, codec.Encode(e!))).ToList();
        await store.EnqueueAsync(rows);
    }

    public IQueueAdapterReceiver CreateReceiver(QueueId queueId) =>
        new PgQueueAdapterReceiver(queueId, options, store, codec, loggerFactory.CreateLogger<PgQueueAdapterReceiver>());
}

internal sealed class PgQueueAdapterReceiver(
    QueueId queueId,
    PgQueueOptions options,
    StreamQueueStore store,
    EventCodec codec,
    ILogger<PgQueueAdapterReceiver> logger) : IQueueAdapterReceiver
{
    private readonly int _partition = (int)queueId.GetNumericId();

    // Tokens must grow in read order for the cache; a re-read row gets a new, larger one.
    private long _sequence;

    private bool _leaseOutcomeUnknown;

    [Obsolete("Orleans calls the overload with a cancellation token.")]
    public Task Initialize(TimeSpan timeout) => Initialize(timeout, CancellationToken.None);

    public async Task Initialize(TimeSpan timeout, CancellationToken cancellationToken)
    {
        // This agent now owns the partition: leases taken by a previous owner (perhaps a silo
        // that died) are released at once rather than after their timeout. Should the previous
        // owner still be delivering, the consumer's idempotence absorbs the duplicate.
        var released = await store.ReleaseLeasesAsync(_partition, cancellationToken);
        if (released > 0) logger.LogInformation("Queue {Queue}: released {Count} leases of a previous owner", queueId, released);
    }

    [Obsolete("Orleans calls the overload with a cancellation token.")]
    public Task<IList<IBatchContainer>> GetQueueMessagesAsync(int maxCount) => GetQueueMessagesAsync(maxCount, CancellationToken.None);

    public async Task<IList<IBatchContainer>> GetQueueMessagesAsync(int maxCount, CancellationToken cancellationToken)
    {
        var max = maxCount <= 0 ? 256 : Math.Min(maxCount, 256);
        List<QueuedEvent> rows;
        try
        {
            if (_leaseOutcomeUnknown)
            {
                // The last lease lost its connection: it may have committed (and replicated)
                // without this agent ever seeing the rows, which would then wait out the whole
                // visibility timeout. This agent owns the partition, so it frees its leases;
                // an event it is still delivering is delivered again, which changes nothing.
                var released = await store.ReleaseLeasesAsync(_partition, cancellationToken);
                _leaseOutcomeUnknown = false;
                if (released > 0) logger.LogInformation("Queue {Queue}: released {Count} leases after a lost connection", queueId, released);
            }
            rows = await store.LeaseAsync(_partition, max, options.VisibilityTimeout, options.MaxAttempts, cancellationToken);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // Shutting down: the lease transaction rolled back, nothing was taken.
            return [];
        }
        catch (Exception e) when (e is Npgsql.NpgsqlException or IOException or TimeoutException)
        {
            _leaseOutcomeUnknown = true;
            throw;
        }
        var batches = new List<IBatchContainer>(rows.Count);
        foreach (var row in rows)
        {
            object payload;
            try
            {
                payload = codec.Decode(row.StreamNamespace, row.Payload, row.Id, row.DequeueCount);
            }
            catch (Exception e) when (e is FormatException or System.Text.Json.JsonException or ArgumentException)
            {
                logger.LogWarning("Queue {Queue}: event {Id} is unreadable, dead-lettered: {Error}", queueId, row.Id, e.Message);
                await store.DeadLetterAsync(row.Id, "unreadable payload: " + e.Message, cancellationToken);
                GrainMail.Operations.GrainMailMeters.DeadLetters.Add(1, new KeyValuePair<string, object?>("reason", "unreadable"));
                continue;
            }
            var streamId = StreamId.Create(row.StreamNamespace, row.StreamKey);
            batches.Add(new PgBatchContainer(streamId, payload, row.Id, new EventSequenceTokenV2(++_sequence)));
        }
        return batches;
    }

    [Obsolete("Orleans calls the overload with a cancellation token.")]
    public Task MessagesDeliveredAsync(IList<IBatchContainer> messages) => Task.CompletedTask;

    // Nothing to do: consumers delete their rows in their own transactions, so the cache's
    // purge (which also covers events nobody consumed) must not delete anything.
    public Task MessagesDeliveredAsync(IList<IBatchContainer> messages, CancellationToken cancellationToken) => Task.CompletedTask;

    [Obsolete("Orleans calls the overload with a cancellation token.")]
    public Task Shutdown(TimeSpan timeout) => Task.CompletedTask;

    public Task Shutdown(TimeSpan timeout, CancellationToken cancellationToken) => Task.CompletedTask;
}

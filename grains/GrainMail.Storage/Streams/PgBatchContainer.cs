using Orleans.Runtime;
using Orleans.Providers.Streams.Common;
using Orleans.Streams;

namespace GrainMail.Storage.Streams;

/// <summary>One queue row as an Orleans batch: a single event with the row id it came from.</summary>
[GenerateSerializer, Immutable, Alias("GrainMail.PgBatchContainer")]
public sealed class PgBatchContainer(StreamId streamId, object payload, long rowId, EventSequenceTokenV2 token) : IBatchContainer
{
    [Id(0)] public StreamId StreamId { get; } = streamId;

    [Id(1)] public object Payload { get; } = payload;

    /// <summary>The <c>stream_queue</c> row; the consumer deletes it when it applies the event.</summary>
    [Id(2)] public long RowId { get; } = rowId;

    [Id(3)] public EventSequenceTokenV2 Token { get; } = token;

    public StreamSequenceToken SequenceToken => Token;

    public IEnumerable<Tuple<T, StreamSequenceToken>> GetEvents<T>() =>
        Payload is T t ? [Tuple.Create(t, (StreamSequenceToken)Token.CreateSequenceTokenForEvent(0))] : [];

    public bool ImportRequestContext() => false;
}

namespace GrainMail.Storage.Streams;

/// <summary>Settings of the PostgreSQL stream queues (named options per stream provider).</summary>
public sealed class PgQueueOptions
{
    /// <summary>Partitions; each is pulled by one agent, spread over the silos by Orleans.</summary>
    public int QueueCount { get; set; } = 8;

    /// <summary>How long a read event stays invisible to other readers before it is handed out again.</summary>
    public TimeSpan VisibilityTimeout { get; set; } = TimeSpan.FromMinutes(2);

    /// <summary>Reads after which an event that was never consumed goes to the dead letters.</summary>
    public int MaxAttempts { get; set; } = 8;
}

namespace GrainMail.Contracts;

/// <summary>
/// The database failed a grain call: what crosses the grain boundary instead of Npgsql's own exceptions,
/// which Orleans cannot send back (their namespace is not among those it serialises, so the caller used to get
/// a <c>CodecNotFoundException</c> that nothing recognised). Made from them by the silo's incoming call filter.
/// <see cref="Transient"/> is Npgsql's judgement: a connection refused or broken, a server shutting down or not
/// accepting connections (a failover), a serialisation failure. A transient failure of a
/// <see cref="RetryableAttribute">retryable</see> call is asked again by the caller's retry filter; anything else
/// is answered with a temporary protocol error (SMTP 451, IMAP NO [UNAVAILABLE], POP3 -ERR [SYS/TEMP], JMAP
/// serverUnavailable).
/// It is an <see cref="Orleans.Runtime.OrleansException"/> so that it also leaves a grain that failed to activate as it
/// is: Orleans' state bridge wraps any other exception from a storage provider in one of its own (with Npgsql's inside,
/// which cannot be sent), and rejects the calls waiting for a failed activation with the exception it failed with.
/// </summary>
[GenerateSerializer, Alias("GrainMail.StorageUnavailable")]
public sealed class StorageUnavailableException : Orleans.Runtime.OrleansException
{
    public StorageUnavailableException()
    {
    }

    public StorageUnavailableException(string message, bool transient) : base(message) => Transient = transient;

    /// <summary>Whether the same call may succeed when asked again shortly (the database is coming back).</summary>
    [Id(0)]
    public bool Transient { get; init; }
}

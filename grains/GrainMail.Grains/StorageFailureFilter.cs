using GrainMail.Contracts;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace GrainMail.Grains;

/// <summary>
/// Turns a database failure inside a grain call into a <see cref="StorageUnavailableException"/> on its way out of
/// the silo. Npgsql's exceptions cannot be serialised back to the caller: a login or a submission that met a dying
/// database reached the gateway as Orleans' <c>CodecNotFoundException</c>, which no retry recognised and no log line
/// explained. Done once here, where every grain call passes (an incoming call filter), rather than in each of the
/// hundreds of methods that read or write PostgreSQL; the original is logged on the silo, where its detail is useful.
/// </summary>
public sealed class StorageFailureFilter(ILogger<StorageFailureFilter> logger) : IIncomingGrainCallFilter
{
    public async Task Invoke(IIncomingGrainCallContext context)
    {
        try
        {
            await context.Invoke();
        }
        catch (Exception e) when (Translate(e) is { } storage)
        {
            logger.LogWarning(e, "{Grain}.{Method} failed in the database (transient: {Transient})",
                context.InterfaceName, context.MethodName, storage.Transient);
            throw storage;
        }
    }

    /// <summary>The exception to send instead of <paramref name="e"/>: null when neither it nor any exception inside it
    /// comes from Npgsql (an exception that carries one inside cannot be serialised either).</summary>
    public static StorageUnavailableException? Translate(Exception e)
    {
        for (Exception? x = e; x is not null; x = x.InnerException)
        {
            if (x is NpgsqlException npgsql)
            {
                // A PostgresException's message begins with its SQL state already.
                var inner = npgsql.InnerException is { } cause ? $" ({cause.GetType().Name}: {cause.Message})" : "";
                return new StorageUnavailableException($"Database failure: {npgsql.Message}{inner}", IsTransient(npgsql));
            }
        }
        return null;
    }

    /// <summary>
    /// Npgsql's judgement, and one case it calls permanent: "No suitable host was found", its failure to open a connection
    /// when every host of a multi-host connection string failed (an <see cref="AggregateException"/> of each host's
    /// failure inside) or none is the primary. That is exactly a failover between the old primary's death and the
    /// standby's promotion (the failover drill's logins and submissions met it); it passes once the new primary is up.
    /// </summary>
    private static bool IsTransient(NpgsqlException e) => e.IsTransient || e.InnerException is AggregateException;
}

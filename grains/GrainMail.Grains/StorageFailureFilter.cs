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
            if (StepsDown(context.Grain))
            {
                // As DeactivateOnIdle: this call ends first, and the calls waiting behind it go to the next activation.
                context.TargetContext.Deactivate(new DeactivationReason(DeactivationReasonCode.ApplicationRequested,
                    $"{context.MethodName} failed in the database: its picture of its rows may no longer be the database's"), CancellationToken.None);
            }
            throw storage;
        }
    }

    /// <summary>Whether <paramref name="grain"/> is marked <see cref="StepDownOnStorageFailureAttribute"/>.</summary>
    public static bool StepsDown(object? grain) => grain is not null
        && Marked.GetOrAdd(grain.GetType(), t => t.IsDefined(typeof(StepDownOnStorageFailureAttribute), inherit: false));

    private static readonly System.Collections.Concurrent.ConcurrentDictionary<Type, bool> Marked = new();

    /// <summary>
    /// Runs what a grain reads from the database with its own SQL when it activates. A failure there happens before any
    /// grain call, so the filter never sees it: Orleans rejects the calls waiting for the activation with the exception
    /// the activation failed with, and a caller got a codec error for Npgsql's instead of a failure it could retry or
    /// answer with a temporary error. (State read through the grain storage is <see cref="StorageFailureGrainStorage"/>'s.)
    /// </summary>
    public static async Task Activating(Func<Task> load)
    {
        try
        {
            await load();
        }
        catch (Exception e) when (Translate(e) is { } storage)
        {
            // Orleans logs the activation's failure with this message, which carries Npgsql's.
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

/// <summary>
/// The grain keeps in memory what it read from its own rows (a change counter, a list of rows) and writes them with its
/// own SQL, so a failed write leaves it unsure of the database: the write may not have landed (memory ahead, if it had
/// changed it already), or landed unseen (the COMMIT in flight when the database died and a promoted standby holding it:
/// memory behind, a counter handed out again, an insert refused as a duplicate at every retry). A grain call of such a
/// grain that fails in the database therefore ends its activation (<see cref="StorageFailureFilter"/>), and the next call
/// reads the rows afresh, as <c>MailboxGrain</c> does after any failed commit. A failed read costs a reload, no more.
/// On grain state (<see cref="StorageFailureGrainStorage"/>) it means any failed state write ends the activation, not
/// only one whose version check failed: the grain's change made in memory before the write is not kept.
/// </summary>
[AttributeUsage(AttributeTargets.Class, Inherited = false)]
public sealed class StepDownOnStorageFailureAttribute : Attribute;

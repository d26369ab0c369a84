using Microsoft.Extensions.DependencyInjection;
using Orleans.Storage;

namespace GrainMail.Grains;

/// <summary>
/// Orleans' ADO.NET grain storage, with two things added where every <c>[PersistentState]</c> read and write passes:
/// <list type="bullet">
/// <item>A database failure leaves it as <see cref="Contracts.StorageUnavailableException"/>. The state read of a grain
/// that activates runs before any grain call, so <see cref="StorageFailureFilter"/> never sees it: Orleans wrapped Npgsql's
/// exception in its own and rejected the waiting calls with it, and the caller got a codec error for
/// <c>Npgsql.PostgresException</c> instead of something a retry or a temporary error could be made of. The project's
/// exception is an Orleans one, so the state bridge passes it on unwrapped.</item>
/// <item>A write that fails its version check (<see cref="InconsistentStateException"/>: the row moved on, by another
/// activation or by a write of this one that landed unseen) ends the activation, wherever it was made: Orleans does so
/// only when the exception escapes a grain call, so a grain writing from a timer (the spam filter's flush) kept its stale
/// ETag and failed every write until it was collected. A write that fails otherwise ends the activation of grains marked
/// <see cref="StepDownOnStorageFailureAttribute"/>: they changed their state in memory before writing, and a failed
/// write left them answering with a change the database does not hold (an account disabled in memory only). Others keep
/// their change and write it again at their next write, which is what a grain batching its writes wants.</item>
/// </list>
/// </summary>
public sealed class StorageFailureGrainStorage(IGrainStorage inner, IGrainContextAccessor grains) : IGrainStorage, ILifecycleParticipant<ISiloLifecycle>
{
    public async Task ReadStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
    {
        try
        {
            await inner.ReadStateAsync(stateName, grainId, grainState);
        }
        catch (Exception e) when (StorageFailureFilter.Translate(e) is { } storage)
        {
            throw storage;
        }
    }

    public Task WriteStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState) =>
        ChangeAsync(grainId, () => inner.WriteStateAsync(stateName, grainId, grainState));

    public Task ClearStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState) =>
        ChangeAsync(grainId, () => inner.ClearStateAsync(stateName, grainId, grainState));

    /// <summary>A write or a clear of the state: a failure may end the activation (<see cref="StepDown"/>) and leaves translated.</summary>
    private async Task ChangeAsync(GrainId grainId, Func<Task> change)
    {
        try
        {
            await change();
        }
        catch (Exception e)
        {
            StepDown(grainId, e);
            if (StorageFailureFilter.Translate(e) is { } storage) throw storage;
            throw;
        }
    }

    // The provider creates its tables' statements at silo start.
    public void Participate(ISiloLifecycle lifecycle) => (inner as ILifecycleParticipant<ISiloLifecycle>)?.Participate(lifecycle);

    private void StepDown(GrainId grainId, Exception e)
    {
        // Storage calls run on the grain's own scheduler, so the current context is the grain whose state this is. As
        // DeactivateOnIdle does: the calls waiting behind this one go to the next activation (the failure itself is not
        // attached, it would be sent to them and Npgsql's cannot be).
        if (grains.GrainContext is { } grain && grain.GrainId == grainId
            && (e is InconsistentStateException || StorageFailureFilter.StepsDown(grain.GrainInstance)))
            grain.Deactivate(new DeactivationReason(DeactivationReasonCode.ApplicationRequested,
                $"its state write failed ({e.GetType().Name}): the state in memory may differ from the database's"), CancellationToken.None);
    }

    /// <summary>Wraps the grain storage registered under <paramref name="name"/> (after its provider's own registration).</summary>
    public static void Decorate(IServiceCollection services, string name)
    {
        var provider = services.Last(d => d.ServiceType == typeof(IGrainStorage) && d.IsKeyedService && Equals(d.ServiceKey, name));
        var create = provider.KeyedImplementationFactory
            ?? throw new InvalidOperationException($"The grain storage {name} is not registered by a factory");
        services.Remove(provider);
        services.AddKeyedSingleton<IGrainStorage>(name, (sp, key) => new StorageFailureGrainStorage((IGrainStorage)create(sp, key), sp.GetRequiredService<IGrainContextAccessor>()));
    }
}

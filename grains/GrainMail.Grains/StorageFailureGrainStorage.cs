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
/// <item>A write or clear that fails for any reason ends the activation. Its state in memory no longer says what the
/// database holds: the grain changed it before writing, and the write either did not land (memory ahead) or landed
/// unseen, the COMMIT in flight when the database died and a promoted standby holding it (memory and ETag behind, so
/// every later write fails its version check). The next call reads the row afresh. Orleans itself ends an activation
/// only when an <see cref="InconsistentStateException"/> escapes a grain call, not after a failure of the connection, nor
/// for a write made in a timer.</item>
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

    public async Task WriteStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
    {
        try
        {
            await inner.WriteStateAsync(stateName, grainId, grainState);
        }
        catch (Exception e)
        {
            StepDown(grainId, e);
            if (StorageFailureFilter.Translate(e) is { } storage) throw storage;
            throw;
        }
    }

    public async Task ClearStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
    {
        try
        {
            await inner.ClearStateAsync(stateName, grainId, grainState);
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
        if (grains.GrainContext is { } grain && grain.GrainId == grainId)
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

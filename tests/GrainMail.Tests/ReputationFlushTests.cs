using GrainMail.Contracts.Trust;
using GrainMail.Grains;
using GrainMail.Grains.Trust;
using GrainMail.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Orleans.Storage;

namespace GrainMail.Tests;

/// <summary>
/// The reputation grain writes its counts from a timer. A flush that meets the database away must leave them to a later
/// tick: before, it cleared its "changed" mark first, so the counts waited for the next message to be written, and
/// without one they were lost when the activation ended. On a real PostgreSQL closed to connections and opened again.
/// </summary>
public sealed class ReputationFlushTests(PostgresServer pg)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    /// <summary>The silo's grain storage as it is, counting the reputation writes that failed.</summary>
    private sealed class WatchedStorage(IGrainStorage inner) : IGrainStorage, ILifecycleParticipant<ISiloLifecycle>
    {
        private int _failed;

        public int FailedReputationWrites => Volatile.Read(ref _failed);

        public Task ReadStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState) => inner.ReadStateAsync(stateName, grainId, grainState);

        public async Task WriteStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
        {
            try
            {
                await inner.WriteStateAsync(stateName, grainId, grainState);
            }
            catch when (stateName == "reputation")
            {
                Interlocked.Increment(ref _failed);
                throw;
            }
        }

        public Task ClearStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState) => inner.ClearStateAsync(stateName, grainId, grainState);

        public void Participate(ISiloLifecycle lifecycle) => (inner as ILifecycleParticipant<ISiloLifecycle>)?.Participate(lifecycle);
    }

    [Fact]
    public async Task Counts_whose_flush_failed_reach_the_database_at_a_later_tick_without_a_new_message()
    {
        var db = await pg.NewDatabaseAsync("repflush");
        WatchedStorage? watched = null;
        await using var cluster = await TestSilos.StartAsync(db, services: s => s.AddSingleton(new ReputationFlush(TimeSpan.FromMilliseconds(500))), silo: silo =>
        {
            var s = silo.Services;
            var provider = s.Last(d => d.ServiceType == typeof(IGrainStorage) && d.IsKeyedService && Equals(d.ServiceKey, GrainStorage.Name));
            var create = provider.KeyedImplementationFactory!;
            s.Remove(provider);
            s.AddKeyedSingleton<IGrainStorage>(GrainStorage.Name, (sp, key) => watched = new WatchedStorage((IGrainStorage)create(sp, key)));
        });
        var grain = cluster.Client.GetGrain<IReputationGrain>("net:192.0.2.0/24");
        // Activated while the database is there: an activation reads its state.
        Assert.Equal(0, (await grain.Get()).Volume);

        // What the database holds for the grain (null while it cannot be read: pooled connections fail once after the reopening).
        async Task<ReputationState?> StoredAsync()
        {
            var read = new GrainState<ReputationState>(new ReputationState());
            try
            {
                await watched!.ReadStateAsync("reputation", grain.GetGrainId(), read);
            }
            catch (GrainMail.Contracts.StorageUnavailableException)
            {
                return null;
            }
            return read.State;
        }

        await pg.SetReachableAsync(db, reachable: false);
        try
        {
            await grain.Add(3, 1);
            await Eventually.Until(() => watched!.FailedReputationWrites > 0, TimeSpan.FromSeconds(30), "a flush failing", Ct);
        }
        finally
        {
            await pg.SetReachableAsync(db, reachable: true);
        }

        // No message is counted from here on: a later tick writes what the failed one could not.
        var stored = await Eventually.Value(StoredAsync, s => s is { Volume: > 0 }, TimeSpan.FromSeconds(30), "the counts in the database", Ct, TimeSpan.FromMilliseconds(200));
        Assert.InRange(stored!.Volume, 3.99, 4.0); // decayed by a few seconds of a 7-day half-life
        Assert.InRange(stored.Spam, 2.99, 3.0);
        Assert.InRange(stored.Ham, 0.99, 1.0);

        // The state written is the absolute counts: written again, nothing counts twice, and the next message adds one.
        await grain.Add(1, 0);
        stored = await Eventually.Value(StoredAsync, s => s is { Volume: > 4.5 }, TimeSpan.FromSeconds(30), "the next count in the database", Ct, TimeSpan.FromMilliseconds(200));
        Assert.InRange(stored!.Volume, 4.99, 5.0);
        Assert.InRange(stored.Spam, 3.99, 4.0);
        Assert.InRange((await grain.Get()).Volume, 4.99, 5.0);
    }
}

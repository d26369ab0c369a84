using GrainMail.Contracts;
using GrainMail.Contracts.Accounts;
using GrainMail.Gateways.Common;
using GrainMail.Grains;
using GrainMail.Tests.Infrastructure;
using Npgsql;
using Orleans.Storage;

namespace GrainMail.Tests;

/// <summary>
/// A grain call that meets the database going away (the failover drill's dying primary), on a real PostgreSQL whose
/// database stops taking connections: the caller hears <see cref="StorageUnavailableException"/> (Npgsql's own
/// exceptions cannot be sent back; Orleans used to hand over a CodecNotFoundException), and a retryable read is asked
/// again until the database is back.
/// </summary>
public sealed class StorageFailureTests(PostgresServer pg)
{
    [Fact]
    public async Task A_database_failure_crosses_to_the_caller_as_its_own_exception_and_a_retryable_read_waits_for_the_database()
    {
        var cs = await pg.NewDatabaseAsync("storefail");
        // The client retries as a gateway does.
        await using var cluster = await TestSilos.StartAsync(cs, client: c => c.AddOutgoingGrainCallFilter<SiloFailureRetry>());
        var policies = cluster.Client.GetGrain<ISecurityPolicyGrain>(0);
        Assert.Equal(SecurityPolicy.Default.MinLength, (await policies.GetPolicy("down.test")).MinLength);

        Task<SecurityPolicy> read;
        await pg.SetReachableAsync(cs, reachable: false);
        try
        {
            // A write is not asked again: its caller hears at once, with an exception it can tell apart.
            var e = await Assert.ThrowsAsync<StorageUnavailableException>(() => policies.SetPolicy("down.test",
                SecurityPolicy.Default with { MinLength = 12 }, new SecurityActor("admin@down.test", "admin", "127.0.0.1")));
            Assert.True(e.Transient, e.Message);

            // A read is: it has no answer while the database refuses connections (without the retry it failed at once).
            read = policies.GetPolicy("down.test");
            await Task.Delay(TimeSpan.FromSeconds(2), TestContext.Current.CancellationToken);
            Assert.False(read.IsCompleted, read.IsFaulted ? read.Exception!.ToString() : "answered while the database was away");
        }
        finally
        {
            await pg.SetReachableAsync(cs, reachable: true);
        }
        // ... and answers once the database is back; the write above stored nothing.
        Assert.Equal(SecurityPolicy.Default.MinLength, (await read).MinLength);
    }

    [Fact]
    public void Only_npgsql_failures_are_translated_and_their_transience_is_kept()
    {
        var refused = new NpgsqlException("Failed to connect to 127.0.0.1:5432", new System.Net.Sockets.SocketException(111));
        var translated = GrainMail.Grains.StorageFailureFilter.Translate(refused);
        Assert.NotNull(translated);
        Assert.True(translated.Transient);
        Assert.Contains("Failed to connect", translated.Message);
        // A multi-host connection string with no primary reachable (a failover before the promotion): Npgsql calls it
        // permanent, but it passes when the standby is promoted (the drill's logins met it).
        var noPrimary = new NpgsqlException("No suitable host was found.", new AggregateException(refused));
        Assert.True(GrainMail.Grains.StorageFailureFilter.Translate(noPrimary)!.Transient);
        // A constraint is not.
        Assert.False(GrainMail.Grains.StorageFailureFilter.Translate(new NpgsqlException("bad data"))!.Transient);
        // Inside another exception (a storage provider's wrapper), it cannot be sent back either.
        Assert.NotNull(GrainMail.Grains.StorageFailureFilter.Translate(new InvalidOperationException("wrapped", refused)));
        // Not a database failure: left as it is.
        Assert.Null(GrainMail.Grains.StorageFailureFilter.Translate(new InvalidOperationException("the grain refused")));
        Assert.Null(GrainMail.Grains.StorageFailureFilter.Translate(new TimeoutException("no answer")));
    }

    [Fact]
    public async Task The_grain_storage_translates_database_failures_and_ends_activations_whose_state_no_longer_matches()
    {
        var id = GrainId.Create("test", "g");
        var refused = new NpgsqlException("Failed to connect", new System.Net.Sockets.SocketException(111));

        // An activation's state read: the project's exception, an Orleans one so that the state bridge passes it unwrapped.
        var (storage, grain) = Storage(id, new object(), refused);
        var read = await Assert.ThrowsAsync<StorageUnavailableException>(() => storage.ReadStateAsync("s", id, new GrainState<int>(0)));
        Assert.True(read.Transient);
        Assert.IsAssignableFrom<OrleansException>(read);
        Assert.Equal(0, grain.Deactivations);

        // A failed version check ends any activation, also outside a grain call (a timer's write).
        (storage, grain) = Storage(id, new object(), new InconsistentStateException("stale etag"));
        await Assert.ThrowsAsync<InconsistentStateException>(() => storage.WriteStateAsync("s", id, new GrainState<int>(1)));
        Assert.Equal(1, grain.Deactivations);

        // A failure of the connection ends only a grain whose state in memory must match the row; another keeps its change.
        (storage, grain) = Storage(id, new object(), refused);
        await Assert.ThrowsAsync<StorageUnavailableException>(() => storage.WriteStateAsync("s", id, new GrainState<int>(1)));
        Assert.Equal(0, grain.Deactivations);
        (storage, grain) = Storage(id, new Marked(), refused);
        await Assert.ThrowsAsync<StorageUnavailableException>(() => storage.ClearStateAsync("s", id, new GrainState<int>(1)));
        Assert.Equal(1, grain.Deactivations);

        // Only the grain whose state it is.
        (storage, grain) = Storage(GrainId.Create("test", "other"), new Marked(), refused);
        await Assert.ThrowsAsync<StorageUnavailableException>(() => storage.WriteStateAsync("s", id, new GrainState<int>(1)));
        Assert.Equal(0, grain.Deactivations);
    }

    private static (StorageFailureGrainStorage, FakeGrain) Storage(GrainId current, object instance, Exception failure)
    {
        var context = System.Reflection.DispatchProxy.Create<IGrainContext, FakeGrain>();
        var grain = (FakeGrain)(object)context;
        grain.Id = current;
        grain.Instance = instance;
        return (new StorageFailureGrainStorage(new FailingStorage(failure), new Accessor(context)), grain);
    }

    [StepDownOnStorageFailure]
    private sealed class Marked;

    private sealed class Accessor(IGrainContext context) : IGrainContextAccessor
    {
        public IGrainContext GrainContext => context;
    }

    private sealed class FailingStorage(Exception failure) : IGrainStorage
    {
        public Task ReadStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState) => Task.FromException(failure);
        public Task WriteStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState) => Task.FromException(failure);
        public Task ClearStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState) => Task.FromException(failure);
    }

    /// <summary>The running grain, as the storage sees it: its id, its instance, and whether it was told to deactivate.</summary>
    public class FakeGrain : System.Reflection.DispatchProxy
    {
        public GrainId Id { get; set; }
        public object? Instance { get; set; }
        public int Deactivations { get; private set; }

        protected override object? Invoke(System.Reflection.MethodInfo? method, object?[]? args)
        {
            switch (method?.Name)
            {
                case "get_GrainId":
                    return Id;
                case "get_GrainInstance":
                    return Instance;
                case nameof(IGrainContext.Deactivate):
                    Deactivations++;
                    return null;
                default:
                    throw new NotSupportedException(method?.Name);
            }
        }
    }
}

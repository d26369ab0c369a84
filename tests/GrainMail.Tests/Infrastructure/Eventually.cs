namespace GrainMail.Tests.Infrastructure;

/// <summary>
/// The one way tests wait for something the system does on its own time (a delivery, a move,
/// a retry): poll a condition until it holds or the deadline passes, then fail with what was
/// awaited. A fixed sleep is never a synchronisation; this is.
/// </summary>
public static class Eventually
{
    private static readonly TimeSpan Poll = TimeSpan.FromMilliseconds(50);

    /// <summary>Waits until <paramref name="condition"/> holds; throws naming <paramref name="what"/> when it never does.</summary>
    public static async Task Until(Func<Task<bool>> condition, TimeSpan timeout, string what, CancellationToken ct = default)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            if (await condition()) return;
            if (DateTime.UtcNow >= deadline) throw new TimeoutException($"Waited {timeout.TotalSeconds:0.#} s for {what}");
            await Task.Delay(Poll, ct);
        }
    }

    public static Task Until(Func<bool> condition, TimeSpan timeout, string what, CancellationToken ct = default) =>
        Until(() => Task.FromResult(condition()), timeout, what, ct);

    /// <summary>Waits until <paramref name="read"/> gives a value that <paramref name="accept"/> takes, and returns it.</summary>
    public static async Task<T> Value<T>(Func<Task<T>> read, Func<T, bool> accept, TimeSpan timeout, string what, CancellationToken ct = default)
    {
        T value = default!;
        await Until(async () => accept(value = await read()), timeout, what, ct);
        return value;
    }
}

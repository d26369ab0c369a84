namespace GrainMail.Tests.Infrastructure;

/// <summary>
/// The one way tests wait for something the system does on its own time (a delivery, a move,
/// a retry): poll a condition until it holds or the deadline passes, then fail with what was
/// awaited. A fixed sleep is never a synchronisation; this is.
/// </summary>
public static class Eventually
{
    private static readonly TimeSpan DefaultPoll = TimeSpan.FromMilliseconds(50);

    /// <summary>
    /// Waits until <paramref name="condition"/> holds; throws naming <paramref name="what"/> when it never does.
    /// <paramref name="poll"/> spaces the checks out where one check is costly (many grain calls, a whole scrape).
    /// </summary>
    public static async Task Until(Func<Task<bool>> condition, TimeSpan timeout, string what, CancellationToken ct = default, TimeSpan? poll = null)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            if (await condition()) return;
            if (DateTime.UtcNow >= deadline) throw new TimeoutException($"Waited {timeout.TotalSeconds:0.#} s for {what}");
            await Task.Delay(poll ?? DefaultPoll, ct);
        }
    }

    public static Task Until(Func<bool> condition, TimeSpan timeout, string what, CancellationToken ct = default, TimeSpan? poll = null) =>
        Until(() => Task.FromResult(condition()), timeout, what, ct, poll);

    /// <summary>
    /// Waits until <paramref name="read"/> gives a value that <paramref name="accept"/> takes, and returns it;
    /// on timeout the message also shows the last value read, which is usually what explains the failure.
    /// </summary>
    public static async Task<T> Value<T>(Func<Task<T>> read, Func<T, bool> accept, TimeSpan timeout, string what, CancellationToken ct = default, TimeSpan? poll = null)
    {
        T value = default!;
        var seen = false;
        try
        {
            await Until(async () =>
            {
                value = await read();
                seen = true;
                return accept(value);
            }, timeout, what, ct, poll);
        }
        catch (TimeoutException e) when (seen)
        {
            throw new TimeoutException($"{e.Message}; last read: {Show(value)}", e);
        }
        return value;
    }

    /// <summary>
    /// The bounded form of "and nothing more happens": checks <paramref name="condition"/> for the whole
    /// <paramref name="window"/> and fails as soon as it stops holding. The window is deliberate waiting —
    /// there is no event for something that must not occur — but a violation fails at once.
    /// </summary>
    public static async Task HoldsFor(Func<Task<bool>> condition, TimeSpan window, string what, CancellationToken ct = default, TimeSpan? poll = null)
    {
        var end = DateTime.UtcNow + window;
        while (true)
        {
            if (!await condition()) throw new Xunit.Sdk.XunitException($"No longer {what} within {window.TotalSeconds:0.#} s");
            if (DateTime.UtcNow >= end) return;
            await Task.Delay(poll ?? DefaultPoll, ct);
        }
    }

    public static Task HoldsFor(Func<bool> condition, TimeSpan window, string what, CancellationToken ct = default, TimeSpan? poll = null) =>
        HoldsFor(() => Task.FromResult(condition()), window, what, ct, poll);

    private static string Show<T>(T value) => value switch
    {
        null => "null",
        string s => s.Length > 500 ? s[..500] + "…" : s,
        System.Collections.IEnumerable items => "[" + string.Join(", ", items.Cast<object?>().Take(20)) + "]",
        _ => value.ToString() ?? "",
    };
}

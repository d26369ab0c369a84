using System.Collections.Concurrent;
using System.Net;

namespace GrainMail.Gateways.Smtp.Session;

/// <summary>
/// Slows and stops directory harvesting (RCPT after RCPT to guess which users exist): after
/// <see cref="SmtpOptions.FreeUnknownRecipients"/> unknown recipients in a session each further
/// one waits longer (doubling from <see cref="SmtpOptions.TarpitDelay"/> up to
/// <see cref="SmtpOptions.MaxTarpitDelay"/>); past the per-session or per-address limit the
/// session ends with 421. Shared by all sessions of a listener family, so the per-address count
/// spans sessions within <see cref="SmtpOptions.UnknownRecipientWindow"/>.
/// </summary>
public sealed class RecipientHarvestGuard(SmtpOptions options, TimeProvider time)
{
    private readonly ConcurrentDictionary<IPAddress, Window> _perIp = new();

    private sealed class Window
    {
        public DateTimeOffset Start;
        public int Count;
    }

    /// <summary>What to do after an unknown recipient.</summary>
    /// <param name="Delay">Wait this long before answering 550.</param>
    /// <param name="Close">Answer 421 4.7.0 and end the session instead.</param>
    public readonly record struct Verdict(TimeSpan Delay, bool Close);

    /// <summary>Notes one more unknown recipient from <paramref name="remote"/>, the <paramref name="inSession"/>-th of its session.</summary>
    public Verdict NoteUnknown(IPAddress remote, int inSession)
    {
        var now = time.GetUtcNow();
        var window = _perIp.GetOrAdd(remote, _ => new Window { Start = now });
        int count;
        lock (window)
        {
            if (now - window.Start >= options.UnknownRecipientWindow)
            {
                window.Start = now;
                window.Count = 0;
            }
            count = ++window.Count;
        }
        if (_perIp.Count > 10_000) Prune(now);
        if (inSession > options.MaxUnknownRecipientsPerSession || count > options.MaxUnknownRecipientsPerIp) return new Verdict(TimeSpan.Zero, true);
        return new Verdict(DelayFor(inSession), false);
    }

    /// <summary>The tarpit before the answer to the <paramref name="inSession"/>-th unknown recipient of a session.</summary>
    public TimeSpan DelayFor(int inSession)
    {
        var over = inSession - options.FreeUnknownRecipients;
        if (over <= 0) return TimeSpan.Zero;
        var ticks = options.TarpitDelay.Ticks * Math.Pow(2, Math.Min(over - 1, 30));
        return TimeSpan.FromTicks((long)Math.Min(ticks, options.MaxTarpitDelay.Ticks));
    }

    // Forgets addresses whose window has passed, so that the map stays small under a scan from many addresses.
    private void Prune(DateTimeOffset now)
    {
        foreach (var (ip, w) in _perIp)
        {
            if (now - w.Start >= options.UnknownRecipientWindow) _perIp.TryRemove(ip, out _);
        }
    }
}

using System.Collections.Concurrent;
using System.Text.Json;
using GrainMail.Contracts.Accounts;
using GrainMail.Storage.Audit;
using GrainMail.Storage.Logins;
using Microsoft.Extensions.Logging;

namespace GrainMail.Grains.Accounts.Logins;

/// <summary>
/// The silo's <see cref="ILoginGuard"/>: the IP allow-lists before the secret is checked; after
/// every attempt the login record (queued, see <see cref="LoginRecorder"/>), the audit entry of a
/// refusal, the new-location notice and the lockout notice. Calls for one account come from its
/// grain one at a time, so the per-account memory here needs no lock of its own.
/// </summary>
public sealed class LoginGuard(
    LoginRules rules,
    LoginLocator locator,
    LoginRecorder recorder,
    LoginLogStore log,
    LoginNotices notices,
    AuditLog audit,
    LoginSecurityOptions options,
    TimeProvider clock,
    ILogger<LoginGuard> logger) : ILoginGuard
{
    // Places each account used recently (place → last successful login), loaded from the log once
    // and kept current here, so the check costs no query per login and sees logins still queued.
    private sealed class Places
    {
        public DateTimeOffset LoadedAt;
        public readonly Dictionary<string, DateTimeOffset> LastUsed = new(StringComparer.Ordinal);
    }

    private static readonly TimeSpan ReloadPlacesAfter = TimeSpan.FromHours(1);
    private const int MaxAccountsRemembered = 50_000;

    private readonly ConcurrentDictionary<string, Places> _places = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, DateTimeOffset> _lockNoticeSent = new(StringComparer.Ordinal);

    // HTTP Basic successes last recorded (account, address, client, acting-for → when).
    private readonly ConcurrentDictionary<string, DateTimeOffset> _basicRecorded = new(StringComparer.Ordinal);

    public async ValueTask<AuthResult?> BeforeVerifyAsync(string account, LoginAttempt attempt)
    {
        var denial = await rules.DenialAsync(account, attempt.RemoteIp);
        return denial is null ? null : new AuthResult(AuthOutcome.AddressNotAllowed, Reason: denial);
    }

    public async ValueTask AfterAttemptAsync(string account, LoginAttempt attempt, AuthResult result)
    {
        try
        {
            var place = locator.Locate(attempt.RemoteIp);
            var actingFor = result.ActsFor ??
                (attempt.AuthorizationIdentity is { Length: > 0 } authz && !string.Equals(authz, account, StringComparison.OrdinalIgnoreCase) ? authz : null);
            // The same Basic client again within the window: the login it continues is recorded already
            // (and its place with it), so no record, no place check. The password was checked all the same.
            if (result.Outcome == AuthOutcome.Success && attempt.Channel == LoginChannel.HttpBasic && RecordedRecently(account, attempt, actingFor)) return;
            var row = new LoginRow(clock.GetUtcNow(), account, actingFor, LoginResults.Channel(attempt.Channel), attempt.RemoteIp,
                attempt.ClientName, LoginResults.Of(result.Outcome), result.Reason, place.Country, place.Region, place.City);
            var refusal = result.Outcome == AuthOutcome.Success ? null : new AuditRecord(account, "user", attempt.RemoteIp,
                $"login.{row.Channel}", actingFor ?? account, row.Result, Detail(row));
            await recorder.RecordAsync(row, refusal);
            if (result.Outcome == AuthOutcome.Success && place.Known) await CheckNewPlaceAsync(account, row);
            if (result.Outcome == AuthOutcome.LockedOut && result.LockedUntil is { } until) await LockoutNoticeAsync(account, row, until);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // A record or a notice must never turn a login into an error.
            logger.LogError(e, "Login guard: recording the attempt of {Account} failed", account);
        }
    }

    private bool RecordedRecently(string account, LoginAttempt attempt, string? actingFor)
    {
        var window = options.RepeatedBasicLoginWindow;
        if (window <= TimeSpan.Zero) return false;
        var now = clock.GetUtcNow();
        var key = $"{account}\n{attempt.RemoteIp}\n{attempt.ClientName}\n{actingFor}";
        if (_basicRecorded.TryGetValue(key, out var at) && now - at < window) return true;
        if (_basicRecorded.Count >= MaxAccountsRemembered) _basicRecorded.Clear();
        _basicRecorded[key] = now;
        return false;
    }

    private async Task CheckNewPlaceAsync(string account, LoginRow row)
    {
        var now = row.At;
        var places = await PlacesOfAsync(account, now);
        var key = $"{row.Country}|{row.Region}|{row.City}";
        var known = places.LastUsed.TryGetValue(key, out var last) && now - last <= options.NewLocationWindow;
        var usedAnywhere = places.LastUsed.Values.Any(t => now - t <= options.NewLocationWindow);
        places.LastUsed[key] = now;
        // The first located login of an account is its baseline, not news.
        if (known || !usedAnywhere) return;
        await notices.NewLocationAsync(account, row);
        await audit.AppendAsync(new AuditRecord(account, "user", row.ClientIp, "login.new-location", row.ActingFor ?? account, "notified", Detail(row)));
    }

    private async Task<Places> PlacesOfAsync(string account, DateTimeOffset now)
    {
        if (_places.TryGetValue(account, out var cached) && now - cached.LoadedAt < ReloadPlacesAfter) return cached;
        if (_places.Count >= MaxAccountsRemembered)
        {
            foreach (var old in _places.Where(p => now - p.Value.LoadedAt >= ReloadPlacesAfter).Select(p => p.Key).ToList()) _places.TryRemove(old, out _);
        }
        var fresh = new Places { LoadedAt = now };
        foreach (var (place, at) in await log.RecentPlacesAsync(account, now - options.NewLocationWindow))
            fresh.LastUsed[$"{place.Country}|{place.Region}|{place.City}"] = at;
        // Logins seen here but perhaps not yet written.
        if (cached is not null)
        {
            foreach (var (k, at) in cached.LastUsed)
            {
                if (!fresh.LastUsed.TryGetValue(k, out var t) || t < at) fresh.LastUsed[k] = at;
            }
        }
        _places[account] = fresh;
        return fresh;
    }

    private async Task LockoutNoticeAsync(string account, LoginRow row, DateTimeOffset until)
    {
        // Every attempt during a lock answers LockedOut with the same end: one notice per lock.
        if (_lockNoticeSent.TryGetValue(account, out var sent) && sent == until) return;
        if (_lockNoticeSent.Count >= MaxAccountsRemembered) _lockNoticeSent.Clear();
        _lockNoticeSent[account] = until;
        await notices.LockoutAsync(account, row, until);
        await audit.AppendAsync(new AuditRecord("system", "system", row.ClientIp, "account.lockout", account, "locked",
            JsonSerializer.Serialize(new Dictionary<string, string> { ["until"] = until.ToString("O"), ["channel"] = row.Channel })));
    }

    private static string Detail(LoginRow row)
    {
        var d = new Dictionary<string, string?>
        {
            ["channel"] = row.Channel,
            ["client"] = row.ClientName,
            ["reason"] = row.Reason,
            ["actingFor"] = row.ActingFor,
            ["place"] = row.Country is null ? null : LoginNotices.PlaceText(row),
        };
        return JsonSerializer.Serialize(d.Where(kv => kv.Value is not null).ToDictionary(kv => kv.Key, kv => kv.Value));
    }
}

using System.Security.Cryptography;
using GrainMail.Contracts.Accounts;
using GrainMail.Grains.Regions;
using Microsoft.Extensions.Logging;

namespace GrainMail.Grains.Accounts;

[GenerateSerializer]
public sealed class AccountState
{
    [Id(0)] public bool Exists { get; set; }
    [Id(1)] public string PasswordHash { get; set; } = "";
    [Id(2)] public string? DisplayName { get; set; }
    [Id(3)] public bool Enabled { get; set; }
    [Id(4)] public long QuotaBytes { get; set; }
    [Id(5)] public List<AppPassword> AppPasswords { get; set; } = [];
    [Id(6)] public DateTimeOffset CreatedAt { get; set; }
    [Id(7)] public DateTimeOffset? LockedUntil { get; set; }
    // Ids 8-19: two-factor and password policy; 20-29: login security and delegation.  Keep the ranges so parallel work does not collide.
    /// <summary>Two-factor, password history, secondary address, reset token (AccountGrain.TwoFactor.cs).</summary>
    [Id(8)] public AccountSecurityState? Security { get; set; }
}

[GenerateSerializer]
public sealed record AppPassword([property: Id(0)] string Name, [property: Id(1)] string Hash, [property: Id(2)] DateTimeOffset CreatedAt);

/// <summary>Authentication lockout policy, shared by every protocol that logs in.</summary>
public sealed class LockoutOptions
{
    public int MaxFailures { get; set; } = 10;
    public TimeSpan Window { get; set; } = TimeSpan.FromMinutes(15);
    public TimeSpan LockFor { get; set; } = TimeSpan.FromMinutes(15);

    /// <summary>
    /// How long a secret that verified stays known to the account's activation, so that a phone
    /// opening its fifth IMAP connection does not cost another Argon2 hash. Zero turns it off.
    /// </summary>
    public TimeSpan VerifiedSecretLifetime { get; set; } = TimeSpan.FromMinutes(10);
}

[HomeRegionPlacement]
[StepDownOnStorageFailure]
public sealed partial class AccountGrain(
    [PersistentState("account", GrainStorage.Name)] IPersistentState<AccountState> state,
    PasswordHasher hasher,
    LockoutOptions lockout,
    TimeProvider clock,
    ILogger<AccountGrain> logger,
    HomeRegionKeeper keeper,
    ILoginGuard guard,
    GrainMail.Storage.Organization.DirectoryStore directory) : Grain, IAccountGrain
{
    public Task<GrainMail.Contracts.Regions.GrainLocation> Locate() => Task.FromResult(keeper.Here());

    public override async Task OnActivateAsync(CancellationToken cancellationToken)
    {
        keeper.Watch(this, this.GetPrimaryKeyString());
        await StorageFailureFilter.Activating(SealClearSecretsAsync);
    }

    // Failures are counted in memory: a lock, once decided, is persisted.
    private readonly Queue<DateTimeOffset> _failures = new();

    // Secrets that verified recently, as HMACs under a key that lives and dies with this
    // activation (never stored, never the secret itself). Emptied by every credential change.
    private readonly byte[] _cacheKey = RandomNumberGenerator.GetBytes(32);
    private readonly Dictionary<string, (DateTimeOffset Expires, string? App)> _verified = [];

    private AccountState S => state.State;

    /// <summary>
    /// An account a CSV import created has a directory row but no grain state yet (no grain call
    /// per row): it takes its state from the row when first asked, with the PHC hash the import
    /// gave or with no usable password at all.
    /// </summary>
    private async Task AdoptAsync()
    {
        if (S.Exists) return;
        var address = this.GetPrimaryKeyString();
        var at = address.LastIndexOf('@');
        if (at <= 0) return;
        var row = await directory.FindProvisionedAsync(address[(at + 1)..], address[..at]);
        if (row is null) return;
        state.State = new AccountState
        {
            Exists = true,
            PasswordHash = row.PasswordHash ?? "",
            DisplayName = row.DisplayName,
            Enabled = row.Enabled,
            QuotaBytes = row.QuotaBytes,
            CreatedAt = row.CreatedAt,
        };
        await state.WriteStateAsync();
    }

    public async Task<AccountInfo?> GetInfo()
    {
        await AdoptAsync();
        return S.Exists
            ? new AccountInfo(this.GetPrimaryKeyString(), S.DisplayName, S.Enabled, S.QuotaBytes,
                S.AppPasswords.Select(a => a.Name).ToList(), S.CreatedAt)
            : null;
    }

    public async Task<bool> Create(string password, string? displayName, long quotaBytes)
    {
        if (S.Exists) return false;
        state.State = new AccountState
        {
            Exists = true,
            PasswordHash = await hasher.HashAsync(password),
            DisplayName = displayName,
            Enabled = true,
            QuotaBytes = quotaBytes,
            CreatedAt = clock.GetUtcNow(),
        };
        ForgetCheckedCredentials();
        await state.WriteStateAsync();
        return true;
    }

    public async Task<bool> Delete()
    {
        await AdoptAsync();
        if (!S.Exists) return false;
        ForgetCheckedCredentials();
        await state.ClearStateAsync();
        state.State = new AccountState();
        await ForgetLoginSecurityAsync();
        return true;
    }

    public async Task<bool> SetPassword(string password)
    {
        await AdoptAsync();
        if (!S.Exists) return false;
        S.PasswordHash = await hasher.HashAsync(password);
        S.LockedUntil = null;
        _failures.Clear();
        ForgetCheckedCredentials();
        await state.WriteStateAsync();
        await EndSessionsAfterAsync(MailSessionEndReason.PasswordChanged);
        return true;
    }

    public async Task<bool> SetEnabled(bool enabled)
    {
        await AdoptAsync();
        if (!S.Exists) return false;
        S.Enabled = enabled;
        ForgetCheckedCredentials();
        await state.WriteStateAsync();
        if (!enabled) await EndSessionsAfterAsync(MailSessionEndReason.AccountDisabled);
        return true;
    }

    public async Task<AuthResult> Authenticate(LoginAttempt attempt)
    {
        // The same attempt again: the retry filter resends a call whose answer was lost (its gateway silo killed, a
        // timeout while this activation lived on). It gets the first answer, and nothing is counted or recorded twice.
        // (A retry that reaches a new activation finds no count to double: failures are counted in memory.)
        var fingerprint = Fingerprint(attempt);
        if (attempt.AttemptId != Guid.Empty && _answered.TryGetValue(attempt.AttemptId, out var earlier)
            && earlier.Expires > clock.GetUtcNow() && earlier.Fingerprint == fingerprint)
            return earlier.Result;
        var account = this.GetPrimaryKeyString();
        var result = await guard.BeforeVerifyAsync(account, attempt) ?? await CheckAsync(attempt);
        if (result.Outcome == AuthOutcome.Success) result = await AuthorizeForAsync(attempt, result);
        await guard.AfterAttemptAsync(account, attempt, result);
        if (attempt.AttemptId != Guid.Empty) Answered(attempt.AttemptId, fingerprint, result);
        return result;
    }

    // Answers by attempt id, kept longer than a caller keeps retrying (SiloFailureRetry.Budget, 45 s) plus a call's
    // timeout. Each with a keyed hash of what was asked, so an id can only ever fetch the answer to its own attempt.
    private readonly Dictionary<Guid, (DateTimeOffset Expires, string Fingerprint, AuthResult Result)> _answered = [];
    private static readonly TimeSpan AnswerKept = TimeSpan.FromMinutes(2);
    private const int AnswersKept = 64;

    /// <summary>Credentials or the account changed: neither a cached password check nor an answer given to an attempt
    /// before stands any more (a repeat of an old attempt is checked afresh).</summary>
    private void ForgetCheckedCredentials()
    {
        _verified.Clear();
        _answered.Clear();
    }

    private void Answered(Guid attemptId, string fingerprint, AuthResult result)
    {
        var now = clock.GetUtcNow();
        if (_answered.Count >= AnswersKept)
        {
            foreach (var old in _answered.Where(a => a.Value.Expires <= now).Select(a => a.Key).ToList()) _answered.Remove(old);
            // A flood of attempts on one account: forgetting costs only the dedup of a retry within seconds.
            if (_answered.Count >= AnswersKept) _answered.Clear();
        }
        _answered[attemptId] = (now + AnswerKept, fingerprint, result);
    }

    private string Fingerprint(LoginAttempt a) => Convert.ToHexString(HMACSHA256.HashData(_cacheKey, System.Text.Encoding.UTF8.GetBytes(
        string.Join('\n', a.Secret, a.TotpCode, a.Channel, a.RemoteIp, a.ClientName, a.AuthorizationIdentity))));

    private async Task<AuthResult> CheckAsync(LoginAttempt attempt)
    {
        var secret = attempt.Secret;
        var remote = attempt.RemoteIp;
        await AdoptAsync();
        if (!S.Exists) return new AuthResult(AuthOutcome.NoSuchAccount);
        var now = clock.GetUtcNow();
        if (S.LockedUntil is { } until && until > now) return new AuthResult(AuthOutcome.LockedOut, LockedUntil: until);
        if (!S.Enabled) return new AuthResult(AuthOutcome.Disabled);

        var key = Convert.ToHexString(HMACSHA256.HashData(_cacheKey, System.Text.Encoding.UTF8.GetBytes(secret)));
        if (_verified.TryGetValue(key, out var known))
        {
            if (known.Expires > now) return await SecondStepAsync(attempt, known.App, now);
            _verified.Remove(key);
        }
        if (await hasher.VerifyAsync(secret, S.PasswordHash))
        {
            Remember(key, now, null);
            await JudgeAtLoginAsync(secret);
            return await SecondStepAsync(attempt, null, now);
        }
        foreach (var app in S.AppPasswords)
        {
            if (await hasher.VerifyAsync(NormalizeAppPassword(secret), app.Hash))
            {
                Remember(key, now, app.Name);
                return await SecondStepAsync(attempt, app.Name, now);
            }
        }
        return await CountFailureAsync(now, remote);
    }

    /// <summary>One failed attempt towards the lockout; the answer for it.</summary>
    private async Task<AuthResult> CountFailureAsync(DateTimeOffset now, string remote)
    {
        while (_failures.Count > 0 && now - _failures.Peek() > lockout.Window) _failures.Dequeue();
        _failures.Enqueue(now);
        if (_failures.Count >= lockout.MaxFailures)
        {
            S.LockedUntil = now + lockout.LockFor;
            _failures.Clear();
            await state.WriteStateAsync();
            logger.LogWarning("Account {Address} locked until {Until} after repeated failures (last from {Remote})",
                this.GetPrimaryKeyString(), S.LockedUntil, remote);
            return new AuthResult(AuthOutcome.LockedOut, LockedUntil: S.LockedUntil);
        }
        return new AuthResult(AuthOutcome.BadCredentials);
    }

    public async Task<string?> CreateAppPassword(string name)
    {
        await AdoptAsync();
        if (!S.Exists) return null;
        // 16 letters from a 24-letter alphabet without look-alikes: about 73 bits, typed in groups of four.
        const string alphabet = "abcdefghjkmnpqrstuvwxyz";
        var chars = new char[16];
        for (var i = 0; i < chars.Length; i++) chars[i] = alphabet[RandomNumberGenerator.GetInt32(alphabet.Length)];
        var plain = new string(chars);
        S.AppPasswords.RemoveAll(a => a.Name == name);
        S.AppPasswords.Add(new AppPassword(name, await hasher.HashAsync(plain), clock.GetUtcNow()));
        await state.WriteStateAsync();
        return string.Join('-', plain.Chunk(4).Select(c => new string(c)));
    }

    public async Task<AppPasswordStatus> RevokeAppPassword(string name)
    {
        await AdoptAsync();
        if (!S.Exists) return AppPasswordStatus.NoSuchAccount;
        if (S.AppPasswords.RemoveAll(a => a.Name == name) == 0) return AppPasswordStatus.NotFound;
        ForgetCheckedCredentials();
        await state.WriteStateAsync();
        await EndSessionsAfterAsync(MailSessionEndReason.AppPasswordRevoked, name);
        return AppPasswordStatus.Revoked;
    }

    // Clients show app passwords in groups ("abcd-efgh-…"); accept them typed with or without dashes or spaces.
    private static string NormalizeAppPassword(string s) => s.Replace("-", "").Replace(" ", "").ToLowerInvariant();

    private AuthResult Remember(string key, DateTimeOffset now, string? appPassword)
    {
        if (lockout.VerifiedSecretLifetime > TimeSpan.Zero)
        {
            if (_verified.Count >= 16) _verified.Clear();
            _verified[key] = (now + lockout.VerifiedSecretLifetime, appPassword);
        }
        // Not a success yet: the second step decides (and only a success clears the failure count,
        // or a known password would reset it before every guessed TOTP code).
        return new AuthResult(AuthOutcome.Success, appPassword);
    }

    private AuthResult Succeeded(string? appPassword)
    {
        _failures.Clear();
        return new AuthResult(AuthOutcome.Success, appPassword);
    }
}

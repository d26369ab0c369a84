using GrainMail.Contracts.Accounts;
using GrainMail.Contracts.Domains;
using GrainMail.Grains.Accounts;
using GrainMail.Tests.Infrastructure;

namespace GrainMail.Tests;

public sealed class AccountTests(PostgresServer pg)
{
    [Fact]
    public void Argon2id_hashes_verify_only_the_right_password_and_carry_their_parameters()
    {
        var hasher = new PasswordHasher(new PasswordHashOptions { MemoryKiB = 1024, Iterations = 1 });
        var h = hasher.Hash("correct horse");
        Assert.StartsWith("$argon2id$v=19$m=1024,t=1,p=1$", h);
        Assert.NotEqual(h, hasher.Hash("correct horse")); // salted
        Assert.True(hasher.Verify("correct horse", h));
        Assert.False(hasher.Verify("correct horsE", h));
        Assert.False(hasher.Verify("correct horse", "$md5$abc"));
        // A hash made with other cost settings still verifies.
        Assert.True(new PasswordHasher(new PasswordHashOptions { MemoryKiB = 2048, Iterations = 2 }).Verify("correct horse", h));
    }

    [Fact]
    public async Task Passwords_app_passwords_and_lockout()
    {
        await using var cluster = await TestSilos.StartAsync(await pg.NewDatabaseAsync("acct"));
        var domain = cluster.Client.GetGrain<IDomainGrain>("acct.test");
        await domain.Create(DomainSettings.Default("local"));
        await domain.CreateAccount(new NewAccount("ann", "first password", "Ann", null));
        var ann = cluster.Client.GetGrain<IAccountGrain>("ann@acct.test");

        Assert.Equal(AuthOutcome.Success, (await ann.Authenticate(new LoginAttempt("first password", LoginChannel.Imap, "127.0.0.1"))).Outcome);
        Assert.Equal(AuthOutcome.BadCredentials, (await ann.Authenticate(new LoginAttempt("wrong", LoginChannel.Imap, "127.0.0.1"))).Outcome);
        Assert.Equal(AuthOutcome.NoSuchAccount, (await cluster.Client.GetGrain<IAccountGrain>("nobody@acct.test").Authenticate(new LoginAttempt("x", LoginChannel.Imap, "127.0.0.1"))).Outcome);

        var app = (await ann.CreateAppPassword("mail client"))!;
        var ok = await ann.Authenticate(new LoginAttempt(app, LoginChannel.Imap, "127.0.0.1"));
        Assert.Equal(AuthOutcome.Success, ok.Outcome);
        Assert.Equal("mail client", ok.AppPasswordName);
        Assert.Equal(AuthOutcome.Success, (await ann.Authenticate(new LoginAttempt(app.Replace("-", "").ToUpperInvariant(), LoginChannel.Imap, "127.0.0.1"))).Outcome);
        Assert.Equal(AppPasswordStatus.Revoked, await ann.RevokeAppPassword("mail client"));
        Assert.Equal(AuthOutcome.BadCredentials, (await ann.Authenticate(new LoginAttempt(app, LoginChannel.Imap, "127.0.0.1"))).Outcome);

        Assert.True(await ann.SetPassword("second password"));
        Assert.Equal(AuthOutcome.BadCredentials, (await ann.Authenticate(new LoginAttempt("first password", LoginChannel.Imap, "127.0.0.1"))).Outcome);

        // Ten failures lock the account; even the right password is refused while locked, and the lock is persisted.
        for (var i = 0; i < 8; i++) await ann.Authenticate(new LoginAttempt("guess" + i, LoginChannel.Imap, "192.0.2.66"));
        var locked = await ann.Authenticate(new LoginAttempt("guess-last", LoginChannel.Imap, "192.0.2.66"));
        Assert.Equal(AuthOutcome.LockedOut, locked.Outcome);
        Assert.NotNull(locked.LockedUntil);
        await cluster.DeactivateAsync(ann);
        Assert.Equal(AuthOutcome.LockedOut, (await ann.Authenticate(new LoginAttempt("second password", LoginChannel.Imap, "127.0.0.1"))).Outcome);

        Assert.True(await ann.SetEnabled(false));
    }

    [Fact]
    public async Task The_same_attempt_asked_again_gets_the_first_answer_and_counts_once_towards_the_lockout()
    {
        await using var cluster = await TestSilos.StartAsync(await pg.NewDatabaseAsync("acctretry"));
        var domain = cluster.Client.GetGrain<IDomainGrain>("retry.test");
        await domain.Create(DomainSettings.Default("local"));
        await domain.CreateAccount(new NewAccount("bob", "right password", "Bob", null));
        var bob = cluster.Client.GetGrain<IAccountGrain>("bob@retry.test");

        // What the retry filter does when an answer is lost: the same request (the same attempt id) again. Asked more
        // often than the lockout's ten failures, it is still one wrong password.
        var guess = new LoginAttempt("wrong", LoginChannel.Imap, "192.0.2.7");
        for (var i = 0; i < 12; i++) Assert.Equal(AuthOutcome.BadCredentials, (await bob.Authenticate(guess)).Outcome);
        Assert.Equal(AuthOutcome.Success, (await bob.Authenticate(new LoginAttempt("right password", LoginChannel.Imap, "192.0.2.7"))).Outcome);

        // The id fetches only its own attempt's answer: the right password under a wrong attempt's id is checked afresh.
        Assert.Equal(AuthOutcome.Success, (await bob.Authenticate(guess with { Secret = "right password" })).Outcome);
        var success = new LoginAttempt("right password", LoginChannel.Imap, "192.0.2.7");
        Assert.Equal(AuthOutcome.Success, (await bob.Authenticate(success)).Outcome);
        Assert.Equal(AuthOutcome.BadCredentials, (await bob.Authenticate(success with { Secret = "wrong again" })).Outcome);

        // Distinct attempts still count each: ten lock the account.
        for (var i = 0; i < 9; i++) await bob.Authenticate(new LoginAttempt("guess" + i, LoginChannel.Imap, "192.0.2.7"));
        Assert.Equal(AuthOutcome.LockedOut, (await bob.Authenticate(new LoginAttempt("guess-last", LoginChannel.Imap, "192.0.2.7"))).Outcome);
    }
}

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

        Assert.Equal(AuthOutcome.Success, (await ann.Authenticate("first password", "test")).Outcome);
        Assert.Equal(AuthOutcome.BadCredentials, (await ann.Authenticate("wrong", "test")).Outcome);
        Assert.Equal(AuthOutcome.NoSuchAccount, (await cluster.Client.GetGrain<IAccountGrain>("nobody@acct.test").Authenticate("x", "test")).Outcome);

        var app = (await ann.CreateAppPassword("mail client"))!;
        var ok = await ann.Authenticate(app, "test");
        Assert.Equal(AuthOutcome.Success, ok.Outcome);
        Assert.Equal("mail client", ok.AppPasswordName);
        Assert.Equal(AuthOutcome.Success, (await ann.Authenticate(app.Replace("-", "").ToUpperInvariant(), "test")).Outcome);
        Assert.Equal(AppPasswordStatus.Revoked, await ann.RevokeAppPassword("mail client"));
        Assert.Equal(AuthOutcome.BadCredentials, (await ann.Authenticate(app, "test")).Outcome);

        Assert.True(await ann.SetPassword("second password"));
        Assert.Equal(AuthOutcome.BadCredentials, (await ann.Authenticate("first password", "test")).Outcome);

        // Ten failures lock the account; even the right password is refused while locked, and the lock is persisted.
        for (var i = 0; i < 8; i++) await ann.Authenticate("guess" + i, "attacker");
        var locked = await ann.Authenticate("guess-last", "attacker");
        Assert.Equal(AuthOutcome.LockedOut, locked.Outcome);
        Assert.NotNull(locked.LockedUntil);
        await cluster.DeactivateAsync(ann);
        Assert.Equal(AuthOutcome.LockedOut, (await ann.Authenticate("second password", "test")).Outcome);

        Assert.True(await ann.SetEnabled(false));
    }
}

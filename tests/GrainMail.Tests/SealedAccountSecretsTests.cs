using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using GrainMail.Contracts.Accounts;
using GrainMail.Contracts.Domains;
using GrainMail.Grains;
using GrainMail.Grains.Accounts;
using GrainMail.Storage.Blobs;
using GrainMail.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using Orleans.Storage;
using OtpNet;

namespace GrainMail.Tests;

/// <summary>
/// The TOTP key and the secondary address are kept sealed under the master key (issue 16): a
/// database operator reads neither in the grain-state table, and state an older version wrote in
/// clear is sealed when the account first activates, with the key still working.
/// </summary>
public sealed class SealedAccountSecretsTests(AccountSecurityFixture f, PostgresServer pg) : IClassFixture<AccountSecurityFixture>
{
    [Fact]
    public async Task Neither_the_totp_key_nor_the_secondary_address_is_readable_in_the_database()
    {
        var d = await f.NewDomain();
        var ada = await f.NewAccount(d, "ada");
        var spare = await f.NewAccount(d, $"spare{Guid.NewGuid():N}"[..16]);
        using var me = f.User(ada);
        // The address first: once two-factor is on, the account password no longer opens the API by itself.
        Assert.Equal(HttpStatusCode.Accepted, (await me.PutAsJsonAsync("/api/v1/me/secondary-address", new { address = spare })).StatusCode);
        var begin = await (await me.PostAsync("/api/v1/me/two-factor", null)).Content.ReadFromJsonAsync<JsonElement>();
        var secret = begin.GetProperty("secret").GetString()!;
        Assert.Equal(HttpStatusCode.NoContent, (await me.PostAsJsonAsync("/api/v1/me/two-factor/confirm", new { code = f.Code(secret) })).StatusCode);
        // The account really holds both: two-factor is on, and the verification mail reached the secondary address.
        await f.WaitForMail(spare, AccountSecurityFixture.Password, "Confirm your secondary address");

        await using var ds = NpgsqlDataSource.Create(f.ConnectionString);
        var states = await Payloads(ds);
        Assert.NotEmpty(states);
        foreach (var clear in new[] { Encoding.ASCII.GetBytes(secret), Base32Encoding.ToBytes(secret), Encoding.UTF8.GetBytes(spare) })
            Assert.DoesNotContain(states, s => s.AsSpan().IndexOf(clear) >= 0);
        // The audit entry says an address was set, with a hint of it only.
        await using var cmd = ds.CreateCommand("SELECT detail FROM audit_log WHERE action = 'account.secondary-address' AND target = @a");
        cmd.Parameters.AddWithValue("a", ada);
        var detail = (string)(await cmd.ExecuteScalarAsync())!;
        Assert.DoesNotContain(spare, detail);
        Assert.Equal($"s…@{d}", JsonDocument.Parse(detail).RootElement.GetProperty("address").GetString());
    }

    [Fact]
    public async Task Secrets_an_older_version_kept_in_clear_are_sealed_when_the_account_activates()
    {
        var cs = await pg.NewDatabaseAsync("sealmig");
        await using var cluster = await TestSilos.StartAsync(cs);
        const string domain = "sealing.test", address = "olga@sealing.test", secondary = "olga.private@elsewhere.test";
        var domainGrain = cluster.Client.GetGrain<IDomainGrain>(domain);
        await domainGrain.Create(DomainSettings.Default("local"));
        Assert.Equal(DomainOpStatus.Ok, (await domainGrain.CreateAccount(new NewAccount("olga", "password1", null, null))).Status);

        // The account's state as the previous version wrote it: key and address in clear.
        var services = cluster.GetSiloServiceProvider(cluster.Silos[0].SiloAddress);
        var storage = services.GetRequiredKeyedService<IGrainStorage>(GrainStorage.Name);
        var grainId = cluster.Client.GetGrain<IAccountGrain>(address).GetGrainId();
        var secret = Base32Encoding.ToString(KeyGeneration.GenerateRandomKey(20));
        var legacy = new GrainState<AccountState>();
        await storage.ReadStateAsync("account", grainId, legacy);
        Assert.True(legacy.State is { Exists: true });
        legacy.State!.Security = new AccountSecurityState { TotpSecret = secret, SecondaryAddress = secondary, SecondaryVerified = true };
        await storage.WriteStateAsync("account", grainId, legacy);
        // The account grain starts afresh on the written state.
        await cluster.Client.GetGrain<IManagementGrain>(0).ForceActivationCollection(TimeSpan.Zero);
        await using var ds = NpgsqlDataSource.Create(cs);
        Assert.Contains(await Payloads(ds), s => s.AsSpan().IndexOf(Encoding.ASCII.GetBytes(secret)) >= 0); // the test's premise

        var account = cluster.Client.GetGrain<IAccountSecurityGrain>(address);
        Assert.True((await account.GetTwoFactorStatus())!.Enabled);

        var after = new GrainState<AccountState>();
        await storage.ReadStateAsync("account", grainId, after);
        var sec = after.State!.Security!;
        Assert.Equal((null, null), (sec.TotpSecret, sec.SecondaryAddress));
        var keys = services.GetRequiredService<KeyRing>();
        Assert.Equal(secondary, keys.OpenText(domain, $"secondary-address:{address}", sec.SealedSecondaryAddress!));
        Assert.True(sec.SecondaryVerified);
        foreach (var clear in new[] { Encoding.ASCII.GetBytes(secret), Encoding.UTF8.GetBytes(secondary) })
            Assert.DoesNotContain(await Payloads(ds), s => s.AsSpan().IndexOf(clear) >= 0);

        // The sealed key is the same key: a code from it turns two-factor off.
        var code = new Totp(Base32Encoding.ToBytes(secret)).ComputeTotp(DateTime.UtcNow);
        Assert.Equal(TwoFactorOpStatus.Ok, (await account.DisableTwoFactor(code, new SecurityActor(address, "user", "127.0.0.1"))).Status);
        Assert.False((await account.GetTwoFactorStatus())!.Enabled);
    }

    /// <summary>Every grain state as stored (the Orleans storage table).</summary>
    private static async Task<List<byte[]>> Payloads(NpgsqlDataSource ds)
    {
        await using var cmd = ds.CreateCommand("SELECT payload_binary FROM orleans_storage WHERE payload_binary IS NOT NULL");
        await using var r = await cmd.ExecuteReaderAsync();
        var list = new List<byte[]>();
        while (await r.ReadAsync()) list.Add(r.GetFieldValue<byte[]>(0));
        return list;
    }
}

using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Npgsql;

namespace GrainMail.Tests.Infrastructure;

/// <summary>
/// A real host for the delegated-administration and integration tests, with its database at
/// hand (to seed the directory and to age sessions), and the HTTP helpers those tests share.
/// </summary>
public sealed class AdminAccessFixture : IAsyncLifetime
{
    public const string Password = "correct horse battery";

    public HostProcess Host { get; private set; } = null!;
    public string ConnectionString { get; private set; } = "";
    public DirectorySeed Directory { get; private set; } = null!;

    public HttpClient Super => Host.Http;

    public async ValueTask InitializeAsync()
    {
        var pg = (await TestContext.Current.GetFixture<PostgresServer>())!;
        ConnectionString = await pg.NewDatabaseAsync("adminaccess");
        Directory = new DirectorySeed(ConnectionString);
        Host = await HostProcess.StartAsync(ConnectionString, Path.Combine(pg.Root, $"admin-access-{Guid.NewGuid():N}"), HostProcess.Ports.Free());
    }

    public async ValueTask DisposeAsync() => await Host.DisposeAsync();

    public static StringContent Json(object o) => new(JsonSerializer.Serialize(o), Encoding.UTF8, "application/json");

    /// <summary>A client with no credentials, or with the given bearer token.</summary>
    public HttpClient Client(string? token = null)
    {
        var c = new HttpClient { BaseAddress = new Uri(Host.BaseUrl), Timeout = TimeSpan.FromSeconds(60) };
        if (token is not null) c.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        return c;
    }

    public async Task<string> NewDomain(string prefix = "d")
    {
        var name = $"{prefix}{Guid.NewGuid():N}"[..12] + ".test";
        var r = await Super.PostAsync("/api/v1/domains", Json(new { name }));
        Assert.Equal(HttpStatusCode.Created, r.StatusCode);
        return name;
    }

    public async Task<string> NewAccount(string domain, string localPart, long? departmentId = null)
    {
        var r = await Super.PostAsync($"/api/v1/domains/{domain}/accounts", Json(new { localPart, password = Password }));
        Assert.Equal(HttpStatusCode.Created, r.StatusCode);
        if (departmentId is { } d) await Directory.AccountAsync(domain, localPart, d);
        return $"{localPart}@{domain}";
    }

    /// <summary>Grants a role as the super admin; returns its id.</summary>
    public async Task<long> Grant(string account, string role, string domain, long? departmentId = null)
    {
        var r = await Super.PostAsync("/api/v1/roles", Json(new { account, role, domain, departmentId }));
        Assert.Equal(HttpStatusCode.Created, r.StatusCode);
        return (await r.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetInt64();
    }

    public async Task<HttpResponseMessage> Login(string address, string password = Password)
    {
        using var anon = Client();
        return await anon.PostAsync("/api/v1/sessions", Json(new { address, password }));
    }

    /// <summary>Logs in and returns the session token.</summary>
    public async Task<string> Token(string address)
    {
        var r = await Login(address);
        Assert.Equal(HttpStatusCode.Created, r.StatusCode);
        return (await r.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("token").GetString()!;
    }

    /// <summary>Runs <c>./grainmail ARGS</c> against the host, with <paramref name="sessionToken"/> as GRAINMAIL_TOKEN when given.</summary>
    public Task<CliResult> Cli(string? sessionToken, params string[] args)
    {
        var env = new Dictionary<string, string> { ["GRAINMAIL_HTTP"] = Host.BaseUrl, ["GRAINMAIL_ADMIN_TOKEN"] = HostProcess.Token };
        if (sessionToken is not null) env["GRAINMAIL_TOKEN"] = sessionToken;
        return GrainmailCli.Run(env, args);
    }

    public async Task<int> Sql(string sql, params (string Name, object Value)[] parameters)
    {
        await using var ds = NpgsqlDataSource.Create(ConnectionString);
        await using var cmd = ds.CreateCommand(sql);
        foreach (var (n, v) in parameters) cmd.Parameters.AddWithValue(n, v);
        return await cmd.ExecuteNonQueryAsync();
    }

    /// <summary>Asserts an RFC 9457 problem document with <paramref name="status"/>; returns it.</summary>
    public static async Task<JsonElement> AssertProblem(HttpResponseMessage r, HttpStatusCode status)
    {
        var text = await r.Content.ReadAsStringAsync();
        Assert.True(status == r.StatusCode, $"expected {(int)status}, got {(int)r.StatusCode}: {text}");
        Assert.Equal("application/problem+json", r.Content.Headers.ContentType?.MediaType);
        var doc = JsonDocument.Parse(text).RootElement;
        Assert.Equal((int)status, doc.GetProperty("status").GetInt32());
        return doc;
    }
}

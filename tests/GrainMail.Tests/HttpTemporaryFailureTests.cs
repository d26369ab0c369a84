using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using GrainMail.Tests.Infrastructure;

namespace GrainMail.Tests;

/// <summary>
/// The HTTP side of a database failover, on a real host process and a real PostgreSQL whose database stops taking
/// connections: a request whose grain call meets the database away is answered 503 with Retry-After and a problem
/// document (a client tries again), not an empty 500 (the request's fault), and the same request succeeds once the
/// database is back.
/// </summary>
public sealed class HttpTemporaryFailureTests(PostgresServer pg)
{
    [Fact]
    public async Task An_admin_write_while_the_database_is_away_is_answered_503_with_retry_after_and_succeeds_once_it_is_back()
    {
        var cs = await pg.NewDatabaseAsync("http503");
        await using var host = await HostProcess.StartAsync(cs, Path.Combine(pg.Root, "http503-host"), HostProcess.Ports.Free());
        var ct = TestContext.Current.CancellationToken;
        Assert.Equal(HttpStatusCode.Created, (await host.Http.PostAsJsonAsync("/api/v1/domains", new { name = "before.test" }, ct)).StatusCode);

        var during = await WhileAwayAsync(cs, () => host.Http.PostAsJsonAsync("/api/v1/domains", new { name = "during.test" }, ct));
        var body = await during.Content.ReadAsStringAsync(ct);
        Assert.True(during.StatusCode == HttpStatusCode.ServiceUnavailable, $"{(int)during.StatusCode}: {body}");
        Assert.Equal("application/problem+json", during.Content.Headers.ContentType?.MediaType);
        Assert.Equal(TimeSpan.FromSeconds(5), during.Headers.RetryAfter?.Delta);
        Assert.Equal(503, JsonDocument.Parse(body).RootElement.GetProperty("status").GetInt32());

        // Back: the client's retry goes through (a write that failed stored nothing, so it is created now).
        var after = await OnceBackAsync(() => host.Http.PostAsJsonAsync("/api/v1/domains", new { name = "during.test" }, ct), ct);
        Assert.Equal(HttpStatusCode.Created, after.StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await host.Http.GetAsync("/api/v1/domains/during.test", ct)).StatusCode);
    }

    [Fact]
    public async Task A_request_whose_grain_cannot_activate_while_the_database_is_away_is_answered_503()
    {
        var cs = await pg.NewDatabaseAsync("http503act");
        await using var host = await HostProcess.StartAsync(cs, Path.Combine(pg.Root, "http503act-host"), HostProcess.Ports.Free());
        var ct = TestContext.Current.CancellationToken;
        Assert.Equal(HttpStatusCode.Created, (await host.Http.PostAsJsonAsync("/api/v1/domains", new { name = "warm.test" }, ct)).StatusCode);

        // A domain nobody has asked about in this process: deleting one of its accounts activates its grain (not a
        // retryable call, so the gateway answers at once), and the activation's state read meets the closed database.
        var during = await WhileAwayAsync(cs, () => host.Http.DeleteAsync("/api/v1/accounts/u@never.test", ct));
        var body = await during.Content.ReadAsStringAsync(ct);
        Assert.True(during.StatusCode == HttpStatusCode.ServiceUnavailable, $"{(int)during.StatusCode}: {body}");
        Assert.Equal(TimeSpan.FromSeconds(5), during.Headers.RetryAfter?.Delta);

        // Back: the same request reaches the grain and gets its own answer (there is no such account).
        var after = await OnceBackAsync(() => host.Http.DeleteAsync("/api/v1/accounts/u@never.test", ct), ct);
        Assert.Equal(HttpStatusCode.NotFound, after.StatusCode);
    }

    /// <summary>The request sent while the database takes no connections (reopened whatever happens).</summary>
    private async Task<HttpResponseMessage> WhileAwayAsync(string cs, Func<Task<HttpResponseMessage>> request)
    {
        await pg.SetReachableAsync(cs, reachable: false);
        try
        {
            return await request();
        }
        finally
        {
            await pg.SetReachableAsync(cs, reachable: true);
        }
    }

    /// <summary>The request as a client retries it after a 503 (every half second, up to a minute): its first other answer.</summary>
    private static Task<HttpResponseMessage> OnceBackAsync(Func<Task<HttpResponseMessage>> request, CancellationToken ct) =>
        Eventually.Value(request, r => r.StatusCode != HttpStatusCode.ServiceUnavailable, TimeSpan.FromSeconds(60),
            "an answer other than 503 once the database is back", ct, TimeSpan.FromMilliseconds(500));
}

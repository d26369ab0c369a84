using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace GrainMail.Tests.Infrastructure;

/// <summary>A real host with the HTTPS listener (JMAP) and IMAP on, over its own PostgreSQL database.</summary>
public sealed class JmapHostFixture : IAsyncLifetime
{
    public const string Password = "jmap test password 1";

    public HostProcess Host { get; private set; } = null!;

    public int HttpsPort { get; private set; }

    public string CertificatePath { get; private set; } = "";

    /// <summary>More environment for the host (a test class with its own fixture instance sets a small limit, say).</summary>
    public IReadOnlyDictionary<string, string> Environment { get; init; } = new Dictionary<string, string>();

    public async ValueTask InitializeAsync()
    {
        var pg = (await TestContext.Current.GetFixture<PostgresServer>())!;
        var db = await pg.NewDatabaseAsync("jmap");
        HttpsPort = HostProcess.FreePort();
        var dir = Path.Combine(pg.Root, $"jmap-host-{Guid.NewGuid():N}"[..20]);
        Host = await HostProcess.StartAsync(db, dir, HostProcess.Ports.Free(),
            extraEnvironment: new Dictionary<string, string>(Environment) { ["GRAINMAIL_HTTPS_PORT"] = HttpsPort.ToString() });
        CertificatePath = Path.Combine(dir, "tls", "cert.pem");
    }

    public async ValueTask DisposeAsync() => await Host.DisposeAsync();

    /// <summary>A new domain with one account; returns its address.</summary>
    public async Task<string> NewAccountAsync(string localPart = "user")
    {
        var domain = $"jm{Guid.NewGuid():N}"[..12] + ".test";
        Assert.Equal(HttpStatusCode.Created, (await Host.Http.PostAsJsonAsync("/api/v1/domains", new { name = domain })).StatusCode);
        var r = await Host.Http.PostAsJsonAsync($"/api/v1/domains/{domain}/accounts", new { localPart, password = Password, displayName = localPart });
        Assert.Equal(HttpStatusCode.Created, r.StatusCode);
        return $"{localPart}@{domain}";
    }

    /// <summary>An HTTPS client that trusts exactly the node's certificate.</summary>
    public HttpClient Https(AuthenticationHeaderValue? auth = null)
    {
        var expected = X509CertificateLoader.LoadCertificateFromFile(CertificatePath);
        var handler = new HttpClientHandler
        {
            AllowAutoRedirect = false,
            ServerCertificateCustomValidationCallback = (_, cert, _, _) => cert is not null && cert.RawData.AsSpan().SequenceEqual(expected.RawData),
        };
        var http = new HttpClient(handler) { BaseAddress = new Uri($"https://127.0.0.1:{HttpsPort}"), Timeout = TimeSpan.FromSeconds(60) };
        if (auth is not null) http.DefaultRequestHeaders.Authorization = auth;
        return http;
    }

    public static AuthenticationHeaderValue Basic(string user, string password) =>
        new("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes($"{user}:{password}")));

    /// <summary>A JMAP client logged in interactively (POST /api/v1/me/sessions: bearer token).</summary>
    public async Task<JmapClient> LoginAsync(string address)
    {
        using var anon = Https();
        var r = await anon.PostAsJsonAsync("/api/v1/me/sessions", new { address, password = Password });
        Assert.Equal(HttpStatusCode.Created, r.StatusCode);
        var token = (await r.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("token").GetString()!;
        var client = new JmapClient(Https(new AuthenticationHeaderValue("Bearer", token)));
        await client.LoadSessionAsync();
        return client;
    }
}

/// <summary>
/// A small typed JMAP client for the tests (RFC 8620): the session, method calls with result
/// references, upload and download. Responses are looked at as JSON.
/// </summary>
public sealed class JmapClient(HttpClient http) : IDisposable
{
    public const string Core = "urn:ietf:params:jmap:core";
    public const string Mail = "urn:ietf:params:jmap:mail";

    public HttpClient Http => http;

    public JsonObject Session { get; private set; } = [];

    public string AccountId => (string)Session["primaryAccounts"]![Mail]!;

    public async Task LoadSessionAsync()
    {
        var r = await http.GetAsync("/.well-known/jmap");
        Assert.Equal(HttpStatusCode.OK, r.StatusCode);
        Session = (JsonObject)JsonNode.Parse(await r.Content.ReadAsStringAsync())!;
    }

    /// <summary>One call: [name, args, "c0"]; returns the response list.</summary>
    public Task<JmapResponse> CallAsync(string name, object args, params string[] capabilities) =>
        RequestAsync(capabilities.Length == 0 ? [Core, Mail] : capabilities, (name, args, "c0"));

    public async Task<JmapResponse> RequestAsync(string[] capabilities, params (string Name, object Args, string Id)[] calls)
    {
        var body = new JsonObject
        {
            ["using"] = new JsonArray(capabilities.Select(c => (JsonNode)c).ToArray()),
            ["methodCalls"] = new JsonArray(calls.Select(c => (JsonNode)new JsonArray(c.Name, ToNode(c.Args), c.Id)).ToArray()),
        };
        var (status, json) = await PostRawAsync(body.ToJsonString());
        Assert.True(status == HttpStatusCode.OK, $"JMAP request failed with {status}: {json}");
        return new JmapResponse((JsonObject)json!);
    }

    public async Task<(HttpStatusCode Status, JsonNode? Body)> PostRawAsync(string body, string contentType = "application/json")
    {
        using var content = new StringContent(body, Encoding.UTF8);
        content.Headers.ContentType = new MediaTypeHeaderValue(contentType);
        var r = await http.PostAsync("/jmap/api", content);
        var text = await r.Content.ReadAsStringAsync();
        return (r.StatusCode, text.Length == 0 ? null : JsonNode.Parse(text));
    }

    public static JsonNode? ToNode(object args) => args as JsonNode ?? JsonSerializer.SerializeToNode(args);

    public void Dispose() => http.Dispose();
}

public sealed record JmapResponse(JsonObject Body)
{
    public JsonArray MethodResponses => (JsonArray)Body["methodResponses"]!;

    /// <summary>The arguments of the response named <paramref name="name"/> to call <paramref name="id"/>.</summary>
    public JsonObject Of(string name, string id = "c0") =>
        (JsonObject)MethodResponses.Select(r => (JsonArray)r!).First(r => (string)r[0]! == name && (string)r[2]! == id)[1]!;

    /// <summary>The error type answered to call <paramref name="id"/>, or null when it succeeded.</summary>
    public string? ErrorType(string id = "c0") =>
        MethodResponses.Select(r => (JsonArray)r!).FirstOrDefault(r => (string)r[0]! == "error" && (string)r[2]! == id) is { } e ? (string)e[1]!["type"]! : null;
}

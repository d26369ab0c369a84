using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Security.Cryptography.X509Certificates;
using System.Text;

namespace GrainMail.Tests.Infrastructure;

/// <summary>A real host with the HTTPS listener on, for the address book's user-facing side (search API, CardDAV).</summary>
public sealed class AddressBookHostFixture : IAsyncLifetime
{
    public HostProcess Host { get; private set; } = null!;

    public string ConnectionString { get; private set; } = "";

    public int HttpsPort { get; private set; }

    /// <summary>The node's certificate (made by the host in its data directory): what clients pin.</summary>
    public string CertificatePath { get; private set; } = "";

    public string HttpsUrl => $"https://127.0.0.1:{HttpsPort}";

    private string _dir = "";
    private HostProcess.Ports _ports = null!;

    public async ValueTask InitializeAsync()
    {
        var pg = (await TestContext.Current.GetFixture<PostgresServer>())!;
        ConnectionString = await pg.NewDatabaseAsync("book");
        HttpsPort = HostProcess.FreePort();
        _dir = Path.Combine(pg.Root, $"book-host-{Guid.NewGuid():N}"[..20]);
        _ports = HostProcess.Ports.Free();
        Host = await StartAsync();
        CertificatePath = Path.Combine(_dir, "tls", "cert.pem");
    }

    private Task<HostProcess> StartAsync() => HostProcess.StartAsync(ConnectionString, _dir, _ports,
        extraEnvironment: new Dictionary<string, string> { ["GRAINMAIL_HTTPS_PORT"] = HttpsPort.ToString() });

    /// <summary>Stops the host (SIGTERM) and starts it again: same data directory, database and ports (a gateway restart).</summary>
    public async Task RestartAsync()
    {
        await Host.DisposeAsync();
        Host = await StartAsync();
    }

    public async ValueTask DisposeAsync() => await Host.DisposeAsync();

    /// <summary>An HTTPS client that trusts exactly the node's certificate, with Basic credentials when given.</summary>
    public HttpClient UserClient(string? user = null, string? password = null)
    {
        var expected = X509CertificateLoader.LoadCertificateFromFile(CertificatePath);
        var handler = new HttpClientHandler
        {
            AllowAutoRedirect = false,
            ServerCertificateCustomValidationCallback = (_, cert, _, _) => cert is not null && cert.RawData.AsSpan().SequenceEqual(expected.RawData),
        };
        var http = new HttpClient(handler) { BaseAddress = new Uri(HttpsUrl), Timeout = TimeSpan.FromSeconds(60) };
        if (user is not null) http.DefaultRequestHeaders.Authorization = Basic(user, password ?? "");
        return http;
    }

    public static AuthenticationHeaderValue Basic(string user, string password) =>
        new("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes($"{user}:{password}")));
}

/// <summary>
/// One domain laid out for visibility tests:
/// root ─┬─ A ── A1
///       └─ B
/// alice (A, 张三丰), andy (A1, Andy Lau), bob (B, 李四), carol (root, 王小明), hidden (A, not in
/// the address book), gone (A, disabled). One rule: A's members see only A.
/// </summary>
public sealed record AddressBookWorld(string Domain, long Root, long A, long A1, long B, long RuleId)
{
    public const string Password = "correct horse battery";

    public string Alice => $"alice@{Domain}";

    public string Bob => $"bob@{Domain}";

    public string Andy => $"andy@{Domain}";

    public string Carol => $"carol@{Domain}";

    public string Hidden => $"hidden@{Domain}";

    public string Gone => $"gone@{Domain}";

    public static async Task<AddressBookWorld> CreateAsync(AddressBookHostFixture f)
    {
        var http = f.Host.Http;
        var domain = $"ab{Guid.NewGuid():N}"[..12] + ".test";
        Assert.Equal(HttpStatusCode.Created, (await http.PostAsJsonAsync("/api/v1/domains", new { name = domain })).StatusCode);
        foreach (var lp in new[] { "alice", "andy", "bob", "carol", "hidden", "gone" })
        {
            var r = await http.PostAsJsonAsync($"/api/v1/domains/{domain}/accounts", new { localPart = lp, password = Password, displayName = lp });
            Assert.Equal(HttpStatusCode.Created, r.StatusCode);
        }
        var seed = new DirectorySeed(f.ConnectionString);
        var root = await seed.DepartmentAsync(domain);
        var a = await seed.DepartmentAsync(domain, "Sales");
        var a1 = await seed.DepartmentAsync(domain, "Sales", "East");
        var b = await seed.DepartmentAsync(domain, "Research");
        await seed.AccountAsync(domain, "alice", "张三丰", a, title: "Manager", phone: "+86 10 1234 5678");
        await seed.AccountAsync(domain, "andy", "Andy Lau", a1);
        await seed.AccountAsync(domain, "bob", "李四", b);
        await seed.AccountAsync(domain, "carol", "王小明", root);
        await seed.AccountAsync(domain, "hidden", "Hidden Person", a, inAddressBook: false);
        await seed.AccountAsync(domain, "gone", "Gone Person", a, enabled: false);
        var rule = await http.PostAsJsonAsync($"/api/v1/domains/{domain}/address-book/rules",
            new { name = "sales see sales", appliesTo = new { departments = new[] { a } }, visibleDepartments = new[] { a } });
        Assert.Equal(HttpStatusCode.Created, rule.StatusCode);
        var ruleId = (await rule.Content.ReadFromJsonAsync<System.Text.Json.JsonElement>()).GetProperty("id").GetInt64();
        return new AddressBookWorld(domain, root, a, a1, b, ruleId);
    }
}

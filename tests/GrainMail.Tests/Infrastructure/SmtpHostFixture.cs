using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using GrainMail.Storage.Blobs;
using Npgsql;

namespace GrainMail.Tests.Infrastructure;

/// <summary>
/// A real host process with SMTP listeners, a hosted domain and a few accounts, shared by the
/// tests of one class. Reads stored messages back from PostgreSQL with the host's master key.
/// </summary>
public class SmtpHostFixture : IAsyncLifetime
{
    public const string Domain = "smtp.test";
    public const string Password = "correct horse battery";

    public HostProcess Host { get; private set; } = null!;
    public string ConnectionString { get; private set; } = "";
    public string DataDir { get; private set; } = "";

    protected virtual IReadOnlyDictionary<string, string>? Environment => null;

    public int Mx => Host.Listening.Mx;
    public int Submission => Host.Listening.Submission;
    public int Submissions => Host.Listening.Submissions;
    public int Imap => Host.Listening.Imap;
    public int Imaps => Host.Listening.Imaps;
    public int Pop3 => Host.Listening.Pop3;
    public int Pop3s => Host.Listening.Pop3s;

    public async ValueTask InitializeAsync()
    {
        var pg = (await TestContext.Current.GetFixture<PostgresServer>())!;
        ConnectionString = await pg.NewDatabaseAsync("smtp");
        DataDir = Path.Combine(pg.Root, "smtp-" + Guid.NewGuid().ToString("N")[..8]);
        Host = await HostProcess.StartAsync(ConnectionString, DataDir, HostProcess.Ports.Free(), extraEnvironment: Environment);
        await Post("/api/v1/domains", new { name = Domain });
        await Post("/api/v1/domains", new { name = "small.test", maxMessageBytes = 3000 });
        foreach (var user in new[] { "alice", "bob", "carol", "dave", "erin", "frank" }) await NewAccount(user);
        await Post($"/api/v1/domains/{Domain}/aliases", new { alias = "sales", targets = new[] { $"alice@{Domain}", $"bob@{Domain}" } });
    }

    public async Task NewAccount(string localPart, string domain = Domain, long? quotaBytes = null)
    {
        var r = await Post($"/api/v1/domains/{domain}/accounts", new { localPart, password = Password, quotaBytes });
        if (!r.IsSuccessStatusCode) throw new InvalidOperationException($"account {localPart}: {r.StatusCode} {await r.Content.ReadAsStringAsync()}");
    }

    public Task<HttpResponseMessage> Post(string path, object body) =>
        Host.Http.PostAsync(path, new StringContent(JsonSerializer.Serialize(body), Encoding.UTF8, "application/json"));

    public async Task<int> InboxCount(string address) =>
        (await Host.Http.GetFromJsonAsync<JsonElement>($"/api/v1/accounts/{address}/mailbox")).GetProperty("quota").GetProperty("messages").GetInt32();

    /// <summary>Waits until the mailbox holds <paramref name="count"/> messages and returns their stored bytes in UID order.</summary>
    public async Task<List<byte[]>> WaitForMessages(string address, int count)
    {
        await Eventually.Value(() => InboxCount(address), n => n >= count, TimeSpan.FromSeconds(30), $"{count} message(s) in {address}", poll: TimeSpan.FromMilliseconds(100));
        return await StoredMessages(address);
    }

    public async Task<List<byte[]>> StoredMessages(string address)
    {
        await using var ds = NpgsqlDataSource.Create(ConnectionString);
        var blobs = new BlobStore(ds, new KeyRing(ds, MasterKey.LoadOrCreate(Path.Combine(DataDir, "master.key"))));
        var refs = new List<(string, byte[])>();
        await using (var cmd = ds.CreateCommand("SELECT blob_domain, blob_hash FROM mailbox_message WHERE mailbox = @a ORDER BY folder_id, uid"))
        {
            cmd.Parameters.AddWithValue("a", address);
            await using var r = await cmd.ExecuteReaderAsync();
            while (await r.ReadAsync()) refs.Add((r.GetString(0), (byte[])r[1]));
        }
        var list = new List<byte[]>();
        foreach (var (d, h) in refs) list.Add((await blobs.ReadAsync(d, h))!);
        return list;
    }

    /// <summary>
    /// Commits a message for <paramref name="address"/> straight into the host's store and delivery
    /// stream, past every gateway's acceptance checks: how mail stored before a rule existed looks.
    /// </summary>
    public async Task StoreDirectAsync(string address, byte[] raw)
    {
        await using var ds = NpgsqlDataSource.Create(ConnectionString);
        var blobs = new BlobStore(ds, new KeyRing(ds, MasterKey.LoadOrCreate(Path.Combine(DataDir, "master.key"))));
        await using var submitter = new GrainMail.Storage.Delivery.MessageSubmitter(ds, blobs, new GrainMail.Storage.Delivery.EventCodec(),
            new GrainMail.Storage.Streams.PgStreamQueueMapper(8));
        await submitter.SubmitAsync(new GrainMail.Storage.Delivery.Submission("sender@example.org", [address], new GrainMail.Operations.Spool.MessageContent(raw)));
    }

    public virtual async ValueTask DisposeAsync() => await Host.DisposeAsync();

    /// <summary>
    /// The host killed (SIGKILL: no shutdown work runs, as when a machine dies) and a new one started on the same
    /// database, data directory and ports, with <paramref name="environment"/> instead of the fixture's.
    /// </summary>
    public async Task RestartAsync(IReadOnlyDictionary<string, string>? environment)
    {
        var ports = Host.Listening;
        await Host.KillAsync();
        await Host.DisposeAsync();
        Host = await HostProcess.StartAsync(ConnectionString, DataDir, ports, extraEnvironment: environment);
    }
}

using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Net.Security;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using GrainMail.Tests.Infrastructure;
using MailKit.Net.Smtp;
using MailKit.Security;
using MimeKit;
using Npgsql;

namespace GrainMail.Tests;

/// <summary>A host with ManageSieve on an ephemeral port, a DNS server and a fake MTA for mail that leaves.</summary>
public sealed class SieveHostFixture : SmtpHostFixture
{
    public const string External = "ext.test";

    public TestDnsServer Dns { get; } = new();
    public FakeSmtpServer Mta { get; } = new(IPAddress.Loopback);
    public int ManageSieve { get; } = HostProcess.FreePort();
    public int Https { get; } = HostProcess.FreePort();

    /// <summary>An HTTPS client for the user API that trusts exactly the node's certificate, with the account's Basic credentials.</summary>
    public HttpClient UserClient(string user)
    {
        var expected = System.Security.Cryptography.X509Certificates.X509CertificateLoader.LoadCertificateFromFile(Path.Combine(DataDir, "tls", "cert.pem"));
        var handler = new HttpClientHandler
        {
            ServerCertificateCustomValidationCallback = (_, cert, _, _) => cert is not null && cert.RawData.AsSpan().SequenceEqual(expected.RawData),
        };
        var http = new HttpClient(handler) { BaseAddress = new Uri($"https://127.0.0.1:{Https}"), Timeout = TimeSpan.FromSeconds(60) };
        http.DefaultRequestHeaders.Authorization = AddressBookHostFixture.Basic(user, Password);
        return http;
    }

    public SieveHostFixture()
    {
        Dns.Mx[External] = [(10, "mx." + External)];
        Dns.A["mx." + External] = IPAddress.Loopback;
    }

    protected override IReadOnlyDictionary<string, string>? Environment => new Dictionary<string, string>
    {
        ["GRAINMAIL_MANAGESIEVE_PORT"] = ManageSieve.ToString(CultureInfo.InvariantCulture),
        ["GRAINMAIL_HTTPS_PORT"] = Https.ToString(CultureInfo.InvariantCulture),
        ["GRAINMAIL_DNS"] = $"127.0.0.1:{Dns.Port}",
        ["GRAINMAIL_SMTP_OUT_PORT"] = Mta.Port.ToString(CultureInfo.InvariantCulture),
    };
}

/// <summary>
/// Sieve end to end: scripts uploaded through ManageSieve (Debian's sieve-connect and a raw client),
/// then mail over SMTP landing as each extension says, with the forwarding policy and the
/// once-only rules (vacation, failure notice) observed.
/// </summary>
public sealed partial class SieveEndToEndTests(SieveHostFixture host) : IClassFixture<SieveHostFixture>
{
    private const string D = SmtpHostFixture.Domain;

    // ---- a raw ManageSieve client ------------------------------------------------------------

    private sealed class RawSieve : IAsyncDisposable
    {
        private readonly TcpClient _tcp = new();
        private Stream _stream = null!;
        private StreamReader _reader = null!;

        public static async Task<RawSieve> ConnectAsync(int port)
        {
            var c = new RawSieve();
            await c._tcp.ConnectAsync(IPAddress.Loopback, port);
            c._stream = c._tcp.GetStream();
            c._reader = new StreamReader(c._stream, Encoding.UTF8);
            return c;
        }

        /// <summary>Lines up to and including the final OK/NO/BYE.</summary>
        public async Task<List<string>> ResponseAsync()
        {
            var lines = new List<string>();
            while (true)
            {
                var line = await _reader.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(20)) ?? throw new IOException("closed");
                lines.Add(line);
                if (line.StartsWith("OK", StringComparison.Ordinal) || line.StartsWith("NO", StringComparison.Ordinal) || line.StartsWith("BYE", StringComparison.Ordinal))
                    return lines;
            }
        }

        public async Task<List<string>> SendAsync(string command)
        {
            var bytes = Encoding.UTF8.GetBytes(command + "\r\n");
            await _stream.WriteAsync(bytes);
            await _stream.FlushAsync();
            return await ResponseAsync();
        }

        public async Task StartTlsAsync()
        {
            Assert.StartsWith("OK", (await SendAsync("STARTTLS"))[^1]);
            var ssl = new SslStream(_tcp.GetStream(), false, (_, _, _, _) => true);
            await ssl.AuthenticateAsClientAsync("localhost");
            _stream = ssl;
            _reader = new StreamReader(ssl, Encoding.UTF8);
        }

        public async Task<string> LoginAsync(string user, string password)
        {
            var plain = Convert.ToBase64String(Encoding.UTF8.GetBytes($"\0{user}\0{password}"));
            return (await SendAsync($"AUTHENTICATE \"PLAIN\" \"{plain}\""))[^1];
        }

        public Task<List<string>> PutAsync(string name, string script) =>
            SendAsync($"PUTSCRIPT \"{name}\" {{{Encoding.UTF8.GetByteCount(script)}+}}\r\n{script}");

        public async ValueTask DisposeAsync()
        {
            await _stream.DisposeAsync();
            _tcp.Dispose();
        }
    }

    private async Task<RawSieve> LoggedInAsync(string user)
    {
        var c = await RawSieve.ConnectAsync(host.ManageSieve);
        await c.ResponseAsync();
        await c.StartTlsAsync();
        await c.ResponseAsync();
        Assert.StartsWith("OK", await c.LoginAsync(user, SmtpHostFixture.Password));
        return c;
    }

    private async Task ActivateAsync(string user, string script, string name = "main")
    {
        await using var c = await LoggedInAsync(user);
        var put = await c.PutAsync(name, script);
        Assert.True(put[^1].StartsWith("OK", StringComparison.Ordinal), string.Join("\n", put));
        Assert.StartsWith("OK", (await c.SendAsync($"SETACTIVE \"{name}\""))[^1]);
    }

    private async Task<List<(string Folder, int Flags, string[] Keywords, string Subject)>> PlacedAsync(string address)
    {
        var list = new List<(string, int, string[], string)>();
        await using var ds = NpgsqlDataSource.Create(host.ConnectionString);
        await using var cmd = ds.CreateCommand("""
            SELECT f.name, m.flags, coalesce(m.keywords, '{}'), m.blob_domain, m.blob_hash FROM mailbox_message m
            JOIN mailbox_folder f ON f.mailbox = m.mailbox AND f.folder_id = m.folder_id WHERE m.mailbox = @a ORDER BY f.name, m.uid
            """);
        cmd.Parameters.AddWithValue("a", address);
        var rows = new List<(string, int, string[], string, byte[])>();
        await using (var r = await cmd.ExecuteReaderAsync())
            while (await r.ReadAsync()) rows.Add((r.GetString(0), r.GetInt32(1), r.GetFieldValue<string[]>(2), r.GetString(3), (byte[])r[4]));
        var blobs = new GrainMail.Storage.Blobs.BlobStore(ds, new GrainMail.Storage.Blobs.KeyRing(ds,
            GrainMail.Storage.Blobs.MasterKey.LoadOrCreate(Path.Combine(host.DataDir, "master.key"))));
        foreach (var (f, fl, kw, bd, bh) in rows)
        {
            var m = MimeMessage.Load(new MemoryStream((await blobs.ReadAsync(bd, bh))!));
            list.Add((f, fl, kw, m.Subject ?? ""));
        }
        return list;
    }

    private async Task<List<(string Folder, int Flags, string[] Keywords, string Subject)>> WaitPlacedAsync(string address, int count)
    {
        List<(string, int, string[], string)> placed = [];
        await Eventually.Until(async () => (placed = await PlacedAsync(address)).Count >= count, TimeSpan.FromSeconds(30), $"{count} messages for {address}");
        return placed;
    }

    private static async Task SendAsync(int mx, string from, string to, string subject, string text = "hello", string? extraHeader = null)
    {
        var m = TestMail.Text(from, to, subject, text);
        if (extraHeader is not null) m.Headers.Add(extraHeader[..extraHeader.IndexOf(':')], extraHeader[(extraHeader.IndexOf(':') + 1)..].Trim());
        using var smtp = new SmtpClient();
        await smtp.ConnectAsync("127.0.0.1", mx, SecureSocketOptions.None);
        await smtp.SendAsync(m);
        await smtp.DisconnectAsync(true);
    }

    // ---- ManageSieve -----------------------------------------------------------------------------

    [Fact]
    public async Task Sieve_connect_uploads_and_activates_a_script_that_then_files_mail()
    {
        var user = "alice@" + D;
        var file = Path.Combine(host.DataDir, "alice.sieve");
        await File.WriteAllTextAsync(file, "require [\"fileinto\", \"mailbox\"];\nif header :contains \"subject\" \"invoice\" { fileinto :create \"Invoices\"; }\n");
        foreach (var action in new[] { "--upload", "--activate" })
        {
            var psi = new ProcessStartInfo("sieve-connect") { RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true };
            foreach (var a in new[] { "--server", "127.0.0.1", "--port", host.ManageSieve.ToString(CultureInfo.InvariantCulture), "--user", user,
                "--passwordfd", "0", "--notlsverify", "--authmech", "PLAIN", action, "--remotesieve", "filters" })
                psi.ArgumentList.Add(a);
            if (action == "--upload") { psi.ArgumentList.Add("--localsieve"); psi.ArgumentList.Add(file); }
            using var p = Process.Start(psi)!;
            await p.StandardInput.WriteLineAsync(SmtpHostFixture.Password);
            p.StandardInput.Close();
            var output = p.StandardOutput.ReadToEndAsync();
            var err = await p.StandardError.ReadToEndAsync();
            await output;
            await p.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(30));
            Assert.True(p.ExitCode == 0, $"sieve-connect {action}: {err}");
        }
        await SendAsync(host.Mx, "billing@vendor.example", user, "Your invoice 42");
        await SendAsync(host.Mx, "friend@vendor.example", user, "Lunch?");
        var placed = await WaitPlacedAsync(user, 2);
        Assert.Contains(placed, p => p is { Folder: "Invoices", Subject: "Your invoice 42" });
        Assert.Contains(placed, p => p is { Folder: "INBOX", Subject: "Lunch?" });
    }

    [Fact]
    public async Task Raw_client_broken_script_refused_with_line_and_commands_answer()
    {
        await using var c = await RawSieve.ConnectAsync(host.ManageSieve);
        var greeting = await c.ResponseAsync();
        Assert.Contains("\"STARTTLS\"", greeting);
        Assert.Contains(greeting, l => l.StartsWith("\"SIEVE\"", StringComparison.Ordinal) && l.Contains("vacation") && l.Contains("imap4flags"));
        // RFC 5804 2.1: no password in clear.
        Assert.StartsWith("NO", await c.LoginAsync("bob@" + D, SmtpHostFixture.Password));
        await c.StartTlsAsync();
        var again = await c.ResponseAsync();
        Assert.DoesNotContain("\"STARTTLS\"", again);
        Assert.StartsWith("NO", await c.LoginAsync("bob@" + D, "wrong password"));
        Assert.StartsWith("OK", await c.LoginAsync("bob@" + D, SmtpHostFixture.Password));

        var broken = await c.PutAsync("bad", "require \"fileinto\";\nif header :contains \"subject\" \"x\" {\n  filento \"Junk\";\n}\n");
        Assert.StartsWith("NO", broken[^1]);
        Assert.Contains("line 3", broken[^1]);
        Assert.Contains("filento", broken[^1]);
        Assert.StartsWith("NO", (await c.SendAsync("CHECKSCRIPT {7+}\r\nkeep ;x"))[^1]);
        Assert.StartsWith("OK", (await c.SendAsync("CHECKSCRIPT {5+}\r\nkeep;"))[^1]);
        Assert.StartsWith("OK", (await c.SendAsync("HAVESPACE \"s\" 1000"))[^1]);
        Assert.StartsWith("NO (QUOTA/MAXSIZE)", (await c.SendAsync("HAVESPACE \"s\" 10000000"))[^1]);
        Assert.StartsWith("OK", (await c.PutAsync("one", "keep;"))[^1]);
        Assert.StartsWith("OK", (await c.SendAsync("RENAMESCRIPT \"one\" \"two\""))[^1]);
        Assert.StartsWith("OK", (await c.SendAsync("SETACTIVE \"two\""))[^1]);
        var list = await c.SendAsync("LISTSCRIPTS");
        Assert.Contains("\"two\" ACTIVE", list);
        Assert.DoesNotContain(list, l => l.Contains("\"bad\""));
        var get = await c.SendAsync("GETSCRIPT \"two\"");
        Assert.Equal(new[] { "{5}", "keep;", "OK" }, get);
        Assert.StartsWith("NO (ACTIVE)", (await c.SendAsync("DELETESCRIPT \"two\""))[^1]);
        Assert.StartsWith("NO (NONEXISTENT)", (await c.SendAsync("GETSCRIPT \"nope\""))[^1]);
        Assert.StartsWith("OK", (await c.SendAsync("SETACTIVE \"\""))[^1]);
        Assert.StartsWith("OK", (await c.SendAsync("DELETESCRIPT \"two\""))[^1]);
        Assert.StartsWith("OK", (await c.SendAsync("NOOP"))[^1]);
        Assert.StartsWith("OK", (await c.SendAsync("LOGOUT"))[^1]);
    }

    // ---- each extension at delivery --------------------------------------------------------------

    [Fact]
    public async Task Fileinto_flags_variables_subaddress_envelope_body_and_date_at_delivery()
    {
        var user = "carol@" + D;
        await ActivateAsync(user, """
            require ["fileinto", "imap4flags", "variables", "envelope", "subaddress", "body", "date", "relational", "mailbox"];
            if envelope :detail "to" "news" { fileinto :create "News"; stop; }
            if header :matches "subject" "[*] *" { fileinto :create "Lists/${1}"; stop; }
            if body :contains "urgent" { addflag "\\Flagged"; addflag "$Urgent"; keep; stop; }
            if envelope :domain :is "from" "boss.example" { setflag "\\Seen"; }
            if currentdate :value "ge" "year" "2000" { addflag "$Dated"; }
            """);
        await SendAsync(host.Mx, "x@news.example", $"carol+news@{D}", "Daily news");
        await SendAsync(host.Mx, "x@list.example", user, "[devs] build broken");
        await SendAsync(host.Mx, "x@else.example", user, "Please read", "This is urgent.");
        await SendAsync(host.Mx, "ceo@boss.example", user, "From the boss");
        // carol's mailbox is shared with other tests of the class (one sends her "Casino weekend"): wait for
        // these four subjects, not for a count, or a foreign message can stand in for one still on its way.
        string[] sent = ["Daily news", "[devs] build broken", "Please read", "From the boss"];
        List<(string Folder, int Flags, string[] Keywords, string Subject)> placed = [];
        await Eventually.Until(async () => sent.All((placed = await PlacedAsync(user)).Select(p => p.Subject).Contains),
            TimeSpan.FromSeconds(30), "the four messages for carol");
        Assert.Contains(placed, p => p is { Folder: "News", Subject: "Daily news" });
        Assert.Contains(placed, p => p is { Folder: "Lists/devs", Subject: "[devs] build broken" });
        var urgent = placed.Single(p => p.Subject == "Please read");
        Assert.Equal("INBOX", urgent.Folder);
        Assert.Equal(4, urgent.Flags & 4);
        Assert.Contains("$Urgent", urgent.Keywords);
        var boss = placed.Single(p => p.Subject == "From the boss");
        Assert.Equal(1, boss.Flags & 1);
        Assert.Contains("$Dated", boss.Keywords);
    }

    [Fact]
    public async Task Reject_answers_the_sender_with_a_dsn_and_stores_nothing()
    {
        var user = "dave@" + D;
        await ActivateAsync(user, "require \"reject\";\nif header :contains \"subject\" \"offer\" { reject \"No offers, thank you.\"; }\n");
        await TestMail.SubmitAsync(host.Submissions, "erin@" + D, SmtpHostFixture.Password, user, "A special offer");
        await TestMail.SubmitAsync(host.Submissions, "erin@" + D, SmtpHostFixture.Password, user, "Meeting");
        var dsn = await WaitPlacedAsync("erin@" + D, 1);
        Assert.Contains(dsn, p => p.Folder == "INBOX");
        var mine = await WaitPlacedAsync(user, 1);
        Assert.DoesNotContain(mine, p => p.Subject == "A special offer");
        var bytes = await host.StoredMessages("erin@" + D);
        Assert.Contains(bytes, b => Encoding.UTF8.GetString(b).Contains("No offers, thank you."));
    }

    [Fact]
    public async Task Redirect_to_local_and_external_under_the_forwarding_policy()
    {
        var user = "frank@" + D;
        await host.NewAccount("gina");
        await host.NewAccount("hank");
        await ActivateAsync(user, $"require \"copy\";\nredirect :copy \"gina@{D}\";\nredirect \"away@{SieveHostFixture.External}\";\n");
        // Denied: the external redirect does not happen and the message stays (INBOX), the local one does.
        var deny = await host.Host.Http.PatchAsync($"/api/v1/domains/{D}", new StringContent("{\"externalForwarding\":\"denied\"}", Encoding.UTF8, "application/json"));
        Assert.True(deny.IsSuccessStatusCode, await deny.Content.ReadAsStringAsync());
        await SendAsync(host.Mx, "x@far.example", user, "First");
        Assert.Contains(await WaitPlacedAsync("gina@" + D, 1), p => p.Subject == "First");
        Assert.Contains(await WaitPlacedAsync(user, 1), p => p is { Folder: "INBOX", Subject: "First" });
        // (Other tests' mail to the external domain may be there; none of this message.)
        Assert.DoesNotContain(host.Mta.Received, m => Encoding.UTF8.GetString(m.Data).Contains("Subject: First"));
        // Listed: the external domain is on the list, so it goes out, and no copy stays.
        var listed = await host.Host.Http.PatchAsync($"/api/v1/domains/{D}",
            new StringContent($"{{\"externalForwarding\":\"listed\",\"forwardingDomains\":[\"{SieveHostFixture.External}\"]}}", Encoding.UTF8, "application/json"));
        Assert.True(listed.IsSuccessStatusCode, await listed.Content.ReadAsStringAsync());
        var settings = await host.Host.Http.GetStringAsync($"/api/v1/domains/{D}/settings");
        Assert.Contains("\"listed\"", settings);
        await SendAsync(host.Mx, "x@far.example", user, "Second");
        await Eventually.Until(() => Task.FromResult(host.Mta.Received.Any(m => Encoding.UTF8.GetString(m.Data).Contains("Subject: Second"))),
            TimeSpan.FromSeconds(40), "the external redirect");
        var sent = host.Mta.Received.First(m => Encoding.UTF8.GetString(m.Data).Contains("Subject: Second"));
        Assert.Equal(["away@" + SieveHostFixture.External], sent.To);
        Assert.Contains($"Delivered-To: {user}", Encoding.UTF8.GetString(sent.Data));
        // Out through the forwarding entry point: an SRS sender of the account's domain (the receiver's SPF sees
        // us, a bounce finds x@far.example) and, no copy staying here, an ARC set of that domain on top.
        Assert.StartsWith("SRS0=", sent.From, StringComparison.OrdinalIgnoreCase);
        Assert.EndsWith("@" + D, sent.From);
        Assert.Contains("=far.example=x@", sent.From);
        var redirected = MimeMessage.Load(new MemoryStream(sent.Data));
        var seal = redirected.Headers[HeaderId.ArcSeal] ?? "";
        Assert.Contains($"d={D}", seal);
        Assert.Contains("i=1", seal);
        Assert.Contains(await WaitPlacedAsync("gina@" + D, 2), p => p.Subject == "Second");
        Assert.DoesNotContain(await PlacedAsync(user), p => p.Subject == "Second");
        await host.Host.Http.PatchAsync($"/api/v1/domains/{D}", new StringContent("{\"externalForwarding\":\"allowed\"}", Encoding.UTF8, "application/json"));
    }

    [Fact]
    public async Task A_redirect_to_an_alias_with_local_and_external_targets_seals_the_copy_that_leaves()
    {
        var user = "ivo@" + D;
        await host.NewAccount("ivo");
        await host.NewAccount("jana");
        var outside = $"ivo-mix@{SieveHostFixture.External}";
        Assert.True((await host.Post($"/api/v1/domains/{D}/aliases", new { alias = "ivomix", targets = new[] { "jana@" + D, outside } })).IsSuccessStatusCode);
        await ActivateAsync(user, $"redirect \"ivomix@{D}\";\n");
        await SendAsync(host.Mx, "x@far.example", user, "Mixed", "Sealed on the way out.");

        await Eventually.Until(() => Task.FromResult(host.Mta.Received.Any(m => m.To.Contains(outside))), TimeSpan.FromSeconds(40), "the external copy");
        var sent = host.Mta.Received.First(m => m.To.Contains(outside));
        Assert.StartsWith("SRS0=", sent.From, StringComparison.OrdinalIgnoreCase);
        var text = Encoding.ASCII.GetString(sent.Data);
        Assert.Contains($"d={D}", MimeMessage.Load(new MemoryStream(sent.Data)).Headers[HeaderId.ArcSeal] ?? "");
        var keys = (await host.Host.Http.GetFromJsonAsync<System.Text.Json.JsonElement>($"/api/v1/domains/{D}/dns")).EnumerateArray()
            .Where(r => r.GetProperty("name").GetString()!.Contains("._domainkey.", StringComparison.Ordinal))
            .Select(r => (r.GetProperty("name").GetString()!, r.GetProperty("value").GetString()!)).ToList();
        Assert.Equal("pass", GrainMail.TestSupport.ArcVerifier.Verify(text, keys));

        // Jana's copy is the redirected message without our seal.
        Assert.Contains(await WaitPlacedAsync("jana@" + D, 1), p => p.Subject == "Mixed");
        var local = (await host.StoredMessages("jana@" + D)).Select(b => Encoding.UTF8.GetString(b)).Single(t => t.Contains("Subject: Mixed"));
        Assert.DoesNotContain("ARC-Seal", local);
        Assert.Contains($"Delivered-To: {user}", local);
    }

    [Fact]
    public async Task Vacation_replies_once_per_sender()
    {
        var user = "hank2@" + D;
        await host.NewAccount("hank2");
        await host.NewAccount("ivan");
        await ActivateAsync(user, "require \"vacation\";\nvacation :days 5 :subject \"Out of office\" \"I am away until Monday.\";\n");
        for (var i = 0; i < 3; i++) await TestMail.SubmitAsync(host.Submissions, "ivan@" + D, SmtpHostFixture.Password, user, $"Question {i}");
        // A list message gets no reply.
        await SendAsync(host.Mx, "owner-list@lists.example", user, "List traffic", extraHeader: "List-Id: <l.lists.example>");
        await WaitPlacedAsync(user, 4);
        await WaitPlacedAsync("ivan@" + D, 1);
        // Replies are submitted before each message is placed: a second one would be arriving now.
        await Eventually.HoldsFor(async () => (await PlacedAsync("ivan@" + D)).Count(p => p.Subject == "Out of office") == 1,
            TimeSpan.FromSeconds(3), "exactly one vacation reply");
    }

    [Fact]
    public async Task Include_runs_the_users_other_script()
    {
        var user = "judy@" + D;
        await host.NewAccount("judy");
        await using (var c = await LoggedInAsync(user))
        {
            Assert.StartsWith("OK", (await c.PutAsync("lib", "require [\"fileinto\", \"mailbox\"];\nif header :contains \"subject\" \"report\" { fileinto :create \"Reports\"; }\n"))[^1]);
            Assert.StartsWith("OK", (await c.PutAsync("main", "require \"include\";\ninclude :personal \"lib\";\n"))[^1]);
            Assert.StartsWith("OK", (await c.SendAsync("SETACTIVE \"main\""))[^1]);
        }
        await SendAsync(host.Mx, "x@y.example", user, "Weekly report");
        Assert.Contains(await WaitPlacedAsync(user, 1), p => p is { Folder: "Reports", Subject: "Weekly report" });
    }

    [Fact]
    public async Task A_run_time_failure_delivers_to_inbox_and_tells_the_user_once()
    {
        var user = "kim@" + D;
        await host.NewAccount("kim");
        await ActivateAsync(user, "require \"include\";\ninclude \"does-not-exist\";\n");
        await SendAsync(host.Mx, "x@y.example", user, "One");
        await SendAsync(host.Mx, "x@y.example", user, "Two");
        var placed = await WaitPlacedAsync(user, 3);
        Assert.Contains(placed, p => p is { Folder: "INBOX", Subject: "One" });
        Assert.Contains(placed, p => p is { Folder: "INBOX", Subject: "Two" });
        Assert.Single(placed, p => p.Subject.Contains("mail filter failed"));
        await Eventually.HoldsFor(async () => (await PlacedAsync(user)).Count(p => p.Subject.Contains("mail filter failed")) == 1,
            TimeSpan.FromSeconds(3), "one failure notice");
    }

    // ---- the second round: :regex, ereject, vacation-seconds, the user API ----------------------

    private async Task<(int Exit, string Output)> SieveConnectAsync(string user, params string[] args)
    {
        var psi = new ProcessStartInfo("sieve-connect") { RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in new[] { "--server", "127.0.0.1", "--port", host.ManageSieve.ToString(CultureInfo.InvariantCulture), "--user", user,
            "--passwordfd", "0", "--notlsverify", "--authmech", "PLAIN" })
            psi.ArgumentList.Add(a);
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        await p.StandardInput.WriteLineAsync(SmtpHostFixture.Password);
        p.StandardInput.Close();
        var output = p.StandardOutput.ReadToEndAsync();
        var err = await p.StandardError.ReadToEndAsync();
        await p.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(30));
        return (p.ExitCode, await output + err);
    }

    [Fact]
    public async Task The_user_API_and_ManageSieve_manage_one_store_of_scripts()
    {
        var user = "sven@" + D;
        await host.NewAccount("sven");
        using var me = host.UserClient(user);

        // Stored through the API: sieve-connect lists it and downloads the same text.
        const string Filing = "require [\"fileinto\", \"mailbox\"];\nif header :contains \"subject\" \"build\" { fileinto :create \"Builds\"; }\n";
        var put = await me.PutAsJsonAsync("/api/v1/me/sieve/filing", new { script = Filing });
        Assert.True(put.IsSuccessStatusCode, await put.Content.ReadAsStringAsync());
        var listed = await SieveConnectAsync(user, "--list");
        Assert.True(listed.Exit == 0, listed.Output);
        Assert.Contains("filing", listed.Output);
        var local = Path.Combine(host.DataDir, "sven-filing.sieve");
        var download = await SieveConnectAsync(user, "--download", "--remotesieve", "filing", "--localsieve", local);
        Assert.True(download.Exit == 0, download.Output);
        Assert.Equal(Filing, (await File.ReadAllTextAsync(local)).Replace("\r\n", "\n"));

        // Uploaded through ManageSieve: the API lists and returns it.
        var other = Path.Combine(host.DataDir, "sven-other.sieve");
        await File.WriteAllTextAsync(other, "keep;\n");
        var upload = await SieveConnectAsync(user, "--upload", "--localsieve", other, "--remotesieve", "other");
        Assert.True(upload.Exit == 0, upload.Output);
        var all = await me.GetFromJsonAsync<JsonElement>("/api/v1/me/sieve");
        Assert.Equal(new[] { "filing", "other" }, all.EnumerateArray().Select(e => e.GetProperty("name").GetString()!).Order().ToList());
        var got = await me.GetFromJsonAsync<JsonElement>("/api/v1/me/sieve/other");
        Assert.Equal("keep;\n", got.GetProperty("script").GetString()!.Replace("\r\n", "\n"));
        Assert.False(got.GetProperty("active").GetBoolean());

        // A broken script is refused with its line; nothing is stored.
        var broken = await me.PutAsJsonAsync("/api/v1/me/sieve/broken", new { script = "require \"fileinto\";\n\nif true {\n  fileinto \"x\"\n}\n" });
        Assert.Equal(HttpStatusCode.BadRequest, broken.StatusCode);
        var problem = await broken.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal(5, problem.GetProperty("line").GetInt32());
        Assert.Contains("expected ';'", problem.GetProperty("reason").GetString());
        Assert.Equal(HttpStatusCode.NotFound, (await me.GetAsync("/api/v1/me/sieve/broken")).StatusCode);

        // Activated through the API: ManageSieve sees it active, and delivery runs it.
        Assert.Equal(HttpStatusCode.NoContent, (await me.PostAsync("/api/v1/me/sieve/filing/activate", null)).StatusCode);
        await using (var c = await LoggedInAsync(user))
            Assert.Contains(await c.SendAsync("LISTSCRIPTS"), l => l == "\"filing\" ACTIVE");
        await SendAsync(host.Mx, "ci@builder.example", user, "build 17 passed");
        Assert.Contains(await WaitPlacedAsync(user, 1), p => p is { Folder: "Builds", Subject: "build 17 passed" });

        // The active script cannot be deleted; after deactivating it can, and ManageSieve no longer lists it.
        Assert.Equal(HttpStatusCode.Conflict, (await me.DeleteAsync("/api/v1/me/sieve/filing")).StatusCode);
        Assert.Equal(HttpStatusCode.NoContent, (await me.PostAsync("/api/v1/me/sieve/deactivate", null)).StatusCode);
        Assert.Equal(HttpStatusCode.NoContent, (await me.DeleteAsync("/api/v1/me/sieve/filing")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await me.DeleteAsync("/api/v1/me/sieve/filing")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await me.PostAsync("/api/v1/me/sieve/nosuch/activate", null)).StatusCode);
        var after = await SieveConnectAsync(user, "--list");
        Assert.DoesNotContain("filing", after.Output);
        Assert.Contains("other", after.Output);

        // Another account's credentials see only their own scripts; none at all is 401.
        using var erin = host.UserClient("erin@" + D);
        Assert.Equal(HttpStatusCode.NotFound, (await erin.GetAsync("/api/v1/me/sieve/other")).StatusCode);
        using var nobody = host.UserClient("sven@" + D);
        nobody.DefaultRequestHeaders.Authorization = null;
        Assert.Equal(HttpStatusCode.Unauthorized, (await nobody.GetAsync("/api/v1/me/sieve")).StatusCode);

        // Each change is in the audit log, with the account as target.
        foreach (var action in new[] { "sieve.put", "sieve.activate", "sieve.deactivate", "sieve.delete" })
        {
            await Eventually.Until(async () =>
            {
                var page = await host.Host.Http.GetFromJsonAsync<JsonElement>($"/api/v1/audit?action={action}&target={Uri.EscapeDataString(user)}");
                return page.GetProperty("items").EnumerateArray().Any(e => e.GetProperty("actor").GetString() == user && e.GetProperty("result").GetString() == "ok");
            }, TimeSpan.FromSeconds(20), $"the {action} audit entry");
        }
    }

    [Fact]
    public async Task Regex_files_mail_at_delivery()
    {
        var user = "rita@" + D;
        await host.NewAccount("rita");
        await ActivateAsync(user, "require [\"regex\", \"fileinto\", \"mailbox\", \"variables\"];\n"
            + "if header :regex \"subject\" \"^ticket #([[:digit:]]+)$\" { fileinto :create \"Tickets/${1}\"; }\n");
        await SendAsync(host.Mx, "desk@help.example", user, "Ticket #4711");
        await SendAsync(host.Mx, "desk@help.example", user, "Ticket #47a");
        var placed = await WaitPlacedAsync(user, 2);
        Assert.Contains(placed, p => p is { Folder: "Tickets/4711", Subject: "Ticket #4711" });
        Assert.Contains(placed, p => p is { Folder: "INBOX", Subject: "Ticket #47a" });
    }

    [Fact]
    public async Task Ereject_refuses_in_the_smtp_dialogue_for_one_recipient_and_bounces_for_several()
    {
        var user = "emil@" + D;
        await host.NewAccount("emil");
        await ActivateAsync(user, "require \"ereject\";\nif header :contains \"subject\" \"casino\" { ereject \"No gambling mail, please.\"; }\n");

        // One recipient: the server answers DATA with the refusal; nothing is stored, nothing bounces.
        var refused = await Assert.ThrowsAsync<SmtpCommandException>(() => SendAsync(host.Mx, "promo@" + SieveHostFixture.External, user, "Casino night"));
        Assert.Equal(SmtpStatusCode.MailboxUnavailable, refused.StatusCode); // 550
        Assert.Contains("No gambling mail, please.", refused.Message);
        await SendAsync(host.Mx, "promo@" + SieveHostFixture.External, user, "Harmless");
        var placed = await WaitPlacedAsync(user, 1);
        Assert.DoesNotContain(placed, p => p.Subject == "Casino night");

        // Two recipients share one reply to DATA: accepted, delivered to the other, and a DSN to the sender.
        var m = TestMail.Text("promo@" + SieveHostFixture.External, user, "Casino weekend", "win big");
        m.To.Add(MailboxAddress.Parse("carol@" + D));
        using (var smtp = new SmtpClient())
        {
            await smtp.ConnectAsync("127.0.0.1", host.Mx, SecureSocketOptions.None);
            await smtp.SendAsync(m);
            await smtp.DisconnectAsync(true);
        }
        // carol's mailbox is shared with other tests of the class: wait for this message, not for a count.
        await Eventually.Until(async () => (await PlacedAsync("carol@" + D)).Any(p => p.Subject == "Casino weekend"),
            TimeSpan.FromSeconds(30), "the copy for the other recipient");
        await Eventually.Until(() => Task.FromResult(host.Mta.Received.Any(r => r.To.Contains("promo@" + SieveHostFixture.External)
            && Encoding.UTF8.GetString(r.Data).Contains("No gambling mail, please."))), TimeSpan.FromSeconds(40), "the DSN to the sender");
        Assert.DoesNotContain(await PlacedAsync(user), p => p.Subject == "Casino weekend");
    }

    [Fact]
    public async Task Vacation_seconds_zero_answers_every_message_and_days_only_once()
    {
        var user = "vera@" + D;
        await host.NewAccount("vera");
        await host.NewAccount("walt");
        await ActivateAsync(user, "require \"vacation-seconds\";\nvacation :seconds 0 :subject \"Auto: away\" \"Back on Monday.\";\n");
        for (var i = 0; i < 2; i++) await TestMail.SubmitAsync(host.Submissions, "walt@" + D, SmtpHostFixture.Password, user, $"Ping {i}");
        await Eventually.Until(async () => (await PlacedAsync("walt@" + D)).Count(p => p.Subject == "Auto: away") == 2,
            TimeSpan.FromSeconds(30), "a reply to each of the two messages");
    }
}

using System.Net;
using System.Net.Http.Json;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using GrainMail.Grains.Accounts;
using GrainMail.Tests.Infrastructure;

namespace GrainMail.Tests;

/// <summary>CSV import and export of a domain's departments and accounts (4.2.13) over the admin API, and what the imported accounts can do.</summary>
public sealed class DirectoryImportTests(SmtpHostFixture host) : IClassFixture<SmtpHostFixture>
{
    private HttpClient Http => host.Host.Http;

    private async Task<string> NewDomain()
    {
        var name = $"i{Guid.NewGuid():N}"[..12] + ".test";
        var r = await Http.PostAsync("/api/v1/domains", new StringContent(JsonSerializer.Serialize(new { name }), Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.Created, r.StatusCode);
        return name;
    }

    private async Task<HttpResponseMessage> Import(string domain, byte[] file, bool dryRun = false)
    {
        var content = new ByteArrayContent(file);
        content.Headers.ContentType = new MediaTypeHeaderValue("text/csv");
        return await Http.PostAsync($"/api/v1/domains/{domain}/import" + (dryRun ? "?dryRun=true" : ""), content);
    }

    private async Task<JsonElement> ImportOk(string domain, byte[] file, bool dryRun = false)
    {
        var r = await Import(domain, file, dryRun);
        var text = await r.Content.ReadAsStringAsync();
        Assert.True(r.StatusCode == HttpStatusCode.OK, text);
        return JsonDocument.Parse(text).RootElement;
    }

    private static byte[] Utf8Bom(string text) => [0xEF, 0xBB, 0xBF, .. Encoding.UTF8.GetBytes(text)];

    private async Task<List<JsonElement>> Departments(string domain) =>
        (await Http.GetFromJsonAsync<JsonElement>($"/api/v1/domains/{domain}/departments")).EnumerateArray().ToList();

    private async Task<JsonElement> Account(string address) => await Http.GetFromJsonAsync<JsonElement>($"/api/v1/accounts/{address}");

    private async Task<string> Auth(string user, string password)
    {
        var (c, _) = await RawSmtp.ConnectAsync(host.Submissions, implicitTls: true);
        await using (c)
        {
            await c.CommandAsync("EHLO client.example.org");
            return await c.CommandAsync("AUTH PLAIN " + Convert.ToBase64String(Encoding.UTF8.GetBytes($"\0{user}\0{password}")));
        }
    }

    [Fact]
    public async Task Import_creates_departments_by_path_and_working_accounts_and_a_rerun_changes_nothing()
    {
        var d = await NewDomain();
        var hash = new PasswordHasher(new PasswordHashOptions { MemoryKiB = 1024, Iterations = 1 }).Hash("imported secret");
        var csv = Utf8Bom(
            "address,displayName,department,title,quotaMB,maySendExternal,passwordHash\r\n" +
            $"li.na@{d},李娜,Sales/North/Beijing,Manager,100,false,\"{hash}\"\r\n" +
            $"wang@{d},王伟,Sales/North,,,,\r\n" +
            $"boss@{d},Boss,,,,,\r\n");
        var first = await ImportOk(d, csv);
        Assert.Equal("utf-8-bom", first.GetProperty("encoding").GetString());
        Assert.Equal((3, 3, 0, 0, 3), (first.GetProperty("rows").GetInt32(), first.GetProperty("created").GetInt32(),
            first.GetProperty("updated").GetInt32(), first.GetProperty("unchanged").GetInt32(), first.GetProperty("departmentsCreated").GetInt32()));

        var paths = (await Departments(d)).Select(x => x.GetProperty("path").GetString()).ToList();
        Assert.Equal(["", "Sales", "Sales/North", "Sales/North/Beijing"], paths);
        var li = await Account($"li.na@{d}");
        Assert.Equal("李娜", li.GetProperty("displayName").GetString());
        Assert.Equal("Sales/North/Beijing", li.GetProperty("department").GetString());
        Assert.Equal(100L * 1024 * 1024, li.GetProperty("quotaBytes").GetInt64());
        Assert.False(li.GetProperty("maySendExternal").GetBoolean());
        Assert.False(li.GetProperty("mustChangePassword").GetBoolean());
        // Without a password: no usable one, and a change is due when an administrator or SSO sets it.
        Assert.True((await Account($"wang@{d}")).GetProperty("mustChangePassword").GetBoolean());
        Assert.Equal(100L * 1024 * 1024, (await Http.GetFromJsonAsync<JsonElement>($"/api/v1/accounts/li.na@{d}/mailbox")).GetProperty("quota").GetProperty("limitBytes").GetInt64());

        // The imported accounts log in with the given hash (none without), and receive mail.
        Assert.StartsWith("235", await Auth($"li.na@{d}", "imported secret"));
        Assert.StartsWith("535", await Auth($"wang@{d}", "anything at all"));
        var (c, _) = await RawSmtp.ConnectAsync(host.Mx);
        await using (c)
        {
            await c.CommandAsync("EHLO mta.example.org");
            Assert.StartsWith("250", await c.CommandAsync("MAIL FROM:<someone@example.org>"));
            Assert.StartsWith("250", await c.CommandAsync($"RCPT TO:<wang@{d}>"));
            Assert.StartsWith("354", await c.CommandAsync("DATA"));
            Assert.StartsWith("250", await c.CommandAsync($"From: <someone@example.org>\r\nSubject: welcome\r\n\r\nhi\r\n."));
        }
        await host.WaitForMessages($"wang@{d}", 1);

        // The same file again: every row unchanged, no department made.
        var second = await ImportOk(d, csv);
        Assert.Equal((0, 0, 3, 0), (second.GetProperty("created").GetInt32(), second.GetProperty("updated").GetInt32(),
            second.GetProperty("unchanged").GetInt32(), second.GetProperty("departmentsCreated").GetInt32()));
        Assert.Equal(4, (await Departments(d)).Count);
        // A changed row is an update, and "enabled" acts at login.
        var third = await ImportOk(d, Utf8Bom($"address,enabled,title\r\nli.na@{d},false,Director\r\n"));
        Assert.Equal(1, third.GetProperty("updated").GetInt32());
        Assert.StartsWith("535", await Auth($"li.na@{d}", "imported secret"));
        Assert.Equal("Director", (await Account($"li.na@{d}")).GetProperty("title").GetString());
    }

    [Fact]
    public async Task A_dry_run_reports_every_problem_with_its_line_and_changes_nothing()
    {
        var d = await NewDomain();
        var deep = string.Join('/', Enumerable.Range(1, 13).Select(i => $"L{i}"));
        var csv = Encoding.UTF8.GetBytes(
            "address,displayName,department,enabled\n" +
            $"good@{d},Good,Team,true\n" +
            $"bad address,,,\n" +
            $"far@elsewhere.test,,,\n" +
            $"flag@{d},,,perhaps\n" +
            $"deep@{d},,{deep},\n" +
            $"good@{d},Twice,,\n");
        var report = await ImportOk(d, csv, dryRun: true);
        Assert.True(report.GetProperty("dryRun").GetBoolean());
        var errors = report.GetProperty("errors").EnumerateArray().Select(e => (e.GetProperty("line").GetInt32(), e.GetProperty("column").GetString())).ToList();
        Assert.Equal([(3, "address"), (4, "address"), (5, "enabled"), (6, "department"), (7, "address")], errors);
        Assert.Equal(1, report.GetProperty("created").GetInt32());
        Assert.Equal(1, report.GetProperty("departmentsCreated").GetInt32());
        Assert.Empty((await Http.GetFromJsonAsync<JsonElement>($"/api/v1/domains/{d}/accounts")).EnumerateArray());
        Assert.Single(await Departments(d));

        // The real import of a file with problems imports nothing and says why, as an RFC 9457 document.
        var refused = await Import(d, csv);
        Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);
        Assert.Equal("application/problem+json", refused.Content.Headers.ContentType?.MediaType);
        var problem = JsonDocument.Parse(await refused.Content.ReadAsStringAsync()).RootElement;
        Assert.Equal(5, problem.GetProperty("errors").GetArrayLength());
        Assert.Empty((await Http.GetFromJsonAsync<JsonElement>($"/api/v1/domains/{d}/accounts")).EnumerateArray());
        Assert.Single(await Departments(d));

        // A clean file's dry run changes nothing either.
        var clean = await ImportOk(d, Encoding.UTF8.GetBytes($"localPart,department\nsolo,A/B\n"), dryRun: true);
        Assert.Empty(clean.GetProperty("errors").EnumerateArray());
        Assert.Equal(2, clean.GetProperty("departmentsCreated").GetInt32());
        Assert.Single(await Departments(d));
        Assert.Equal(HttpStatusCode.NotFound, (await Import("nowhere.test", csv)).StatusCode);
    }

    [Fact]
    public async Task A_GB18030_file_from_a_Chinese_spreadsheet_keeps_its_names()
    {
        var d = await NewDomain();
        var text = $"address,displayName,department,title\r\nzhang@{d},张伟,研发部/平台组,高级工程师\r\nchen@{d},陈静,研发部,经理\r\n";
        var report = await ImportOk(d, GrainMail.Gateways.Http.Organization.Csv.CsvText.Gb18030.GetBytes(text));
        Assert.Equal("gb18030", report.GetProperty("encoding").GetString());
        Assert.Equal(2, report.GetProperty("created").GetInt32());
        var zhang = await Account($"zhang@{d}");
        Assert.Equal("张伟", zhang.GetProperty("displayName").GetString());
        Assert.Equal("高级工程师", zhang.GetProperty("title").GetString());
        Assert.Equal("研发部/平台组", zhang.GetProperty("department").GetString());
        // The same text in UTF-8 without a BOM is the same file: nothing changes.
        var again = await ImportOk(d, Encoding.UTF8.GetBytes(text));
        Assert.Equal("utf-8", again.GetProperty("encoding").GetString());
        Assert.Equal(2, again.GetProperty("unchanged").GetInt32());
    }

    [Fact]
    public async Task Export_is_UTF8_with_a_BOM_and_imports_back_unchanged()
    {
        var d = await NewDomain();
        await ImportOk(d, Utf8Bom(
            "address,displayName,department,title,employeeLevel,phone,quotaMB,maySendExternal,mayReceiveExternal,inAddressBook,enabled\r\n" +
            $"a@{d},\"Ann, \"\"A\"\"\",总部/财务,CFO,E1,+86 1,512,false,true,false,true\r\n" +
            $"b@{d},Bo,,,,,,,,,false\r\n"));
        var r = await Http.GetAsync($"/api/v1/domains/{d}/export");
        Assert.Equal(HttpStatusCode.OK, r.StatusCode);
        Assert.Equal("text/csv", r.Content.Headers.ContentType?.MediaType);
        var bytes = await r.Content.ReadAsByteArrayAsync();
        Assert.Equal([0xEF, 0xBB, 0xBF], bytes[..3]);
        var text = Encoding.UTF8.GetString(bytes[3..]);
        var lines = text.Split("\r\n", StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal("address,displayName,department,title,employeeLevel,phone,quotaMB,maySendExternal,mayReceiveExternal,inAddressBook,enabled,mustChangePassword", lines[0]);
        Assert.Equal($"a@{d},\"Ann, \"\"A\"\"\",总部/财务,CFO,E1,+86 1,512,false,true,false,true,true", lines[1]);
        Assert.StartsWith($"b@{d},Bo,,,,,", lines[2]);
        Assert.EndsWith(",true,true,true,false,true", lines[2]);

        var back = await ImportOk(d, bytes);
        Assert.Equal((0, 0, 2), (back.GetProperty("created").GetInt32(), back.GetProperty("updated").GetInt32(), back.GetProperty("unchanged").GetInt32()));
    }
}

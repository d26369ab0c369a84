using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using GrainMail.Tests.Infrastructure;

namespace GrainMail.Tests;

/// <summary>
/// Deleted-mail recovery (issue 17, 4.3.10) as a user and an administrator reach it on a real host:
/// the user's own API over HTTPS, the admin API, the quota, and an IMAP session that stays open
/// on the folder a message comes back to.
/// </summary>
public sealed class DeletedMailApiTests(AddressBookHostFixture fixture) : IClassFixture<AddressBookHostFixture>
{
    private const string Pw = "correct horse battery";

    private HttpClient Admin => fixture.Host.Http;

    private async Task<long> UsedBytes(string address) =>
        (await Admin.GetFromJsonAsync<JsonElement>($"/api/v1/accounts/{address}/mailbox")).GetProperty("quota").GetProperty("usedBytes").GetInt64();

    private static async Task Append(RawImap c, string folder, string subject)
    {
        var bytes = Encoding.UTF8.GetBytes($"From: Ann <ann@example.org>\r\nSubject: {subject}\r\n\r\nbody of {subject}\r\n");
        var tag = c.NextTag();
        await c.SendRawAsync($"{tag} APPEND {folder} {{{bytes.Length}+}}\r\n");
        await c.SendRawAsync([.. bytes, .. "\r\n"u8]);
        Assert.True((await c.ReadTaggedAsync(tag)).Ok);
    }

    [Fact]
    public async Task A_user_lists_and_restores_what_they_deleted_and_an_open_session_sees_it_come_back()
    {
        var domain = $"dm{Guid.NewGuid():N}"[..12] + ".test";
        Assert.Equal(HttpStatusCode.Created, (await Admin.PostAsJsonAsync("/api/v1/domains", new { name = domain })).StatusCode);
        Assert.Equal(HttpStatusCode.Created, (await Admin.PostAsJsonAsync($"/api/v1/domains/{domain}/accounts", new { localPart = "u", password = Pw })).StatusCode);
        var user = $"u@{domain}";
        var imaps = fixture.Host.Listening.Imaps;

        await using var watcher = await RawImap.LoginAsync(imaps, user, Pw);
        await using var c = await RawImap.LoginAsync(imaps, user, Pw);
        await Append(c, "INBOX", "first");
        await Append(c, "INBOX", "second");
        Assert.True((await c.CommandAsync("CREATE Work")).Ok);
        await Append(c, "Work", "report");
        var full = await UsedBytes(user);

        Assert.True((await watcher.CommandAsync("SELECT INBOX")).Ok);
        await c.CommandAsync("SELECT INBOX");
        await c.CommandAsync("UID STORE 2 +FLAGS.SILENT (\\Deleted)");
        Assert.True((await c.CommandAsync("EXPUNGE")).Ok);
        await c.CommandAsync("UNSELECT");
        Assert.True((await c.CommandAsync("DELETE Work")).Ok);
        await Eventually.Until(async () => (await watcher.CommandAsync("NOOP")).Untagged.Contains("* 2 EXPUNGE"),
            TimeSpan.FromSeconds(10), "the expunge announced to the open session");
        // The quota counts what the user sees.
        var visible = await UsedBytes(user);
        Assert.True(visible < full);

        using var me = fixture.UserClient(user, Pw);
        var listed = await me.GetFromJsonAsync<JsonElement>("/api/v1/me/deleted");
        Assert.Equal(2, listed.GetArrayLength());
        var second = listed.EnumerateArray().Single(e => e.GetProperty("subject").GetString() == "second");
        var report = listed.EnumerateArray().Single(e => e.GetProperty("subject").GetString() == "report");
        Assert.Equal("INBOX", second.GetProperty("folder").GetString());
        Assert.Equal("Work", report.GetProperty("folder").GetString());
        Assert.Contains("ann@example.org", second.GetProperty("from").GetString());
        Assert.Equal(second.GetProperty("deletedAt").GetDateTimeOffset().AddDays(7), second.GetProperty("recoverableUntil").GetDateTimeOffset());

        // The user restores "second": back in INBOX under a new UID, and the open session hears EXISTS.
        var restored = await me.PostAsJsonAsync("/api/v1/me/deleted/restore", new { ids = new[] { second.GetProperty("id").GetInt64() } });
        Assert.Equal(HttpStatusCode.OK, restored.StatusCode);
        var where = (await restored.Content.ReadFromJsonAsync<JsonElement>())[0];
        Assert.Equal("INBOX", where.GetProperty("folder").GetString());
        Assert.Equal(3, where.GetProperty("uid").GetInt64());
        await Eventually.Until(async () => (await watcher.CommandAsync("NOOP")).Untagged.Contains("* 2 EXISTS"),
            TimeSpan.FromSeconds(10), "the restored message announced to the open session");
        var fetched = await watcher.CommandAsync("UID FETCH 3 (BODY.PEEK[HEADER.FIELDS (SUBJECT)])");
        Assert.Contains("Subject: second", fetched.Text);

        // Restoring twice is refused; another user's credentials see nothing of it.
        Assert.Equal(HttpStatusCode.Conflict, (await me.PostAsJsonAsync("/api/v1/me/deleted/restore", new { ids = new[] { second.GetProperty("id").GetInt64() } })).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await me.PostAsJsonAsync("/api/v1/me/deleted/restore", new { ids = Array.Empty<long>() })).StatusCode);

        // The administrator restores the report for the user: its folder is gone, so it goes to INBOX.
        var adminList = await Admin.GetFromJsonAsync<JsonElement>($"/api/v1/accounts/{user}/deleted");
        Assert.Equal(report.GetProperty("id").GetInt64(), adminList.EnumerateArray().Single().GetProperty("id").GetInt64());
        var byAdmin = await Admin.PostAsJsonAsync($"/api/v1/accounts/{user}/deleted/restore", new { ids = new[] { report.GetProperty("id").GetInt64() } });
        Assert.Equal(HttpStatusCode.OK, byAdmin.StatusCode);
        Assert.Equal("INBOX", (await byAdmin.Content.ReadFromJsonAsync<JsonElement>())[0].GetProperty("folder").GetString());
        Assert.Equal(0, (await me.GetFromJsonAsync<JsonElement>("/api/v1/me/deleted")).GetArrayLength());
        Assert.Equal(full, await UsedBytes(user));

        // The domain's window is the administrator's to set, within bounds.
        Assert.Equal(7, (await Admin.GetFromJsonAsync<JsonElement>($"/api/v1/domains/{domain}/recovery")).GetProperty("recoveryDays").GetInt32());
        Assert.Equal(HttpStatusCode.OK, (await Admin.PutAsJsonAsync($"/api/v1/domains/{domain}/recovery", new { recoveryDays = 30 })).StatusCode);
        Assert.Equal(30, (await Admin.GetFromJsonAsync<JsonElement>($"/api/v1/domains/{domain}/recovery")).GetProperty("recoveryDays").GetInt32());
        Assert.Equal(HttpStatusCode.BadRequest, (await Admin.PutAsJsonAsync($"/api/v1/domains/{domain}/recovery", new { recoveryDays = -1 })).StatusCode);
        // The user API is the user's: without credentials, 401.
        using var nobody = fixture.UserClient();
        Assert.Equal(HttpStatusCode.Unauthorized, (await nobody.GetAsync("/api/v1/me/deleted")).StatusCode);
    }
}

using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using GrainMail.Tests.Infrastructure;

namespace GrainMail.Tests;

/// <summary>
/// JMAP uploads (RFC 8620 6.1) in the blob store: a blob uploaded before a host restart is imported
/// after it, maxSizeUpload holds for a body without a declared length (enforced while streaming),
/// and an upload is gone once its lifetime has passed on the (moved) clock.
/// </summary>
public sealed class JmapUploadTests(JmapExtrasHost fixture) : IClassFixture<JmapExtrasHost>
{
    private static byte[] Message(string user, string subject, int bodyBytes)
    {
        var sb = new StringBuilder();
        sb.Append("From: a@example.com\r\nTo: ").Append(user).Append("\r\nSubject: ").Append(subject)
          .Append("\r\nMessage-ID: <").Append(Guid.NewGuid().ToString("N")).Append("@example.com>\r\nDate: Tue, 1 Dec 2026 10:00:00 +0000\r\n\r\n");
        var line = "0123456789abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxyz\r\n";
        while (sb.Length < bodyBytes) sb.Append(line);
        return Encoding.ASCII.GetBytes(sb.ToString());
    }

    private static async Task<JmapClient> ClientAsync(JmapExtrasHost host, string user)
    {
        var jmap = new JmapClient(host.User(user));
        await jmap.LoadSessionAsync();
        return jmap;
    }

    private static async Task<(HttpStatusCode Status, JsonNode? Body)> UploadAsync(JmapClient jmap, HttpContent content)
    {
        var r = await jmap.Http.PostAsync($"/jmap/upload/{jmap.AccountId}/", content);
        var text = await r.Content.ReadAsStringAsync();
        return (r.StatusCode, text.Length == 0 ? null : JsonNode.Parse(text));
    }

    private static Task<JmapResponse> ImportAsync(JmapClient jmap, string blobId, string mailboxId) =>
        jmap.CallAsync("Email/import", new JsonObject
        {
            ["accountId"] = jmap.AccountId,
            ["emails"] = new JsonObject { ["e"] = new JsonObject { ["blobId"] = blobId, ["mailboxIds"] = new JsonObject { [mailboxId] = true } } },
        });

    private static async Task<string> InboxAsync(JmapClient jmap)
    {
        var list = (JsonArray)(await jmap.CallAsync("Mailbox/get", new { accountId = jmap.AccountId })).Of("Mailbox/get")["list"]!;
        return (string)list.First(m => (string?)m!["role"] == "inbox")!["id"]!;
    }

    [Fact]
    public async Task An_upload_survives_a_host_restart_and_is_imported_and_downloaded_after_it()
    {
        var user = await fixture.NewAccount(await fixture.NewDomain("up"), "ann");
        var raw = Message(user, "Uploaded before the restart", 700_000); // three storage pieces
        string blobId;
        using (var before = await ClientAsync(fixture, user))
        {
            using var content = new ByteArrayContent(raw);
            content.Headers.ContentType = new MediaTypeHeaderValue("message/rfc822");
            var (status, body) = await UploadAsync(before, content);
            Assert.Equal(HttpStatusCode.Created, status);
            blobId = (string)body!["blobId"]!;
            Assert.Equal(raw.Length, (long)body["size"]!);
            Assert.Equal("message/rfc822", (string)body["type"]!);
        }

        await fixture.RestartAsync();

        using var after = await ClientAsync(fixture, user);
        var download = await after.Http.GetAsync($"/jmap/download/{after.AccountId}/{blobId}/m.eml");
        Assert.Equal(HttpStatusCode.OK, download.StatusCode);
        Assert.Equal(raw, await download.Content.ReadAsByteArrayAsync());
        var imported = (await ImportAsync(after, blobId, await InboxAsync(after))).Of("Email/import");
        var id = (string)imported["created"]!["e"]!["id"]!;
        var email = (await after.CallAsync("Email/get", new { accountId = after.AccountId, ids = new[] { id }, properties = new[] { "subject", "size" } })).Of("Email/get")["list"]![0]!;
        Assert.Equal("Uploaded before the restart", (string)email["subject"]!);
        Assert.Equal(raw.Length, (long)email["size"]!);

        // Another account cannot use the blob id.
        var other = await fixture.NewAccount(user[(user.IndexOf('@') + 1)..], "bob");
        using var bob = await ClientAsync(fixture, other);
        Assert.Equal(HttpStatusCode.NotFound, (await bob.Http.GetAsync($"/jmap/download/{bob.AccountId}/{blobId}/m.eml")).StatusCode);
    }

    [Fact]
    public async Task MaxSizeUpload_is_enforced_while_streaming_a_body_of_unknown_length()
    {
        var user = await fixture.NewAccount(await fixture.NewDomain("big"), "cat");
        using var jmap = await ClientAsync(fixture, user);
        var max = (long)jmap.Session["capabilities"]![JmapClient.Core]!["maxSizeUpload"]!;
        using var content = new StreamContent(new PatternStream(max + 300_000));
        content.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
        content.Headers.ContentLength = null; // chunked: the gateway only learns the size as it reads
        var (status, problem) = await UploadAsync(jmap, content);
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, status);
        Assert.Equal("urn:ietf:params:jmap:error:limit", (string)problem!["type"]!);
        Assert.Equal("maxSizeUpload", (string)problem["limit"]!);
        // Exactly small enough is fine, on the same client.
        using var small = new ByteArrayContent(new byte[1000]);
        Assert.Equal(HttpStatusCode.Created, (await UploadAsync(jmap, small)).Status);
    }

    [Fact]
    public async Task An_upload_expires_after_its_lifetime()
    {
        var user = await fixture.NewAccount(await fixture.NewDomain("ex"), "dan");
        using var jmap = await ClientAsync(fixture, user);
        using var content = new ByteArrayContent(Message(user, "Too late", 2000));
        var (status, body) = await UploadAsync(jmap, content);
        Assert.Equal(HttpStatusCode.Created, status);
        var blobId = (string)body!["blobId"]!;
        var inbox = await InboxAsync(jmap);

        await fixture.AdvanceClockAsync(TimeSpan.FromHours(25)); // past Contracts.Uploads.UploadLimits.Lifetime

        var refused = (await ImportAsync(jmap, blobId, inbox)).Of("Email/import");
        Assert.Equal("blobNotFound", (string)refused["notCreated"]!["e"]!["type"]!);
        Assert.Equal(HttpStatusCode.NotFound, (await jmap.Http.GetAsync($"/jmap/download/{jmap.AccountId}/{blobId}/m.eml")).StatusCode);
    }

    /// <summary>A readable stream of <paramref name="length"/> generated bytes (no declared length).</summary>
    private sealed class PatternStream(long length) : Stream
    {
        private long _position;

        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => _position; set => throw new NotSupportedException(); }

        public override int Read(byte[] buffer, int offset, int count)
        {
            var n = (int)Math.Min(count, length - _position);
            for (var i = 0; i < n; i++) buffer[offset + i] = (byte)('a' + ((_position + i) % 26));
            _position += n;
            return n;
        }

        public override void Flush() { }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}

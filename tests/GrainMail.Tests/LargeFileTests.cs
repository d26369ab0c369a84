using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text.Json;
using GrainMail.Tests.Infrastructure;

namespace GrainMail.Tests;

/// <summary>
/// Large attachments by link (seed 4.1.3) over real HTTPS: a resumable upload (create, PATCH with
/// Upload-Offset, HEAD to resume) interrupted and resumed, downloads with Range (206, 416), the
/// explicit limits, an expired link (410, the host's clock moved) and a forged one (404).
/// </summary>
public sealed class LargeFileTests(JmapExtrasHost fixture) : IClassFixture<JmapExtrasHost>
{
    private const string OffsetType = "application/offset+octet-stream";

    private static byte[] Bytes(int length, int seed)
    {
        var data = new byte[length];
        new Random(seed).NextBytes(data);
        return data;
    }

    private static async Task<JsonElement> Create(HttpClient user, string name, long size, HttpStatusCode expected = HttpStatusCode.Created)
    {
        var r = await user.PostAsJsonAsync("/jmap/large", new { name, type = "application/zip", size });
        Assert.True(r.StatusCode == expected, $"{(int)r.StatusCode} {await r.Content.ReadAsStringAsync()}");
        return await r.Content.ReadFromJsonAsync<JsonElement>();
    }

    private static HttpRequestMessage Patch(string url, long offset, HttpContent body)
    {
        body.Headers.ContentType = new MediaTypeHeaderValue(OffsetType);
        var req = new HttpRequestMessage(HttpMethod.Patch, url) { Content = body };
        req.Headers.Add("Upload-Offset", offset.ToString());
        return req;
    }

    private static async Task<long> HeadOffset(HttpClient user, string url)
    {
        var r = await user.SendAsync(new HttpRequestMessage(HttpMethod.Head, url));
        Assert.Equal(HttpStatusCode.OK, r.StatusCode);
        return long.Parse(r.Headers.GetValues("Upload-Offset").Single());
    }

    /// <summary>A body that sends <paramref name="count"/> bytes and then breaks the connection, as a dropped upload does.</summary>
    private sealed class BrokenContent(byte[] data, int count) : HttpContent
    {
        protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context)
        {
            await stream.WriteAsync(data.AsMemory(0, count));
            await stream.FlushAsync();
            throw new IOException("connection dropped on purpose");
        }

        protected override bool TryComputeLength(out long length)
        {
            length = data.Length;
            return true;
        }
    }

    [Fact]
    public async Task An_interrupted_upload_resumes_from_the_offset_HEAD_tells_and_the_download_resumes_with_Range()
    {
        var domain = await fixture.NewDomain("l");
        var alice = await fixture.NewAccount(domain, "alice");
        using var user = fixture.User(alice);
        var data = Bytes(5 * 1024 * 1024 + 12345, 7); // larger than a request may carry in these tests' two halves
        var created = await Create(user, "设计稿 final.zip", data.Length);
        var upload = new Uri(created.GetProperty("uploadUrl").GetString()!).PathAndQuery;
        var link = created.GetProperty("downloadUrl").GetString()!;
        Assert.Equal(0, await HeadOffset(user, upload));

        // Not complete yet: the link answers nothing.
        using var anyone = fixture.User();
        Assert.Equal(HttpStatusCode.NotFound, (await anyone.GetAsync(new Uri(link).PathAndQuery)).StatusCode);

        // 3 MB sent of a 4 MB request, then the connection drops.
        await Assert.ThrowsAnyAsync<Exception>(() => user.SendAsync(Patch(upload, 0, new BrokenContent(data[..(4 * 1024 * 1024)], 3 * 1024 * 1024))));
        long offset = 0;
        await Eventually.Until(async () => (offset = await HeadOffset(user, upload)) > 0, TimeSpan.FromSeconds(20), "the stored part of the broken request");
        Assert.True(offset <= 3 * 1024 * 1024, $"offset {offset} beyond what was sent");

        // The wrong offset is refused with the right one (the server may still be storing what arrived
        // of the broken request, so the right one is at least what HEAD said).
        var wrong = await user.SendAsync(Patch(upload, 3 * 1024 * 1024 + 1, new ByteArrayContent([1, 2, 3])));
        Assert.Equal(HttpStatusCode.Conflict, wrong.StatusCode);
        Assert.InRange(long.Parse(wrong.Headers.GetValues("Upload-Offset").Single()), offset, 3 * 1024 * 1024);
        // Bytes of another type are refused.
        var plain = new HttpRequestMessage(HttpMethod.Patch, upload) { Content = new ByteArrayContent([1]) };
        plain.Headers.Add("Upload-Offset", offset.ToString());
        Assert.Equal(HttpStatusCode.UnsupportedMediaType, (await user.SendAsync(plain)).StatusCode);

        // Resumed from there, in requests of at most 4 MiB.
        // A 409 tells the offset to go on from, as a client following the protocol does.
        var conflicts = 0;
        while (offset < data.Length)
        {
            var n = (int)Math.Min(4 * 1024 * 1024, data.Length - offset);
            // Expect: 100-continue, so that a 409 comes before the body is sent.
            var patch = Patch(upload, offset, new ByteArrayContent(data, (int)offset, n));
            patch.Headers.ExpectContinue = true;
            var r = await user.SendAsync(patch);
            if (r.StatusCode == HttpStatusCode.Conflict && ++conflicts < 500)
            {
                offset = long.Parse(r.Headers.GetValues("Upload-Offset").Single());
                continue;
            }
            Assert.True(r.StatusCode == HttpStatusCode.NoContent, await r.Content.ReadAsStringAsync());
            offset = long.Parse(r.Headers.GetValues("Upload-Offset").Single());
        }
        var status = await user.GetFromJsonAsync<JsonElement>(upload);
        Assert.True(status.GetProperty("complete").GetBoolean());
        var expires = status.GetProperty("expires").GetDateTimeOffset();
        Assert.InRange(expires, DateTimeOffset.UtcNow.AddDays(29), DateTimeOffset.UtcNow.AddDays(31));
        // Complete: no more bytes.
        Assert.Equal(HttpStatusCode.Conflict, (await user.SendAsync(Patch(upload, offset, new ByteArrayContent([1])))).StatusCode);

        // Anyone with the link downloads it whole (no account needed)...
        var path = new Uri(link).PathAndQuery;
        var whole = await anyone.GetAsync(path);
        Assert.Equal(HttpStatusCode.OK, whole.StatusCode);
        Assert.Equal("bytes", whole.Headers.AcceptRanges.Single());
        Assert.Equal("application/zip", whole.Content.Headers.ContentType!.MediaType);
        Assert.Equal("设计稿 final.zip", whole.Content.Headers.ContentDisposition!.FileNameStar);
        Assert.Equal(SHA256.HashData(data), SHA256.HashData(await whole.Content.ReadAsByteArrayAsync()));

        // ...and a download that broke off resumes with Range: 206 with exactly the rest.
        var from = 1_000_003;
        var rest = new HttpRequestMessage(HttpMethod.Get, path);
        rest.Headers.Range = new RangeHeaderValue(from, null);
        rest.Headers.IfRange = new RangeConditionHeaderValue(whole.Headers.ETag!);
        var partial = await anyone.SendAsync(rest);
        Assert.Equal(HttpStatusCode.PartialContent, partial.StatusCode);
        Assert.Equal($"bytes {from}-{data.Length - 1}/{data.Length}", partial.Content.Headers.ContentRange!.ToString());
        Assert.Equal(data[from..], await partial.Content.ReadAsByteArrayAsync());
        var middle = new HttpRequestMessage(HttpMethod.Get, path);
        middle.Headers.Range = new RangeHeaderValue(262_140, 262_150); // across two stored pieces
        Assert.Equal(data[262_140..262_151], await (await anyone.SendAsync(middle)).Content.ReadAsByteArrayAsync());
        var suffix = new HttpRequestMessage(HttpMethod.Get, path);
        suffix.Headers.Range = new RangeHeaderValue(null, 100);
        Assert.Equal(data[^100..], await (await anyone.SendAsync(suffix)).Content.ReadAsByteArrayAsync());
        var past = new HttpRequestMessage(HttpMethod.Get, path);
        past.Headers.Range = new RangeHeaderValue(data.Length, null);
        var unsatisfiable = await anyone.SendAsync(past);
        Assert.Equal(HttpStatusCode.RequestedRangeNotSatisfiable, unsatisfiable.StatusCode);
        Assert.Equal($"bytes */{data.Length}", unsatisfiable.Content.Headers.ContentRange!.ToString());

        // A forged or altered token is a 404, like an unknown one.
        var token = path.Split('/')[4];
        var forged = path.Replace(token, token[..^2] + (token[^2] == 'A' ? "BB" : "AA"));
        Assert.Equal(HttpStatusCode.NotFound, (await anyone.GetAsync(forged)).StatusCode);
        var madeUp = Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)).TrimEnd('=').Replace('+', '-').Replace('/', '_');
        Assert.Equal(HttpStatusCode.NotFound, (await anyone.GetAsync("/jmap/large/d/" + madeUp)).StatusCode);

        // Another account cannot see or touch the upload.
        var bob = await fixture.NewAccount(domain, "bob");
        using var bobClient = fixture.User(bob);
        Assert.Equal(HttpStatusCode.NotFound, (await bobClient.GetAsync(upload)).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await bobClient.DeleteAsync(upload)).StatusCode);

        // Nothing readable in the database: names and bytes are sealed.
        await using var conn = new Npgsql.NpgsqlConnection(fixture.ConnectionString);
        await conn.OpenAsync();
        await using var cmd = new Npgsql.NpgsqlCommand("SELECT count(*) FROM large_file WHERE position(convert_to('final.zip', 'UTF8') in sealed_name) > 0", conn);
        Assert.Equal(0L, (long)(await cmd.ExecuteScalarAsync())!);
    }

    [Fact]
    public async Task Limits_are_explicit_and_an_expired_link_is_410()
    {
        var domain = await fixture.NewDomain("e");
        var carol = await fixture.NewAccount(domain, "carol");
        using var user = fixture.User(carol);
        using var anyone = fixture.User();

        // Up to 3 GiB per file; a name is required.
        await Create(user, "too big.iso", 3L * 1024 * 1024 * 1024 + 1, HttpStatusCode.RequestEntityTooLarge);
        await Create(user, "", 10, HttpStatusCode.BadRequest);
        var big = await Create(user, "three.iso", 3L * 1024 * 1024 * 1024);
        var bigUrl = new Uri(big.GetProperty("uploadUrl").GetString()!).PathAndQuery;
        // One request carries at most 16 MiB.
        // (Expect: 100-continue, so that the refusal comes before the body is sent.)
        var over = Patch(bigUrl, 0, new ByteArrayContent(new byte[16 * 1024 * 1024 + 1]));
        over.Headers.ExpectContinue = true;
        var tooMuch = await user.SendAsync(over);
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, tooMuch.StatusCode);
        Assert.Equal(HttpStatusCode.NoContent, (await user.DeleteAsync(bigUrl)).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await user.SendAsync(new HttpRequestMessage(HttpMethod.Head, bigUrl))).StatusCode);

        // Never past the declared length.
        var small = await Create(user, "notes.txt", 10);
        var smallUrl = new Uri(small.GetProperty("uploadUrl").GetString()!).PathAndQuery;
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, (await user.SendAsync(Patch(smallUrl, 0, new ByteArrayContent(new byte[11])))).StatusCode);
        // Without an account: no upload.
        Assert.Equal(HttpStatusCode.Unauthorized, (await anyone.PostAsJsonAsync("/jmap/large", new { name = "x", size = 1 })).StatusCode);

        // The domain keeps links for 2 days; the clock moves 3 days on: 410 Gone.
        var policy = await fixture.Super.PutAsJsonAsync($"/api/v1/domains/{domain}/large-files", new { linkDays = 2 });
        Assert.Equal(HttpStatusCode.OK, policy.StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await fixture.Super.PutAsJsonAsync($"/api/v1/domains/{domain}/large-files", new { linkDays = 0 })).StatusCode);
        var data = Bytes(10, 3);
        Assert.Equal(HttpStatusCode.NoContent, (await user.SendAsync(Patch(smallUrl, 0, new ByteArrayContent(data)))).StatusCode);
        var status = await user.GetFromJsonAsync<JsonElement>(smallUrl);
        Assert.InRange(status.GetProperty("expires").GetDateTimeOffset(), DateTimeOffset.UtcNow.AddDays(1.9), DateTimeOffset.UtcNow.AddDays(2.1));
        var link = new Uri(status.GetProperty("downloadUrl").GetString()!).PathAndQuery;
        Assert.Equal(data, await anyone.GetByteArrayAsync(link));
        await fixture.AdvanceClockAsync(TimeSpan.FromDays(3));
        try
        {
            await Eventually.Until(async () => (await anyone.GetAsync(link)).StatusCode == HttpStatusCode.Gone, TimeSpan.FromSeconds(20), "410 for the expired link");
        }
        finally
        {
            await fixture.AdvanceClockAsync(TimeSpan.FromDays(-3));
        }
    }
}

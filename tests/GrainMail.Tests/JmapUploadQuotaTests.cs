using System.Net;
using System.Text.Json.Nodes;
using GrainMail.Tests.Infrastructure;

namespace GrainMail.Tests;

/// <summary>A JMAP host whose per-account upload quota is 600,000 octets instead of 1 GiB (GRAINMAIL_JMAP_UPLOAD_QUOTA).</summary>
public sealed class JmapSmallUploadQuotaHost : IAsyncLifetime
{
    public const long Quota = 600_000;

    public JmapHostFixture Jmap { get; } = new() { Environment = new Dictionary<string, string> { ["GRAINMAIL_JMAP_UPLOAD_QUOTA"] = Quota.ToString() } };

    public ValueTask InitializeAsync() => Jmap.InitializeAsync();

    public ValueTask DisposeAsync() => Jmap.DisposeAsync();
}

/// <summary>
/// The per-account quota of live uploads (default 1 GiB): an account cannot fill the store with
/// blobs it never uses. Tested with a small configured quota; the check is the same code.
/// </summary>
public sealed class JmapUploadQuotaTests(JmapSmallUploadQuotaHost host) : IClassFixture<JmapSmallUploadQuotaHost>
{
    private static async Task<(HttpStatusCode Status, JsonNode? Body)> UploadAsync(JmapClient jmap, int bytes)
    {
        using var content = new ByteArrayContent(new byte[bytes]);
        var r = await jmap.Http.PostAsync($"/jmap/upload/{jmap.AccountId}/", content);
        var text = await r.Content.ReadAsStringAsync();
        return (r.StatusCode, text.Length == 0 ? null : JsonNode.Parse(text));
    }

    [Fact]
    public async Task An_upload_that_would_pass_the_accounts_quota_is_refused_and_other_accounts_are_not_affected()
    {
        var user = await host.Jmap.NewAccountAsync("up");
        using var jmap = await host.Jmap.LoginAsync(user);
        // Exactly up to the quota is fine (two uploads of half of it, streamed in 256 KiB pieces).
        Assert.Equal(HttpStatusCode.Created, (await UploadAsync(jmap, (int)JmapSmallUploadQuotaHost.Quota / 2)).Status);
        Assert.Equal(HttpStatusCode.Created, (await UploadAsync(jmap, (int)JmapSmallUploadQuotaHost.Quota / 2)).Status);

        // One octet more is the limit problem, naming the quota.
        var (status, problem) = await UploadAsync(jmap, 1);
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, status);
        Assert.Equal("urn:ietf:params:jmap:error:limit", (string)problem!["type"]!);
        Assert.Equal("uploadQuota", (string)problem["limit"]!);
        Assert.Contains(JmapSmallUploadQuotaHost.Quota.ToString(), (string)problem["detail"]!);

        // Another account has its own quota.
        var other = await host.Jmap.NewAccountAsync("up2");
        using var otherJmap = await host.Jmap.LoginAsync(other);
        Assert.Equal(HttpStatusCode.Created, (await UploadAsync(otherJmap, 100_000)).Status);
    }
}

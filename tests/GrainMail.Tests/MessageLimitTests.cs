using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using GrainMail.Tests.Infrastructure;

namespace GrainMail.Tests;

/// <summary>A host whose message limits (section GrainMail:Messages) are far below the defaults.</summary>
public sealed class SmallMessageLimitsHostFixture : SmtpHostFixture
{
    public const int MaxMessageBytes = 20_000;
    public const int MaxHeaderFields = 8;

    protected override IReadOnlyDictionary<string, string>? Environment => new Dictionary<string, string>
    {
        ["GrainMail__Messages__MaxMessageBytes"] = MaxMessageBytes.ToString(System.Globalization.CultureInfo.InvariantCulture),
        ["GrainMail__Messages__MaxHeaderFields"] = MaxHeaderFields.ToString(System.Globalization.CultureInfo.InvariantCulture),
    };
}

/// <summary>
/// One set of message limits, configured once, holds at every way in: SMTP (552 5.3.4), IMAP
/// APPEND (NO [TOOBIG] for the size, NO [LIMIT] for the header) and the admin API (413).
/// </summary>
public sealed class MessageLimitTests(SmallMessageLimitsHostFixture host) : IClassFixture<SmallMessageLimitsHostFixture>
{
    private const string D = SmtpHostFixture.Domain;

    /// <summary>Nine header fields: one more than the configured limit, far below the default 1,000.</summary>
    private static readonly byte[] TooManyFields = Encoding.ASCII.GetBytes(
        "Subject: many\r\n" + string.Concat(Enumerable.Range(0, SmallMessageLimitsHostFixture.MaxHeaderFields).Select(i => $"X-N{i}: v\r\n")) + "\r\nbody\r\n");

    /// <summary>Within the header limit, one byte over the size limit.</summary>
    private static readonly byte[] TooLarge = Message(SmallMessageLimitsHostFixture.MaxMessageBytes + 1);

    /// <summary>Room left for the Return-Path: and Received: SMTP adds, which count towards the stored size.</summary>
    private static readonly byte[] Fits = Message(SmallMessageLimitsHostFixture.MaxMessageBytes - 1000);

    private static byte[] Message(int size)
    {
        var head = "Subject: size\r\n\r\n";
        return Encoding.ASCII.GetBytes(head + new string('x', size - head.Length - 2) + "\r\n");
    }

    private static void Code(string expected, string reply) =>
        Assert.True(reply.StartsWith(expected, StringComparison.Ordinal), $"expected '{expected}…', got '{reply}'");

    private async Task<string> NewUser()
    {
        var local = "m" + Guid.NewGuid().ToString("N")[..10];
        await host.NewAccount(local);
        return $"{local}@{D}";
    }

    [Fact]
    public async Task SMTP_advertises_the_configured_size_and_refuses_beyond_either_limit_with_552_5_3_4()
    {
        var user = await NewUser();
        var (c, _) = await RawSmtp.ConnectAsync(host.Mx);
        await using (c)
        {
            var ehlo = await c.CommandAsync("EHLO client.example.org");
            Assert.Contains($"SIZE {SmallMessageLimitsHostFixture.MaxMessageBytes}", ehlo);
            Code("552 5.3.4", await c.CommandAsync($"MAIL FROM:<s@example.org> SIZE={TooLarge.Length}"));

            Code("250", await c.CommandAsync("MAIL FROM:<s@example.org>"));
            Code("250", await c.CommandAsync($"RCPT TO:<{user}>"));
            Code("354", await c.CommandAsync("DATA"));
            await c.SendRawAsync([.. TooLarge, .. ".\r\n"u8]);
            Code("552 5.3.4", await c.ReadReplyAsync());

            Code("250", await c.CommandAsync("MAIL FROM:<s@example.org>"));
            Code("250", await c.CommandAsync($"RCPT TO:<{user}>"));
            Code("354", await c.CommandAsync("DATA"));
            await c.SendRawAsync([.. TooManyFields, .. ".\r\n"u8]);
            Code("552 5.3.4", await c.ReadReplyAsync());

            Code("250", await c.CommandAsync("MAIL FROM:<s@example.org>"));
            Code("250", await c.CommandAsync($"RCPT TO:<{user}>"));
            Code("354", await c.CommandAsync("DATA"));
            await c.SendRawAsync([.. Fits, .. ".\r\n"u8]);
            Code("250 2.0.0", await c.ReadReplyAsync());
        }
        Assert.Single(await host.WaitForMessages(user, 1));
    }

    private static async Task<ImapResponse> Append(RawImap c, byte[] message)
    {
        var tag = c.NextTag();
        await c.SendRawAsync($"{tag} APPEND INBOX {{{message.Length}+}}\r\n");
        await c.SendRawAsync([.. message, .. "\r\n"u8]);
        return await c.ReadTaggedAsync(tag);
    }

    [Fact]
    public async Task IMAP_APPEND_refuses_beyond_the_configured_size_with_TOOBIG_and_header_with_LIMIT()
    {
        var user = await NewUser();
        await using var c = await RawImap.LoginAsync(host.Imaps, user, SmtpHostFixture.Password);
        var caps = await c.CommandAsync("CAPABILITY");
        Assert.Contains($"APPENDLIMIT={SmallMessageLimitsHostFixture.MaxMessageBytes}", caps.Untagged[0]);
        // A synchronising literal over the limit is refused before it is sent.
        await c.SendRawAsync($"a1 APPEND INBOX {{{TooLarge.Length}}}\r\n");
        Assert.StartsWith("a1 NO [TOOBIG]", await c.ReadLineAsync());

        Assert.StartsWith("NO [LIMIT]", (await Append(c, TooManyFields)).Tagged);
        Assert.StartsWith("OK [APPENDUID", (await Append(c, Fits)).Tagged);
        Assert.Equal(1, await host.InboxCount(user));
    }

    private Task<HttpResponseMessage> PostMessage(string to, byte[] raw) =>
        host.Post("/api/v1/messages", new { from = "api@example.org", to = new[] { to }, raw = Convert.ToBase64String(raw) });

    [Fact]
    public async Task The_admin_API_refuses_beyond_either_configured_limit_with_413()
    {
        var user = await NewUser();
        foreach (var message in new[] { TooLarge, TooManyFields })
        {
            var r = await PostMessage(user, message);
            Assert.Equal(HttpStatusCode.RequestEntityTooLarge, r.StatusCode);
            Assert.Equal("application/problem+json", r.Content.Headers.ContentType?.MediaType);
            Assert.Equal(413, (await r.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("status").GetInt32());
        }
        Assert.Equal(HttpStatusCode.Accepted, (await PostMessage(user, Fits)).StatusCode);
        Assert.Single(await host.WaitForMessages(user, 1));
    }
}

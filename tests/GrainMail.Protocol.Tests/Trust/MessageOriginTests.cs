using System.Text;
using GrainMail.Trust.Scoring;
using MimeKit;

namespace GrainMail.Protocol.Tests.Trust;

/// <summary>The X-Spam-Origin header: what a user's Junk move may correct, and only when we wrote it.</summary>
public sealed class MessageOriginTests
{
    private static readonly OriginStamp Stamp = new(Encoding.UTF8.GetBytes("origin key of the node"));

    public static TheoryData<string?, string?, bool> Origins => new()
    {
        { "net:192.0.2.0/24", "domain:example.com", true },
        { "net:2001:db8:1:2::/64", null, false },
        { null, "domain:example.org", true },
        { null, null, false },
    };

    [Theory]
    [MemberData(nameof(Origins))]
    public void An_origin_reads_back_from_the_stored_message(string? net, string? domain, bool spam)
    {
        var origin = new MessageOrigin(net, domain, spam);
        var message = MimeMessage.Load(new MemoryStream(Encoding.ASCII.GetBytes(Stamp.Header(origin) + "Subject: x\r\n\r\nbody\r\n")));
        Assert.Equal(origin, Stamp.Read(message.Headers[OriginStamp.HeaderName]));
    }

    [Fact]
    public void The_stamp_id_reads_back_and_is_covered_by_the_mac()
    {
        var origin = new MessageOrigin("net:192.0.2.0/24", "domain:example.com", false, MessageOrigin.NewId());
        var value = Stamp.Header(origin).TrimEnd()[(OriginStamp.HeaderName.Length + 2)..];
        Assert.Equal(origin, Stamp.Read(value));
        Assert.Null(Stamp.Read(value.Replace("id=" + origin.Id, "id=" + MessageOrigin.NewId(), StringComparison.Ordinal)));
        Assert.NotEqual(origin.Id, MessageOrigin.NewId());
    }

    [Fact]
    public void A_header_written_by_anyone_else_or_changed_is_ignored()
    {
        var ours = Stamp.Header(new MessageOrigin("net:192.0.2.0/24", null, false)).TrimEnd();
        var value = ours[(OriginStamp.HeaderName.Length + 2)..];
        Assert.NotNull(Stamp.Read(value));
        Assert.Null(Stamp.Read(value.Replace("192.0.2.0", "198.51.100.0", StringComparison.Ordinal)));
        Assert.Null(Stamp.Read(value.Replace("counted=ham", "counted=spam", StringComparison.Ordinal)));
        Assert.Null(new OriginStamp(Encoding.UTF8.GetBytes("another node key")).Read(value));
        Assert.Null(Stamp.Read("net=net:192.0.2.0/24; counted=spam"));
        Assert.Null(Stamp.Read(null));
        // Random text never throws.
        var random = new Random(1438);
        for (var i = 0; i < 2000; i++)
        {
            var bytes = new byte[random.Next(0, 80)];
            random.NextBytes(bytes);
            var text = i % 2 == 0 ? Encoding.Latin1.GetString(bytes) : value[..random.Next(value.Length)] + "; mac=" + Encoding.Latin1.GetString(bytes);
            Assert.Null(Stamp.Read(text));
        }
    }
}

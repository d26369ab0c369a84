using System.Text;
using GrainMail.Gateways.Pop3.Protocol;

namespace GrainMail.Protocol.Tests;

/// <summary>Multi-line responses (RFC 1939 §3): dot-stuffing, CRLF line ends, and TOP's line count (§7).</summary>
public sealed class Pop3WriterTests
{
    private static async Task<string> Written(string raw, int bodyLines = int.MaxValue)
    {
        var w = new Pop3Writer();
        w.DotStuffed(Encoding.ASCII.GetBytes(raw), bodyLines);
        using var s = new MemoryStream();
        await w.FlushAsync(s, CancellationToken.None);
        return Encoding.ASCII.GetString(s.ToArray());
    }

    public static TheoryData<string, int, string> Cases => new()
    {
        // TOP msg 0: the header section and the blank line that ends it.
        { "A: 1\r\nB: 2\r\n\r\nl1\r\nl2\r\n", 0, "A: 1\r\nB: 2\r\n\r\n.\r\n" },
        { "A: 1\r\n\r\nl1\r\nl2\r\nl3\r\n", 2, "A: 1\r\n\r\nl1\r\nl2\r\n.\r\n" },
        // More lines asked for than the body has: the whole message.
        { "A: 1\r\n\r\nl1\r\n", 10, "A: 1\r\n\r\nl1\r\n.\r\n" },
        // A message of headers only.
        { "A: 1\r\nB: 2\r\n", 3, "A: 1\r\nB: 2\r\n.\r\n" },
        // Bare LF line ends go out as CRLF, a last line without an end gets one.
        { "A: 1\n\nl1\nl2", int.MaxValue, "A: 1\r\n\r\nl1\r\nl2\r\n.\r\n" },
        // Lines starting with "." are stuffed, in the header and the body, and counted as one line each.
        { "A: 1\r\n\r\n.\r\n..x\r\n.y\r\nz\r\n", 3, "A: 1\r\n\r\n..\r\n...x\r\n..y\r\n.\r\n" },
        { "", int.MaxValue, ".\r\n" },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task Bodies_are_dot_stuffed_and_cut_after_n_body_lines(string raw, int bodyLines, string expected) =>
        Assert.Equal(expected, await Written(raw, bodyLines));
}

using System.Buffers;
using System.Text;
using GrainMail.Gateways.Common.Messages;

namespace GrainMail.Protocol.Tests;

/// <summary>The one rule for message text: CRLF, no NUL, a bounded header section; streaming, in any pieces.</summary>
public sealed class MessageTextTests
{
    private static readonly MessageTextLimits Small = new(MaxHeaderSectionBytes: 200, MaxHeaderFieldBytes: 60, MaxHeaderFieldLines: 3, MaxHeaderFields: 4);

    /// <summary>Writes <paramref name="input"/> in pieces of <paramref name="piece"/> octets.</summary>
    private static (string Text, MessageTextProblem Problem) Run(string input, int piece, MessageTextLimits? limits = null)
    {
        var bytes = Encoding.UTF8.GetBytes(input);
        var output = new ArrayBufferWriter<byte>();
        var writer = new MessageTextWriter(output, limits ?? MessageTextLimits.Default);
        for (var i = 0; i < bytes.Length; i += piece) writer.Write(bytes.AsSpan(i, Math.Min(piece, bytes.Length - i)));
        var problem = writer.Complete();
        Assert.Equal(output.WrittenCount, writer.Written);
        return (Encoding.UTF8.GetString(output.WrittenSpan), problem);
    }

    [Theory]
    [InlineData("A: b\r\n\r\nbody\r\n", "A: b\r\n\r\nbody\r\n")]
    [InlineData("A: b\n\nbody\n", "A: b\r\n\r\nbody\r\n")]
    [InlineData("A: b\r\rbody\r", "A: b\r\n\r\nbody\r\n")]
    [InlineData("A: b\r\n\nx\r\r\ny", "A: b\r\n\r\nx\r\n\r\ny")]
    [InlineData("A: b\n\r\n\rx", "A: b\r\n\r\n\r\nx")]
    [InlineData("no final line end", "no final line end")]
    [InlineData("", "")]
    public void Line_ends_become_CRLF_whatever_the_pieces(string input, string expected)
    {
        foreach (var piece in new[] { 1, 2, 3, 7, 1000 })
        {
            var (text, problem) = Run(input, piece);
            Assert.Equal(MessageTextProblem.None, problem);
            Assert.Equal(expected, text);
        }
    }

    [Theory]
    [InlineData("A: b\0\r\n\r\nx", MessageTextProblem.Nul)]
    [InlineData("A: b\r\n\r\nbody \0 here", MessageTextProblem.Nul)]
    [InlineData("A: " + "0123456789012345678901234567890123456789012345678901234567890\r\n\r\n", MessageTextProblem.HeaderFieldTooLong)]
    [InlineData("A: b\r\n c\r\n d\r\n e\r\n\r\n", MessageTextProblem.HeaderFieldTooManyLines)]
    [InlineData("A: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\nE: 5\r\n\r\n", MessageTextProblem.TooManyHeaderFields)]
    public void Problems_are_found_in_any_pieces(string input, MessageTextProblem expected)
    {
        foreach (var piece in new[] { 1, 5, 1000 }) Assert.Equal(expected, Run(input, piece, Small).Problem);
    }

    [Fact]
    public void The_header_section_size_is_bounded_and_the_body_is_not()
    {
        var fields = string.Concat(Enumerable.Range(0, 4).Select(i => $"F{i}: {new string('x', 50)}\r\n"));
        Assert.Equal(MessageTextProblem.HeaderSectionTooLarge, Run(fields, 13, Small).Problem);
        // The same lines after the empty line are body: no header limit applies to them.
        var body = "A: b\r\n\r\n" + string.Concat(Enumerable.Repeat(fields, 10)) + " folded-looking\r\n\0".TrimEnd('\0');
        Assert.Equal(MessageTextProblem.None, Run(body, 13, Small).Problem);
    }

    [Fact]
    public void A_header_folded_800000_times_is_refused_in_linear_time()
    {
        var message = "Subject: x\r\nX-Folded: a" + string.Concat(Enumerable.Repeat("\r\n b", 800_000)) + "\r\n\r\nbody\r\n";
        var started = System.Diagnostics.Stopwatch.StartNew();
        var (text, problem) = MessageText.Normalize(Encoding.ASCII.GetBytes(message));
        Assert.Null(text);
        Assert.Equal(MessageTextProblem.HeaderFieldTooManyLines, problem);
        Assert.True(started.Elapsed < TimeSpan.FromSeconds(2), $"took {started.Elapsed}");
        Assert.True(MessageText.IsHeaderLimit(problem));
        Assert.False(MessageText.IsHeaderLimit(MessageTextProblem.Nul));
    }

    [Fact]
    public void Normalize_returns_the_text_or_the_problem()
    {
        var (text, problem) = MessageText.Normalize("A: b\nc"u8);
        Assert.Equal("A: b\r\nc", Encoding.ASCII.GetString(text!));
        Assert.Equal(MessageTextProblem.None, problem);
        Assert.Equal((null, MessageTextProblem.Nul), MessageText.Normalize("A\0"u8));
        Assert.Contains("NUL", MessageText.Describe(MessageTextProblem.Nul));
    }
}

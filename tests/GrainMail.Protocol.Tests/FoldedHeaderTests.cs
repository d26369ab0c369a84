using System.Text;
using GrainMail.Contracts.Mailboxes;
using GrainMail.Gateways.Common.Messages;
using GrainMail.Gateways.Imap.Mime;
using GrainMail.Gateways.Imap.Protocol;
using GrainMail.Gateways.Imap.Search;
using GrainMail.Gateways.Common.Mime;

namespace GrainMail.Protocol.Tests;

/// <summary>
/// A header folded hundreds of thousands of times (a stored message the SMTP limits predate):
/// the MIME split, ENVELOPE, BODYSTRUCTURE and SEARCH over it cost memory linear in its size.
/// Measured as bytes allocated on this thread, which (unlike wall clock) does not depend on the
/// machine; with MimeKit's header parser it was ~6,000 times the message for 800 KB.
/// </summary>
public sealed class FoldedHeaderTests
{
    private const int Folds = 800_000; // 3.2 MB of header

    private static byte[] Folded(string field, int folds)
    {
        var sb = new StringBuilder(folds * 4 + 200);
        sb.Append("From: Alice <alice@example.com>\r\nTo: bob@example.com\r\nDate: Mon, 7 Feb 1994 21:52:25 -0800\r\n");
        sb.Append(field).Append(": start");
        for (var i = 0; i < folds; i++) sb.Append("\r\n x");
        sb.Append(" needle\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nbody text\r\n");
        return Encoding.ASCII.GetBytes(sb.ToString());
    }

    private static RawCommand Command(string text)
    {
        var command = new RawCommand();
        command.Parts.Add(Encoding.UTF8.GetBytes(text));
        command.IsLiteral.Add(false);
        return command;
    }

    private static async Task<bool> SearchAsync(byte[] raw, string program)
    {
        var key = SearchKey.ParseProgram(new ImapParser(Command(program)), out _);
        var meta = new MessageMeta(1, new BlobRef("example.com", [1], raw.Length), DateTimeOffset.UnixEpoch, MessageFlags.None, [], 1);
        var loaded = new LoadedMessage(raw);
        return await key.MatchAsync(new SearchContext(1, meta, false, 1, 1, () => Task.FromResult<LoadedMessage?>(loaded)));
    }

    [Theory]
    [InlineData("Subject")]
    [InlineData("To")]
    [InlineData("X-Folded")]
    public async Task Fetch_and_search_over_a_header_folded_800000_times_allocate_a_small_multiple_of_the_message(string field)
    {
        var raw = Folded(field, Folds);
        var before = GC.GetAllocatedBytesForCurrentThread();

        var root = MimeNode.Parse(raw);
        var envelope = new ImapWriter();
        ImapBodyFormatter.Envelope(envelope, root);
        ImapBodyFormatter.BodyStructure(new ImapWriter(), raw, root, extensible: true);
        var headerHit = await SearchAsync(raw, $"HEADER {field} needle");
        var headerMiss = await SearchAsync(raw, $"HEADER {field} absent");
        var textHit = await SearchAsync(raw, "TEXT \"body text\"");

        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.True(headerHit);
        Assert.False(headerMiss);
        Assert.True(textHit);
        Assert.Equal("text/plain", root.ContentType.MimeType);
        Assert.True(envelope.Length > 0);
        // Linear: the folded value is copied a few times (bytes, unfolded string, decoded string, the answer).
        Assert.True(allocated < 40L * raw.Length, $"{allocated:N0} bytes allocated for a {raw.Length:N0}-byte message");
    }

    [Fact]
    public void Header_fields_are_split_by_RFC_5322_with_folding_and_bad_lines_skipped()
    {
        var raw = Encoding.ASCII.GetBytes("Subject: a\r\n\tb\r\nnot a field\r\nBad Name: x\r\nX-A :  y\r\n\r\nbody");
        var headers = MimeNode.ParseHeaders(raw, 0, raw.Length);
        Assert.Equal(["Subject", "X-A"], headers.Select(h => h.Field));
        Assert.Equal("a\tb", headers["Subject"]);
        Assert.Equal("y", headers["X-A"]);
    }
}

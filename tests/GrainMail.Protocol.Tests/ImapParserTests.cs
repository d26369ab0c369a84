using System.IO.Pipelines;
using System.Text;
using GrainMail.Gateways.Imap.Mime;
using GrainMail.Gateways.Imap.Protocol;
using GrainMail.Gateways.Common.Mime;

namespace GrainMail.Protocol.Tests;

/// <summary>The IMAP reader, tokenizer, sequence sets, folder-name encoding and MIME split, without a server.</summary>
public sealed class ImapParserTests
{
    private static async Task<(ReadStatus, RawCommand?, int Continuations)> Read(string input, long limit = 1000, int chunk = 3)
    {
        var pipe = new Pipe();
        var bytes = Encoding.UTF8.GetBytes(input);
        // Arrives in small pieces: every boundary (inside a literal marker, a CRLF, a literal) is crossed.
        var writer = Task.Run(async () =>
        {
            for (var i = 0; i < bytes.Length; i += chunk)
            {
                await pipe.Writer.WriteAsync(bytes.AsMemory(i, Math.Min(chunk, bytes.Length - i)));
            }
            await pipe.Writer.CompleteAsync();
        });
        var continuations = 0;
        var reader = new ImapCommandReader(pipe.Reader) { MaxLine = 100, MaxCommand = 400 };
        var result = await reader.ReadCommandAsync(_ => limit, () => { continuations++; return Task.CompletedTask; }, CancellationToken.None);
        await writer;
        return (result.Status, result.Command, continuations);
    }

    [Fact]
    public async Task Literals_split_anywhere_are_reassembled()
    {
        var (status, cmd, cont) = await Read("a1 LOGIN {5}\r\nalice {3+}\r\npw!\r\n");
        Assert.Equal(ReadStatus.Command, status);
        Assert.Equal(1, cont); // only the synchronising one asks for "+"
        var p = new ImapParser(cmd!);
        Assert.Equal("a1", p.ReadAtom());
        p.ExpectSpace();
        Assert.Equal("LOGIN", p.ReadAtom());
        p.ExpectSpace();
        Assert.Equal("alice", p.ReadAString());
        p.ExpectSpace();
        Assert.Equal("pw!", p.ReadAString());
        Assert.True(p.AtEnd);
    }

    [Fact]
    public async Task A_literal_may_hold_CRLF_braces_and_be_empty()
    {
        var (status, cmd, _) = await Read("t CREATE {9+}\r\nx\r\n{2}\r\n\" {0+}\r\n\r\n");
        Assert.Equal(ReadStatus.Command, status);
        var p = new ImapParser(cmd!);
        p.ReadAtom();
        p.ExpectSpace();
        p.ReadAtom();
        p.ExpectSpace();
        Assert.Equal("x\r\n{2}\r\n\"", p.ReadString());
        p.ExpectSpace();
        Assert.Equal("", p.ReadString());
        Assert.True(p.AtEnd);
    }

    [Fact]
    public async Task Limits_on_literals_lines_and_commands()
    {
        Assert.Equal(ReadStatus.LiteralTooLarge, (await Read("a APPEND INBOX {1001}\r\n", limit: 1000)).Item1);
        Assert.Equal(ReadStatus.LiteralPlusTooLarge, (await Read("a APPEND INBOX {1001+}\r\n", limit: 1000)).Item1);
        Assert.Equal(ReadStatus.LiteralTooLarge, (await Read("a APPEND INBOX {99999999999999999999}\r\n")).Item1);
        Assert.Equal(ReadStatus.LineTooLong, (await Read("a NOOP " + new string('x', 200) + "\r\n")).Item1);
        // Many small literals cannot add up to an unbounded command.
        var many = "a X" + string.Concat(Enumerable.Repeat(" {50+}\r\n" + new string('y', 50), 40)) + "\r\n";
        Assert.Equal(ReadStatus.CommandTooLarge, (await Read(many, limit: 60)).Item1);
        Assert.Equal(ReadStatus.Closed, (await Read("a LOGIN {10}\r\nabc")).Item1);
    }

    [Fact]
    public async Task Quoted_strings_escapes_and_errors()
    {
        var (_, cmd, _) = await Read("a LOGIN \"a \\\"q\\\" \\\\b\" \"日本\"\r\n");
        var p = new ImapParser(cmd!);
        p.ReadAtom();
        p.ExpectSpace();
        p.ReadAtom();
        p.ExpectSpace();
        Assert.Equal("a \"q\" \\b", p.ReadString());
        p.ExpectSpace();
        Assert.Equal("日本", p.ReadString());
        var (_, bad, _) = await Read("a LOGIN \"\\n\"\r\n");
        var q = new ImapParser(bad!);
        q.ReadAtom();
        q.ExpectSpace();
        q.ReadAtom();
        q.ExpectSpace();
        Assert.Throws<ImapSyntaxException>(() => q.ReadString());
        Assert.Null(ImapParser.TagOf("+x NOOP"u8.ToArray()));
        Assert.Null(ImapParser.TagOf(" NOOP"u8.ToArray()));
        Assert.Equal("A0001", ImapParser.TagOf("A0001 NOOP"u8.ToArray()));
    }

    [Fact]
    public void Sequence_sets()
    {
        var uids = new long[] { 2, 5, 6, 9, 30 };
        Assert.Equal([0, 1, 2, 3, 4], SequenceSet.Parse("1:*").IndexesIn(uids));
        Assert.Equal([4], SequenceSet.Parse("100:*").IndexesIn(uids));
        Assert.Equal([1, 2, 4], SequenceSet.Parse("5:6,30,31").IndexesIn(uids));
        Assert.Equal([1, 2], SequenceSet.Parse("6:5").IndexesIn(uids));
        Assert.Equal([0, 2, 3], SequenceSet.Parse("1,3:4").SequenceIndexes(5));
        Assert.Equal([4], SequenceSet.Parse("*").SequenceIndexes(5));
        Assert.Null(SequenceSet.Parse("6").SequenceIndexes(5));
        Assert.Empty(SequenceSet.Parse("1:*").SequenceIndexes(0)!);
        foreach (var bad in new[] { "0", "1:", ":2", "a", "1,,2", "4294967296", "-1" })
            Assert.Throws<ImapSyntaxException>(() => SequenceSet.Parse(bad));
        Assert.Equal("1:3,7,9:10", SequenceSet.Format([1, 2, 3, 7, 9, 10]));
    }

    [Fact]
    public void Modified_UTF7_round_trips()
    {
        Assert.Equal("&W6JiNw-", ModifiedUtf7.Encode("客户"));
        Assert.Equal("Entw&APw-rfe", ModifiedUtf7.Encode("Entwürfe"));
        Assert.Equal("A&-B", ModifiedUtf7.Encode("A&B"));
        Assert.Equal("~peter/mail/&U,BTFw-/&ZeVnLIqe-", ModifiedUtf7.Encode("~peter/mail/台北/日本語"));
        Assert.Equal("~peter/mail/台北/日本語", ModifiedUtf7.Decode("~peter/mail/&U,BTFw-/&ZeVnLIqe-"));
        Assert.Equal("A&B", ModifiedUtf7.Decode("A&-B"));
        Assert.Null(ModifiedUtf7.Decode("bad&AB"));
    }

    [Fact]
    public void MIME_split_tolerates_bare_LF_missing_close_delimiter_and_no_body()
    {
        var lf = Encoding.ASCII.GetBytes("Content-Type: multipart/mixed; boundary=x\n\n--x\nContent-Type: text/plain\n\none\n--x\n\ntwo\n");
        var root = MimeNode.Parse(lf);
        Assert.Equal(2, root.Children.Count);
        Assert.Equal("one", Encoding.ASCII.GetString(lf, root.Children[0].BodyStart, root.Children[0].BodyLength));
        Assert.Equal("two\n", Encoding.ASCII.GetString(lf, root.Children[1].BodyStart, root.Children[1].BodyLength));

        var headersOnly = "Subject: no body"u8.ToArray();
        var h = MimeNode.Parse(headersOnly);
        Assert.Equal(headersOnly.Length, h.BodyStart);
        Assert.Equal(0, h.BodyLength);

        var garbage = Encoding.ASCII.GetBytes("Content-Type: ;;;\r\n\r\nx");
        Assert.Equal("text", MimeNode.Parse(garbage).ContentType.MediaType);

        // Deep nesting stops at a bound instead of exhausting the stack.
        var deep = new StringBuilder();
        for (var i = 0; i < 200; i++) deep.Append($"Content-Type: multipart/mixed; boundary=b{i}\r\n\r\n--b{i}\r\n");
        Assert.NotNull(MimeNode.Parse(Encoding.ASCII.GetBytes(deep.ToString())));
    }
}

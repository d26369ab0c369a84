using System.Buffers;
using System.Text;
using GrainMail.Operations.Spool;
using GrainMail.Trust.Content;
using MimeKit;

namespace GrainMail.Protocol.Tests.Trust;

/// <summary>
/// The MX path's parse with one parser per thread (<see cref="MessageParser"/>) gives the tree a new parser gives, whatever
/// the thread's parser parsed before (a multipart message, a message whose parse was cancelled); and the checks read the
/// intake's bytes without a copy only when the content is exactly one whole array (<see cref="MessageContent.TryGetWholeArray"/>).
/// </summary>
public sealed class MessageParserTests
{
    private static byte[] Ascii(string s) => Encoding.ASCII.GetBytes(s.ReplaceLineEndings("\r\n"));

    private static readonly byte[][] Messages =
    [
        Ascii("""
            From: Ann <ann@example.com>
            To: bob@example.net
            Subject: =?UTF-8?B?SGVsbG8gd29ybGQ=?=
            MIME-Version: 1.0
            Content-Type: multipart/alternative; boundary="outer"

            preamble
            --outer
            Content-Type: text/plain; charset=utf-8
            Content-Transfer-Encoding: quoted-printable

            caf=C3=A9 and a link http://example.org/a/b
            --outer
            Content-Type: multipart/related; boundary="inner"

            --inner
            Content-Type: text/html; charset=iso-8859-1

            <p>Hello <a href="http://x.example/">there</a></p>
            --inner
            Content-Type: image/png
            Content-Transfer-Encoding: base64

            iVBORw0KGgo=
            --inner--
            --outer--
            epilogue
            """),
        Ascii("""
            From: carol@example.com
            Subject: plain, and a line that looks like a boundary

            --outer
            body of a message that is not multipart
            """),
        Ascii("""
            Received: from vm (localhost [127.0.0.1])
            	by mx.example with ESMTP; Thu, 3 Dec 2026 07:00:00 +0000
            From: dave@example.com
            Content-Type: multipart/mixed; boundary="never closed"

            --never closed
            Content-Type: text/plain

            truncated
            """),
        Ascii("Subject: no body at all\r\n"),
    ];

    private static readonly byte[] NotAMessage = Ascii("not a header line\r\n\r\nbody\r\n");

    /// <summary>What a parse gives, as bytes: the message written back, every header of every entity, every text part's text.</summary>
    private static string Shape(MimeMessage m)
    {
        var b = new StringBuilder();
        using (var s = new MemoryStream())
        {
            m.WriteTo(s);
            b.Append(Convert.ToBase64String(s.ToArray())).Append('\n');
        }
        foreach (var h in m.Headers) b.Append(h.Field).Append(':').Append(h.Value).Append('\n');
        foreach (var e in m.BodyParts)
        {
            b.Append(e.ContentType.MimeType).Append('\n');
            foreach (var h in e.Headers) b.Append(h.Field).Append(':').Append(h.Value).Append('\n');
            if (e is TextPart t) b.Append(t.Text).Append('\n');
        }
        return b.ToString();
    }

    private static string Fresh(byte[] raw) => Shape(MimeMessage.Load(new MemoryStream(raw, writable: false)));

    [Fact]
    public void A_reused_parser_gives_what_a_new_one_gives_in_any_order()
    {
        // Every order of pairs: what one parse leaves in the thread's parser must not show in the next.
        for (var round = 0; round < 3; round++)
        {
            foreach (var first in Messages)
            {
                foreach (var second in Messages)
                {
                    Assert.Equal(Fresh(first), Shape(MessageParser.Parse(first)));
                    Assert.Equal(Fresh(second), Shape(MessageParser.Parse(second)));
                }
            }
        }
    }

    [Fact]
    public void A_cancelled_parse_leaves_nothing_behind()
    {
        using var cancelled = new CancellationTokenSource();
        cancelled.Cancel();
        Assert.Throws<OperationCanceledException>(() => MessageParser.Parse(Messages[0], cancelled.Token));
        Assert.Equal(Fresh(Messages[1]), Shape(MessageParser.Parse(Messages[1])));
        Assert.Equal(Fresh(Messages[0]), Shape(MessageParser.Parse(Messages[0])));
    }

    [Fact]
    public void A_parse_that_fails_fails_as_a_new_parser_does_and_leaves_nothing_behind()
    {
        Assert.Throws<FormatException>(() => MimeMessage.Load(new MemoryStream(NotAMessage)));
        Assert.Throws<FormatException>(() => MessageParser.Parse(NotAMessage));
        Assert.Equal(Fresh(Messages[0]), Shape(MessageParser.Parse(Messages[0])));
        Assert.Throws<FormatException>(() => MessageParser.Parse(NotAMessage));
        Assert.Equal(Fresh(Messages[2]), Shape(MessageParser.Parse(Messages[2])));
    }

    [Fact]
    public void Parses_on_many_threads_at_once_each_give_their_own_message()
    {
        Parallel.For(0, 2000, new ParallelOptions { MaxDegreeOfParallelism = 8 }, i =>
        {
            var raw = Messages[i % Messages.Length];
            Assert.Equal(Fresh(raw), Shape(MessageParser.Parse(raw)));
        });
    }

    /// <summary>Every message of the SpamAssassin corpus (SPAM_CORPUS_DIR, or the unpacked pack the accuracy benchmark leaves
    /// under /tmp/trust-acc-corpus), one after another on one thread's parser, as a new parser parses it.</summary>
    [Fact]
    public void Every_message_of_the_SpamAssassin_corpus_parses_as_a_new_parser_parses_it()
    {
        var dir = Environment.GetEnvironmentVariable("SPAM_CORPUS_DIR") ?? "/tmp/trust-acc-corpus/package/data";
        if (!Directory.Exists(dir)) Assert.Skip($"no corpus at {dir} (tests/bench/spam-accuracy.sh unpacks it)");
        Encoding.RegisterProvider(CodePagesEncodingProvider.Instance);
        var differences = new List<string>();
        var count = 0;
        foreach (var file in Directory.EnumerateFiles(dir, "*.txt", SearchOption.AllDirectories).Order(StringComparer.Ordinal))
        {
            var raw = File.ReadAllBytes(file);
            count++;
            if (Fresh(raw) != Shape(MessageParser.Parse(raw))) differences.Add(file);
        }
        TestContext.Current.TestOutputHelper?.WriteLine($"{count} messages, {differences.Count} differences");
        Assert.Empty(differences);
        Assert.True(count > 6000, $"{count} messages");
    }

    [Fact]
    public void Only_content_that_is_one_whole_array_is_read_without_a_copy()
    {
        var bytes = Messages[1];
        Assert.True(new MessageContent(bytes).TryGetWholeArray(out var whole));
        Assert.Same(bytes, whole);
        // Part of an array: the rest of the array is not the message.
        Assert.False(new MessageContent(bytes.AsMemory(1)).TryGetWholeArray(out _));
        Assert.False(new MessageContent(bytes.AsMemory(0, bytes.Length - 1)).TryGetWholeArray(out _));
        // Prepended header fields make a new whole array, the message with them.
        var joined = new MessageContent(bytes).Prepend("X-A: 1\r\n"u8);
        Assert.True(joined.TryGetWholeArray(out var prefixed));
        Assert.Equal("X-A: 1\r\n"u8.ToArray().Concat(bytes), prefixed);
        // A spooled body: not one array.
        var dir = Directory.CreateTempSubdirectory("grainmail-content-");
        try
        {
            using var spool = new MessageSpool(dir.FullName);
            spool.Write<byte>(bytes);
            Assert.False(new MessageContent(ReadOnlyMemory<byte>.Empty, spool).TryGetWholeArray(out _));
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }
}

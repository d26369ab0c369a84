using System.IO.Compression;
using System.Text;
using GrainMail.Gateways.Imap.Mime;
using GrainMail.Gateways.Imap.Protocol;
using GrainMail.Gateways.Imap.Search;
using GrainMail.Gateways.Imap.Sorting;
using GrainMail.Gateways.Common.Mime;
using GrainMail.Gateways.Common.Sorting;

namespace GrainMail.Protocol.Tests;

/// <summary>
/// The pure parts behind SORT, THREAD, ESEARCH, BINARY and COMPRESS: RFC 5256 base subjects,
/// sort keys, both thread algorithms and their response format, ESEARCH formatting, decoding
/// of transfer encodings, and the raw DEFLATE stream.
/// </summary>
public sealed class ImapSortThreadTests
{
    public static TheoryData<string, string, bool> Subjects => new()
    {
        // subject as decoded, base subject (RFC 5256 2.1), reply or forward
        { "Hello", "Hello", false },
        { "  Hello \t  world  ", "Hello world", false },
        { "Re: Hello", "Hello", true },
        { "RE: re: Fwd: Hello", "Hello", true },
        { "Re[2]: Hello", "Hello", true },
        { "[list] Re: Hello", "Hello", true },
        { "Re: [list] Hello", "Hello", true },
        { "[list] Hello", "Hello", false },
        { "[list]", "[list]", false },
        { "Hello (fwd)", "Hello", true },
        { "Hello (fwd) (FWD) ", "Hello", true },
        { "[Fwd: Re: Hello]", "Hello", true },
        { "[fwd: [list] Hello (fwd)]", "Hello", true },
        { "Fw: Hello", "Hello", true },
        { "Reply to all", "Reply to all", false },
        { "Re:", "", true },
        { "", "", false },
    };

    [Theory]
    [MemberData(nameof(Subjects))]
    public void Base_subjects_follow_RFC_5256(string subject, string expected, bool replyOrForward)
    {
        Assert.Equal((expected, replyOrForward), BaseSubject.Extract(subject));
    }

    private static readonly DateTimeOffset T0 = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);

    private static MessageSummary M(int seq, string subject = "", int sentMinutes = 0, long size = 0, string from = "", string to = "", string cc = "",
        string? displayFrom = null, string? id = null, string[]? refs = null, int arrivalMinutes = 0, bool noDate = false) =>
        new(seq * 10, seq, T0.AddMinutes(arrivalMinutes), noDate ? null : T0.AddMinutes(sentMinutes), size, subject, from, to, cc,
            displayFrom ?? from, to, id, refs ?? []);

    [Fact]
    public void Sorting_breaks_ties_by_the_next_key_then_by_mailbox_order()
    {
        var messages = new[]
        {
            M(1, "b", sentMinutes: 5, size: 300, from: "Zed"),
            M(2, "Re: a", sentMinutes: 5, size: 100, from: "amy"),
            M(3, "A", sentMinutes: 1, size: 200, from: "bob"),
            M(4, "[x] b", sentMinutes: 9, size: 100, from: "AMY"),
        };
        long[] Order(params SortCriterion[] c) => [.. MessageSorter.Sort(messages, c).Select(m => m.Number)];

        Assert.Equal([30, 20, 10, 40], Order(new SortCriterion(SortKey.Subject, false), new SortCriterion(SortKey.Date, false)));
        Assert.Equal([40, 10, 20, 30], Order(new SortCriterion(SortKey.Date, true)));
        Assert.Equal([20, 40, 30, 10], Order(new SortCriterion(SortKey.Size, false)));
        // Equal keys keep mailbox order even when reversed: REVERSE turns only its key around.
        Assert.Equal([20, 40, 30, 10], Order(new SortCriterion(SortKey.From, false)));
        Assert.Equal([10, 30, 20, 40], Order(new SortCriterion(SortKey.From, true)));
    }

    [Fact]
    public void Date_falls_back_to_the_internal_date_and_display_keys_use_the_name()
    {
        var messages = new[]
        {
            M(1, sentMinutes: 50, displayFrom: "zoe"),
            M(2, noDate: true, arrivalMinutes: 10, displayFrom: "Émile"),
            M(3, sentMinutes: 20, displayFrom: "adam@example.org"),
        };
        Assert.Equal([20L, 30, 10], MessageSorter.Sort(messages, [new SortCriterion(SortKey.Date, false)]).Select(m => m.Number));
        Assert.Equal([30L, 10, 20], MessageSorter.Sort(messages, [new SortCriterion(SortKey.DisplayFrom, false)]).Select(m => m.Number));
    }

    [Fact]
    public void Summaries_read_the_headers_RFC_5256_and_5957_name()
    {
        var raw = Encoding.ASCII.GetBytes(
            "From: =?UTF-8?B?SsO8cmdlbg==?= <juergen@example.org>\r\nTo: team@example.org\r\nCc: \"Li\" <li@example.cn>\r\n" +
            "Subject: =?UTF-8?Q?Re=3A_Caf=C3=A9?=\r\nDate: Mon, 16 Nov 2026 09:30:00 +0800\r\nMessage-ID: <m2@x>\r\n" +
            "In-Reply-To: <m1@x>\r\n\r\nbody\r\n");
        var root = MimeNode.Parse(raw);
        var s = MessageSummary.FromHeaders(7, 3, T0, raw.Length, root.Headers);
        Assert.Equal(("juergen", "team", "li"), (s.FromMailbox, s.ToMailbox, s.CcMailbox));
        Assert.Equal(("Jürgen", "team@example.org"), (s.DisplayFrom, s.DisplayTo));
        Assert.Equal("Re: Café", s.Subject);
        Assert.Equal(new DateTimeOffset(2026, 11, 16, 1, 30, 0, TimeSpan.Zero), s.SentDate!.Value.ToUniversalTime());
        Assert.Equal("m2@x", s.MessageId);
        Assert.Equal(["m1@x"], s.References);
    }

    [Fact]
    public void Orderedsubject_groups_by_base_subject_under_the_first_message()
    {
        var messages = new[]
        {
            M(1, "Lunch", sentMinutes: 1),
            M(2, "Re: lunch", sentMinutes: 3),
            M(3, "Report", sentMinutes: 2),
            M(4, "Re: Lunch", sentMinutes: 4),
            M(5, "re: report", sentMinutes: 5),
            M(6, "Alone", sentMinutes: 6),
        };
        var threads = MessageThreader.Thread(messages, ThreadAlgorithm.OrderedSubject);
        Assert.Equal("(10 (20)(40))(30 50)(60)", MessageThreader.Format(threads));
    }

    [Fact]
    public void References_threads_by_message_ids_with_dummies_for_missing_parents()
    {
        var messages = new[]
        {
            M(1, "Plan", sentMinutes: 1, id: "a"),
            M(2, "Re: Plan", sentMinutes: 2, id: "b", refs: ["a"]),
            M(3, "Re: Plan", sentMinutes: 3, id: "c", refs: ["a", "b"]),
            M(4, "Re: Plan", sentMinutes: 4, id: "d", refs: ["a"]),
            // Two replies to a message this mailbox does not hold: a dummy keeps them together.
            M(5, "Re: Other", sentMinutes: 5, id: "e", refs: ["gone"]),
            M(6, "Re: Other", sentMinutes: 6, id: "f", refs: ["gone"]),
            // No references, no message-id: a thread of its own.
            M(7, "Solo", sentMinutes: 7),
        };
        var threads = MessageThreader.Thread(messages, ThreadAlgorithm.References);
        Assert.Equal("(10 (20 30)(40))((50)(60))(70)", MessageThreader.Format(threads));
    }

    [Fact]
    public void References_merges_root_threads_by_subject_and_survives_loops_and_duplicates()
    {
        var messages = new[]
        {
            // Same base subject, unrelated ids: the reply goes under the original (RFC 5256 step 5).
            M(1, "Budget", sentMinutes: 1, id: "x1"),
            M(2, "Re: Budget", sentMinutes: 2, id: "x2"),
            // A reference loop (each names the other as parent) must not hang or drop a message.
            M(3, "Loop", sentMinutes: 3, id: "l1", refs: ["l2"]),
            M(4, "Loop", sentMinutes: 4, id: "l2", refs: ["l1"]),
            // A duplicate Message-ID is a message of its own.
            M(5, "Dup", sentMinutes: 5, id: "d"),
            M(6, "Different", sentMinutes: 6, id: "d"),
        };
        var format = MessageThreader.Format(MessageThreader.Thread(messages, ThreadAlgorithm.References));
        Assert.StartsWith("(10 20)", format);
        foreach (var n in new[] { "30", "40", "50", "60" }) Assert.Contains(n, format);
        Assert.Equal(6, format.Split([' ', '(', ')'], StringSplitOptions.RemoveEmptyEntries).Length);
    }

    [Fact]
    public void Threading_random_reference_graphs_keeps_every_message_exactly_once()
    {
        var random = new Random(5256);
        for (var round = 0; round < 300; round++)
        {
            var count = random.Next(1, 40);
            var messages = Enumerable.Range(1, count).Select(i => M(i, random.Next(3) switch { 0 => "Re: s" + random.Next(4), 1 => "s" + random.Next(4), _ => "" },
                sentMinutes: random.Next(10), id: random.Next(6) == 0 ? null : "id" + random.Next(count + 5),
                refs: [.. Enumerable.Range(0, random.Next(4)).Select(_ => "id" + random.Next(count + 5))])).ToArray();
            foreach (var algorithm in new[] { ThreadAlgorithm.References, ThreadAlgorithm.OrderedSubject })
            {
                var format = MessageThreader.Format(MessageThreader.Thread(messages, algorithm));
                var numbers = format.Split([' ', '(', ')'], StringSplitOptions.RemoveEmptyEntries).Select(long.Parse).Order();
                Assert.Equal(messages.Select(m => m.Number).Order(), numbers);
                Assert.DoesNotContain("()", format);
            }
        }
    }

    [Fact]
    public void Esearch_responses_compress_sets_and_leave_out_empty_items()
    {
        var all = new SearchReturn(true, true, true, true, false);
        Assert.Equal("* ESEARCH (TAG \"a1\") UID MIN 2 MAX 9 COUNT 5 ALL 2:4,7,9", EsearchResponse.Format("a1", true, all, [2, 3, 4, 7, 9], null));
        Assert.Equal("* ESEARCH (TAG \"a1\") COUNT 0", EsearchResponse.Format("a1", false, all, [], null));
        Assert.Equal("* ESEARCH (TAG \"t\") ALL 1:2 MODSEQ 917", EsearchResponse.Format("t", false, SearchReturn.AllOnly, [1, 2], 917));
        Assert.Equal("* ESEARCH (TAG \"t\")", EsearchResponse.Format("t", false, SearchReturn.AllOnly, [], 917));
    }

    [Fact]
    public void Save_keeps_what_RFC_5182_says()
    {
        long[] result = [3, 5, 8];
        Assert.Equal(result, new SearchReturn(false, false, false, false, true).Saved(result));
        Assert.Equal([3L], new SearchReturn(true, false, false, false, true).Saved(result));
        Assert.Equal([3L, 8], new SearchReturn(true, true, false, false, true).Saved(result));
        Assert.Equal(result, new SearchReturn(true, false, false, true, true).Saved(result));
        Assert.Equal([5L], new SearchReturn(true, true, false, false, true).Saved([5]));
        Assert.True(new SearchReturn(false, false, false, false, true).SaveOnly);
    }

    [Fact]
    public void Binary_undoes_the_transfer_encoding_of_a_part()
    {
        var raw = Encoding.ASCII.GetBytes(
            "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nCaf=C3=A9 =\r\nok\r\n" +
            "--b\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\nAAECAw==\r\n" +
            "--b\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: x-uuencode\r\n\r\nbegin\r\n--b--\r\n");
        var root = MimeNode.Parse(raw);
        var text = BinaryContent.Decode(raw, root, [1]);
        Assert.Equal(BinaryContent.Outcome.Ok, text.Outcome);
        Assert.Equal("Café ok", Encoding.UTF8.GetString(text.Bytes));
        Assert.Equal(new byte[] { 0, 1, 2, 3 }, BinaryContent.Decode(raw, root, [2]).Bytes);
        Assert.Equal(BinaryContent.Outcome.UnknownEncoding, BinaryContent.Decode(raw, root, [3]).Outcome);
        Assert.Empty(BinaryContent.Decode(raw, root, [9]).Bytes);
        Assert.Equal(raw, BinaryContent.Decode(raw, root, []).Bytes);
    }

    [Fact]
    public async Task The_deflate_layer_is_raw_deflate_and_every_flush_is_decodable_at_once()
    {
        // Client to server: what the client compresses, the layer reads back.
        var fromClient = new MemoryStream();
        await using (var z = new DeflateStream(fromClient, CompressionLevel.Optimal, leaveOpen: true)) await z.WriteAsync("a NOOP\r\n"u8.ToArray());
        fromClient.Position = 0;
        var toClient = new MemoryStream();
        await using var layer = new DeflateDuplexStream(toClient, fromClient);
        var buffer = new byte[64];
        var n = await layer.ReadAsync(buffer);
        Assert.Equal("a NOOP\r\n", Encoding.ASCII.GetString(buffer, 0, n));

        // Server to client: after each flush, everything written so far decodes without the stream ending.
        await layer.WriteAsync("* OK first\r\n"u8.ToArray());
        await layer.FlushAsync();
        var afterFirst = toClient.ToArray();
        await layer.WriteAsync("a OK second\r\n"u8.ToArray());
        await layer.FlushAsync();
        Assert.Equal("* OK first\r\n", Inflate(afterFirst, 12));
        Assert.Equal("* OK first\r\na OK second\r\n", Inflate(toClient.ToArray(), 25));
    }

    private static string Inflate(byte[] compressed, int expected)
    {
        using var z = new DeflateStream(new MemoryStream(compressed), CompressionMode.Decompress);
        var buffer = new byte[expected];
        var got = 0;
        while (got < expected)
        {
            var n = z.Read(buffer, got, expected - got);
            if (n == 0) break;
            got += n;
        }
        return Encoding.ASCII.GetString(buffer, 0, got);
    }
}

using GrainMail.Gateways.Imap.Commands;
using GrainMail.Gateways.Imap.Protocol;
using GrainMail.Gateways.Imap.Search;
using GrainMail.Gateways.Imap.Sorting;

namespace GrainMail.Protocol.Tests;

/// <summary>
/// The parser's extension commands and arguments: SORT/THREAD (RFC 5256, 5957), SEARCH RETURN
/// (RFC 4731, 5182), SELECT QRESYNC and FETCH VANISHED (RFC 7162), BINARY (RFC 3516), COMPRESS
/// (RFC 4978), UNAUTHENTICATE (RFC 8437), OBJECTID (RFC 8474) — valid and malformed forms, and fuzzing.
/// </summary>
public sealed class ImapExtensionParserTests
{
    private static Task<ImapCommand> Parse(string line, bool utf8 = false) => ImapCommandParserTests.ParseWire(line + "\r\n", utf8);

    public static TheoryData<string, string> ValidCommands => new()
    {
        { "a SORT (SUBJECT) UTF-8 ALL", nameof(SortCommand) },
        { "a SORT (REVERSE DATE FROM) US-ASCII UNSEEN SINCE 1-Feb-2024", nameof(SortCommand) },
        { "a UID SORT (DISPLAYFROM REVERSE DISPLAYTO ARRIVAL CC TO SIZE) utf-8 1:*", nameof(SortCommand) },
        { "a SORT (ARRIVAL) KOI8-R ALL", nameof(SortCommand) },
        { "a SORT (ARRIVAL) X-NO-SUCH-CHARSET ALL", nameof(SortCommand) },
        { "a THREAD REFERENCES UTF-8 ALL", nameof(ThreadCommand) },
        { "a UID THREAD ORDEREDSUBJECT US-ASCII SUBJECT x", nameof(ThreadCommand) },
        { "a SEARCH RETURN (MIN MAX COUNT ALL) UNSEEN", nameof(SearchCommand) },
        { "a SEARCH RETURN () ALL", nameof(SearchCommand) },
        { "a UID SEARCH RETURN (SAVE) CHARSET UTF-8 FROM x", nameof(SearchCommand) },
        { "a SEARCH $", nameof(SearchCommand) },
        { "a UID SEARCH UID $ SEEN", nameof(SearchCommand) },
        { "a SEARCH EMAILID M0011 THREADID T22", nameof(SearchCommand) },
        { "a SEARCH SAVEDBEFORE 1-Feb-2024 SAVEDON 2-Feb-2024 SAVEDSINCE 3-Feb-2024 SAVEDATESUPPORTED", nameof(SearchCommand) },
        { "a FETCH $ (FLAGS)", nameof(FetchCommand) },
        { "a SELECT INBOX (QRESYNC (67890007 20050715194045000))", nameof(SelectCommand) },
        { "a SELECT INBOX (QRESYNC (67890007 90060115194045000 41:211,214:541))", nameof(SelectCommand) },
        { "a EXAMINE INBOX (QRESYNC (67890007 90060115194045000 41:211 (1:4 41,55,67:69)))", nameof(SelectCommand) },
        { "a SELECT INBOX (QRESYNC (1 2 (1 5)))", nameof(SelectCommand) },
        { "a SELECT INBOX (CONDSTORE QRESYNC (1 2))", nameof(SelectCommand) },
        { "a UID FETCH 300:500 (FLAGS) (CHANGEDSINCE 12345 VANISHED)", nameof(FetchCommand) },
        { "a FETCH 1 (BINARY[] BINARY.PEEK[1.2]<0.100> BINARY.SIZE[3])", nameof(FetchCommand) },
        { "a FETCH 1:* (EMAILID THREADID SAVEDATE)", nameof(FetchCommand) },
        { "a APPEND INBOX ~{5}\r\nhe\0lo", nameof(AppendCommand) },
        { "a APPEND INBOX (\\Seen) ~{5+}\r\nhello", nameof(AppendCommand) },
        { "a STATUS INBOX (MAILBOXID MESSAGES)", nameof(StatusCommand) },
        { "a COMPRESS DEFLATE", nameof(CompressCommand) },
        { "a COMPRESS LZ4", nameof(CompressCommand) },
        { "a UNAUTHENTICATE", nameof(UnauthenticateCommand) },
        { "a ENABLE QRESYNC IMAP4rev2", nameof(EnableCommand) },
    };

    [Theory]
    [MemberData(nameof(ValidCommands))]
    public async Task Valid_extension_commands_parse_to_their_record(string line, string type)
    {
        var command = await Parse(line);
        Assert.Equal(type, command.GetType().Name);
    }

    public static TheoryData<string, string> MalformedCommands => new()
    {
        // command line, the BAD reason
        { "a SORT SUBJECT UTF-8 ALL", "Expected '('" },
        { "a SORT () UTF-8 ALL", "Empty sort criteria" },
        { "a SORT (SHOESIZE) UTF-8 ALL", "Unknown sort key SHOESIZE" },
        { "a SORT (REVERSE) UTF-8 ALL", "Expected a space" },
        { "a SORT (REVERSE REVERSE DATE) UTF-8 ALL", "Unknown sort key REVERSE" },
        { "a SORT (DATE)", "Expected a space" },
        { "a SORT (DATE) UTF-8", "Expected a space" },
        { "a THREAD KNITTING UTF-8 ALL", "Unknown THREAD algorithm" },
        { "a THREAD REFERENCES", "Expected a space" },
        { "a SEARCH RETURN (BIGGEST) ALL", "Unknown SEARCH return option" },
        { "a SEARCH RETURN MIN ALL", "Expected '('" },
        { "a SELECT INBOX (QRESYNC (0 5))", "Invalid QRESYNC parameters" },
        { "a SELECT INBOX (QRESYNC (1))", "Expected a space" },
        { "a SELECT INBOX (QRESYNC (1 0))", "Invalid QRESYNC parameters" },
        { "a SELECT INBOX (QRESYNC (1 2 $))", "Invalid known UIDs" },
        { "a SELECT INBOX (QRESYNC (1 2 1:5 (1:2)))", "Expected a space" },
        { "a FETCH 1:5 (FLAGS) (CHANGEDSINCE 5 VANISHED)", "VANISHED needs UID FETCH with CHANGEDSINCE" },
        { "a UID FETCH 1:5 (FLAGS) (VANISHED)", "VANISHED needs UID FETCH with CHANGEDSINCE" },
        { "a FETCH 1 BINARY[1.HEADER]", "Invalid BINARY section" },
        { "a FETCH 1 BINARY[0]", "Invalid BINARY section" },
        { "a FETCH 1 BINARY.SIZE", "Expected '['" },
        { "a FETCH 1 BINARY[1]<5>", "Invalid partial range" },
        { "a APPEND INBOX ~hello", "APPEND needs the message as a literal" },
        { "a APPEND INBOX UTF8 (~{5+}\r\nhello)", "APPEND UTF8 needs ENABLE UTF8=ACCEPT" },
        { "a COMPRESS", "Expected a space" },
        { "a UNAUTHENTICATE now", "Unexpected extra arguments" },
        { "a SEARCH EMAILID", "Expected a space" },
        { "a SEARCH SAVEDON yesterday", "Invalid date yesterday" },
    };

    [Theory]
    [MemberData(nameof(MalformedCommands))]
    public async Task Malformed_extension_commands_give_the_BAD_reason(string line, string reason)
    {
        var error = Assert.IsType<ImapParseError>(await Parse(line));
        Assert.Equal(reason, error.Reason);
    }

    [Fact]
    public async Task Extension_arguments_are_typed()
    {
        var sort = Assert.IsType<SortCommand>(await Parse("a UID SORT (REVERSE DATE SUBJECT DISPLAYFROM) UTF-8 ALL"));
        Assert.True(sort.Uid);
        Assert.Equal([new SortCriterion(SortKey.Date, true), new SortCriterion(SortKey.Subject, false), new SortCriterion(SortKey.DisplayFrom, false)], sort.Criteria);
        Assert.NotNull(sort.Query);
        Assert.Null(Assert.IsType<SortCommand>(await Parse("a SORT (DATE) X-NO-SUCH-CHARSET ALL")).Query);
        Assert.NotNull(Assert.IsType<SortCommand>(await Parse("a SORT (DATE) KOI8-R ALL")).Query);

        var thread = Assert.IsType<ThreadCommand>(await Parse("a THREAD ORDEREDSUBJECT UTF-8 ALL"));
        Assert.Equal(ThreadAlgorithm.OrderedSubject, thread.Algorithm);
        Assert.Equal("THREAD", thread.Name);

        var search = Assert.IsType<SearchCommand>(await Parse("a SEARCH RETURN (MIN COUNT SAVE) CHARSET UTF-8 ALL"));
        Assert.Equal(new SearchReturn(true, false, false, true, true), search.Return);
        Assert.Equal("UTF-8", search.Charset);
        Assert.Equal(SearchReturn.AllOnly, Assert.IsType<SearchCommand>(await Parse("a SEARCH RETURN () ALL")).Return);
        Assert.Null(Assert.IsType<SearchCommand>(await Parse("a SEARCH ALL")).Return);

        var select = Assert.IsType<SelectCommand>(await Parse("a SELECT INBOX (QRESYNC (67890007 20050715194045000 41:211 (1:4 41,55,67:69)))"));
        var q = select.Qresync!;
        Assert.Equal((67890007L, 20050715194045000L), (q.UidValidity, q.ModSeq));
        Assert.True(q.KnownUids!.Contains(100, 1000) && !q.KnownUids.Contains(212, 1000));
        Assert.True(q.KnownSequences!.Contains(3, 10) && q.KnownSequenceUids!.Contains(68, 100));
        var bare = Assert.IsType<SelectCommand>(await Parse("a SELECT INBOX (QRESYNC (1 2 (1 5)))")).Qresync!;
        Assert.Null(bare.KnownUids);
        Assert.NotNull(bare.KnownSequences);

        var fetch = Assert.IsType<FetchCommand>(await Parse("a UID FETCH 1:* (FLAGS) (CHANGEDSINCE 7 VANISHED)"));
        Assert.True(fetch.Vanished);
        Assert.Equal(7, fetch.ChangedSince);

        var binary = Assert.IsType<FetchCommand>(await Parse("a FETCH 1 (BINARY.PEEK[1.2]<10.20> BINARY.SIZE[3] BINARY[] EMAILID)"));
        Assert.Equal(FetchKind.Binary, binary.Items[0].Kind);
        Assert.True(binary.Items[0].Peek);
        Assert.Equal([1, 2], binary.Items[0].Section!.Path);
        Assert.Equal((10L, 20L), (binary.Items[0].PartialOffset!.Value, binary.Items[0].PartialLength!.Value));
        Assert.Equal(FetchKind.BinarySize, binary.Items[1].Kind);
        Assert.Empty(binary.Items[2].Section!.Path);
        Assert.False(binary.Items[2].Peek);
        Assert.Equal(FetchKind.EmailId, binary.Items[3].Kind);

        var append = Assert.IsType<AppendCommand>(await Parse("a APPEND INBOX ~{5}\r\nhe\0lo"));
        Assert.True(append.Binary);
        Assert.Equal("he\0lo"u8.ToArray(), append.Message);
        Assert.False(Assert.IsType<AppendCommand>(await Parse("a APPEND INBOX {5}\r\nhello")).Binary);
        // RFC 6855 4: UTF8 (literal8) after ENABLE UTF8=ACCEPT; a plain literal or a missing ")" is BAD.
        var international = Assert.IsType<AppendCommand>(await Parse("a APPEND INBOX (\\Seen) UTF8 (~{5+}\r\nhello)", utf8: true));
        Assert.True(international.Binary);
        Assert.Equal("hello"u8.ToArray(), international.Message);
        Assert.Equal("APPEND UTF8 needs the message as a literal8",
            Assert.IsType<ImapParseError>(await Parse("a APPEND INBOX UTF8 ({5+}\r\nhello)", utf8: true)).Reason);
        Assert.Equal("Expected ')'", Assert.IsType<ImapParseError>(await Parse("a APPEND INBOX UTF8 (~{5+}\r\nhello", utf8: true)).Reason);

        Assert.Equal("DEFLATE", Assert.IsType<CompressCommand>(await Parse("a compress deflate")).Mechanism);
        Assert.Equal(["MAILBOXID", "MESSAGES"], Assert.IsType<StatusCommand>(await Parse("a STATUS INBOX (MAILBOXID MESSAGES)")).Items);
    }

    [Fact]
    public void Sequence_sets_and_the_saved_result()
    {
        Assert.True(SequenceSet.Parse("$").IsSavedResult);
        Assert.Throws<ImapSyntaxException>(() => SequenceSet.Parse("1,$"));
    }

    [Fact]
    public async Task Fuzzed_extension_commands_always_give_a_command_or_a_typed_error()
    {
        await ImapWireFuzz.RunAsync(5256, "a SORT ",
            ValidCommands.Select(r => r.Data.Item1).Concat(MalformedCommands.Select(r => r.Data.Item1)), maxLine: 200);
    }
}

using System.IO.Pipelines;
using System.Text;
using GrainMail.Contracts.Mailboxes;
using GrainMail.Gateways.Imap.Commands;
using GrainMail.Gateways.Imap.Protocol;

namespace GrainMail.Protocol.Tests;

/// <summary>
/// The pure IMAP command parser: every command in valid and malformed forms, sequence sets,
/// modified UTF-7 names, literals and SEARCH keys, and fuzzing of reader and parser together.
/// Literals in a table row are written as <c>{n}</c> followed by CRLF and their n octets, as on the wire.
/// </summary>
public sealed class ImapCommandParserTests
{
    /// <summary>Reads <paramref name="wire"/> (one command, CRLF-terminated) through the real reader, then parses it.</summary>
    internal static async Task<ImapCommand> ParseWire(string wire, bool utf8 = false)
    {
        var pipe = new Pipe();
        await pipe.Writer.WriteAsync(Encoding.UTF8.GetBytes(wire));
        await pipe.Writer.CompleteAsync();
        var reader = new ImapCommandReader(pipe.Reader) { MaxLine = 1000, MaxCommand = 4000 };
        var (status, raw) = await reader.ReadCommandAsync(_ => 1000, () => Task.CompletedTask, CancellationToken.None);
        Assert.Equal(ReadStatus.Command, status);
        return ImapCommandParser.Parse(raw!, utf8);
    }

    private static Task<ImapCommand> Parse(string line, bool utf8 = false) => ParseWire(line + "\r\n", utf8);

    public static TheoryData<string, string> ValidCommands => new()
    {
        // command line, the record type it must give
        { "a CAPABILITY", nameof(CapabilityCommand) },
        { "a noop", nameof(NoopCommand) },
        { "a LOGOUT", nameof(LogoutCommand) },
        { "a ID NIL", nameof(IdCommand) },
        { "a ID (\"name\" \"Thunderbird\" \"version\" NIL)", nameof(IdCommand) },
        { "a STARTTLS", nameof(StartTlsCommand) },
        { "a LOGIN alice \"pass word\"", nameof(LoginCommand) },
        { "a LOGIN {5}\r\nalice {3+}\r\npw!", nameof(LoginCommand) },
        { "a AUTHENTICATE PLAIN", nameof(AuthenticateCommand) },
        { "a AUTHENTICATE PLAIN AGFsaWNlAHB3", nameof(AuthenticateCommand) },
        { "a AUTHENTICATE PLAIN =", nameof(AuthenticateCommand) },
        { "a ENABLE CONDSTORE UTF8=ACCEPT", nameof(EnableCommand) },
        { "a NAMESPACE", nameof(NamespaceCommand) },
        { "a LIST \"\" *", nameof(ListCommand) },
        { "a LIST \"\" (INBOX Sent)", nameof(ListCommand) },
        { "a LIST (SUBSCRIBED RECURSIVEMATCH) \"\" %", nameof(ListCommand) },
        { "a LIST (SPECIAL-USE) \"\" * RETURN (SPECIAL-USE CHILDREN STATUS (MESSAGES UNSEEN))", nameof(ListCommand) },
        { "a LSUB \"\" *", nameof(ListCommand) },
        { "a SUBSCRIBE Archive", nameof(SubscribeCommand) },
        { "a UNSUBSCRIBE \"Old Stuff\"", nameof(SubscribeCommand) },
        { "a CREATE a/b/c/", nameof(CreateCommand) },
        { "a DELETE Trash/old", nameof(DeleteCommand) },
        { "a RENAME Old New", nameof(RenameCommand) },
        { "a SELECT INBOX", nameof(SelectCommand) },
        { "a SELECT INBOX (CONDSTORE)", nameof(SelectCommand) },
        { "a EXAMINE Sent", nameof(SelectCommand) },
        { "a STATUS INBOX (MESSAGES RECENT UIDNEXT UIDVALIDITY UNSEEN HIGHESTMODSEQ SIZE DELETED)", nameof(StatusCommand) },
        { "a APPEND INBOX {5}\r\nhello", nameof(AppendCommand) },
        { "a APPEND Drafts (\\Seen \\Draft $label) \"17-Jul-1996 02:44:25 -0700\" {5+}\r\nhello", nameof(AppendCommand) },
        { "a GETQUOTAROOT INBOX", nameof(GetQuotaRootCommand) },
        { "a GETQUOTA \"\"", nameof(GetQuotaCommand) },
        { "a SETQUOTA \"\" (STORAGE 10)", nameof(SetQuotaCommand) },
        { "a IDLE", nameof(IdleCommand) },
        { "a CHECK", nameof(CheckCommand) },
        { "a CLOSE", nameof(CloseCommand) },
        { "a UNSELECT", nameof(CloseCommand) },
        { "a EXPUNGE", nameof(ExpungeCommand) },
        { "a UID EXPUNGE 1:3,7", nameof(ExpungeCommand) },
        { "a FETCH 1:* (FLAGS UID RFC822.SIZE)", nameof(FetchCommand) },
        { "a FETCH 2 BODY.PEEK[HEADER.FIELDS (From Subject)]<0.100>", nameof(FetchCommand) },
        { "a UID FETCH 1:* (FLAGS) (CHANGEDSINCE 12)", nameof(FetchCommand) },
        { "a FETCH 1 (ENVELOPE BODYSTRUCTURE BODY[1.2.MIME] INTERNALDATE)", nameof(FetchCommand) },
        { "a STORE 1 +FLAGS (\\Seen)", nameof(StoreCommand) },
        { "a STORE 1:2 -FLAGS.SILENT \\Deleted \\Flagged", nameof(StoreCommand) },
        { "a UID STORE 5 (UNCHANGEDSINCE 9) FLAGS (work)", nameof(StoreCommand) },
        { "a COPY 1:3 Archive", nameof(CopyCommand) },
        { "a MOVE 2 Trash", nameof(CopyCommand) },
        { "a UID MOVE 4:* \"Junk\"", nameof(CopyCommand) },
        { "a SEARCH ALL", nameof(SearchCommand) },
        { "a SEARCH CHARSET UTF-8 SUBJECT {6}\r\n会议", nameof(SearchCommand) },
        { "a UID SEARCH OR FROM alice (UNSEEN SINCE 1-Feb-2024) NOT DELETED", nameof(SearchCommand) },
        { "a SEARCH CHARSET KOI8-R TEXT x", nameof(SearchCommand) },
    };

    [Theory]
    [MemberData(nameof(ValidCommands))]
    public async Task Valid_commands_parse_to_their_record(string line, string type)
    {
        var command = await Parse(line);
        Assert.Equal(type, command.GetType().Name);
        Assert.Equal("a", command.Tag);
    }

    public static TheoryData<string, string, string> MalformedCommands => new()
    {
        // command line, the name the error carries (for the state checks), the BAD reason
        { "a", "", "Missing command" },
        { "a ", "", "Missing command" },
        { "a FROB", "FROB", "Unknown command" },
        { "a CAPABILITY now", "CAPABILITY", "Unexpected extra arguments" },
        { "a NOOP x", "NOOP", "Unexpected extra arguments" },
        { "a ID", "ID", "Expected a space" },
        { "a ID FOO", "ID", "ID takes a list or NIL" },
        { "a LOGIN alice", "LOGIN", "Expected a space" },
        { "a LOGIN alice pw extra", "LOGIN", "Unexpected extra arguments" },
        { "a LOGIN \"alice pw", "LOGIN", "Unterminated quoted string" },
        { "a LOGIN \"al\\ice\" pw", "LOGIN", "Bad escape in quoted string" },
        { "a AUTHENTICATE", "AUTHENTICATE", "Expected a space" },
        { "a SELECT", "SELECT", "Expected a space" },
        { "a SELECT INBOX (QRESYNC)", "SELECT", "Expected a space" },
        { "a SELECT INBOX (FROB)", "SELECT", "Unknown SELECT parameter" },
        { "a LIST \"\"", "LIST", "Expected a space" },
        { "a LIST (BOGUS) \"\" *", "LIST", "Unknown LIST selection option" },
        { "a LIST (RECURSIVEMATCH) \"\" *", "LIST", "RECURSIVEMATCH needs another selection option" },
        { "a LIST \"\" * RETURN (NONSENSE)", "LIST", "Unknown LIST return option" },
        { "a LIST \"\" * SOMETHING (CHILDREN)", "LIST", "Expected RETURN" },
        { "a STATUS INBOX (MESSAGES BOGUS)", "STATUS", "Unknown STATUS item BOGUS" },
        { "a STATUS INBOX MESSAGES", "STATUS", "Expected '('" },
        { "a APPEND INBOX hello", "APPEND", "APPEND needs the message as a literal" },
        { "a APPEND INBOX \"yesterday\" {1}\r\nx", "APPEND", "Invalid date-time" },
        { "a APPEND INBOX (\\Bogus) {1}\r\nx", "APPEND", "Unknown system flag \\BOGUS" },
        { "a RENAME Old", "RENAME", "Expected a space" },
        { "a FETCH", "FETCH", "Expected a space" },
        { "a FETCH 0 FLAGS", "FETCH", "Invalid sequence set" },
        { "a FETCH 4294967296 FLAGS", "FETCH", "Invalid sequence set" },
        { "a FETCH 1 (FLAGS) (CHANGEDSOON 1)", "FETCH", "Unknown FETCH modifier" },
        { "a STORE 1 FLAGZ (\\Seen)", "STORE", "Expected FLAGS, +FLAGS or -FLAGS" },
        { "a STORE 1 (UNCHANGED 1) FLAGS ()", "STORE", "Unknown STORE modifier" },
        { "a COPY 1", "COPY", "Expected a space" },
        { "a UID", "UID", "Expected a space" },
        { "a UID FROB 1", "UID", "Unknown UID command" },
        { "a UID EXPUNGE", "UID", "Expected a space" },
        { "a SEARCH", "SEARCH", "Expected a space" },
        { "a EXPUNGE 1", "EXPUNGE", "Unexpected extra arguments" },
        { "a IDLE now", "IDLE", "Unexpected extra arguments" },
    };

    [Theory]
    [MemberData(nameof(MalformedCommands))]
    public async Task Malformed_commands_give_a_typed_error_with_the_BAD_reason(string line, string name, string reason)
    {
        var error = Assert.IsType<ImapParseError>(await Parse(line));
        Assert.Equal(name, error.Name);
        Assert.Equal(reason, error.Reason);
    }

    [Fact]
    public async Task Arguments_are_typed()
    {
        var login = Assert.IsType<LoginCommand>(await Parse("t1 LOGIN {5}\r\nalice {3+}\r\npw!"));
        Assert.Equal(("t1", "alice", "pw!"), (login.Tag, login.User, login.Secret));

        var list = Assert.IsType<ListCommand>(await Parse("a LIST (SUBSCRIBED RECURSIVEMATCH) \"\" (% INBOX/*) RETURN (STATUS (MESSAGES))"));
        Assert.True(list.SubscribedOnly && list.RecursiveMatch && list.ReturnSubscribed);
        Assert.Equal(["%", "INBOX/*"], list.Patterns);
        Assert.Equal(["MESSAGES"], list.ReturnStatus!);

        var append = Assert.IsType<AppendCommand>(await Parse("a APPEND Drafts (\\Seen \\Draft $label \\Recent) \"17-Jul-1996 02:44:25 -0700\" {5+}\r\nhello"));
        Assert.Equal(MessageFlags.Seen | MessageFlags.Draft, append.Flags);
        Assert.Equal(["$label"], append.Keywords);
        Assert.Equal(new DateTimeOffset(1996, 7, 17, 2, 44, 25, TimeSpan.FromHours(-7)), append.Date);
        Assert.Equal("hello"u8.ToArray(), append.Message);

        var store = Assert.IsType<StoreCommand>(await Parse("a UID STORE 5:* (UNCHANGEDSINCE 9) -FLAGS.SILENT \\Deleted work"));
        Assert.True(store.Uid && store.Silent);
        Assert.Equal((FlagChangeMode.Remove, MessageFlags.Deleted, 9L), (store.Mode, store.Flags, store.UnchangedSince!.Value));
        Assert.Equal(["work"], store.Keywords);

        var fetch = Assert.IsType<FetchCommand>(await Parse("a UID FETCH 1:* (FLAGS) (CHANGEDSINCE 12)"));
        Assert.Equal(12, fetch.ChangedSince);
        Assert.Equal("UID", fetch.Name); // counted and state-checked as UID

        var select = Assert.IsType<SelectCommand>(await Parse("a EXAMINE INBOX (CONDSTORE)"));
        Assert.True(select.ReadOnly && select.Condstore);
        Assert.Equal("EXAMINE", select.Name);

        Assert.Equal("a/b/c", Assert.IsType<CreateCommand>(await Parse("a CREATE a/b/c/")).Mailbox);
        var copy = Assert.IsType<CopyCommand>(await Parse("a UID MOVE 4:* Junk"));
        Assert.True(copy.Uid && copy.Move);
        Assert.Equal("Junk", copy.Target);

        var badCharset = Assert.IsType<SearchCommand>(await Parse("a SEARCH CHARSET X-NO-SUCH-CHARSET TEXT x"));
        Assert.Null(badCharset.Query);
        // Any charset MimeKit knows is accepted (RFC 3501 6.4.4); KOI8-R is one.
        Assert.NotNull(Assert.IsType<SearchCommand>(await Parse("a SEARCH CHARSET KOI8-R TEXT x")).Query);
        Assert.True(Assert.IsType<SearchCommand>(await Parse("a SEARCH MODSEQ 5")).UsesModSeq);
    }

    public static TheoryData<string, string?> MailboxNames => new()
    {
        // as sent (modified UTF-7), decoded; null = invalid
        { "INBOX", "INBOX" },
        { "&ZeVnLIqe-", "日本語" },
        { "Entw&APw-rfe", "Entwürfe" },
        { "&-", "&" },
        { "a&-b", "a&b" },
        { "&Jjo", null },   // not closed
        { "&ZeVnLIqe", null },
        { "&AGE-", null },  // "a" in base64: printable ASCII must be itself (RFC 3501 5.1.3)
        { "&ZeU-&Zyw-", null }, // two runs in a row: one run is the canonical form
        { "&2D0-", null },  // a lone surrogate is not UTF-16
        { "caf\u00e9", null }, // 8-bit text before UTF8=ACCEPT
    };

    [Theory]
    [MemberData(nameof(MailboxNames))]
    public async Task Mailbox_names_are_modified_UTF7_until_UTF8_is_enabled(string sent, string? decoded)
    {
        var command = await Parse($"a DELETE \"{sent}\"");
        // A well-formed command about an impossible name is refused with NO, not BAD (the session goes on).
        if (decoded is null) Assert.Contains("modified UTF-7", Assert.IsType<InvalidMailboxName>(command).Reason);
        else Assert.Equal(decoded, Assert.IsType<DeleteCommand>(command).Mailbox);
        // With UTF8=ACCEPT (RFC 6855) names are taken as they are.
        Assert.Equal(sent, Assert.IsType<DeleteCommand>(await Parse($"a DELETE \"{sent}\"", utf8: true)).Mailbox);
    }

    public static TheoryData<string, long, string> SequenceSets => new()
    {
        // set, largest number in use, the members 1..10 it names
        { "1", 10, "1" },
        { "2:4", 10, "2,3,4" },
        { "4:2", 10, "2,3,4" },      // reversed ranges are the same range (RFC 3501 9)
        { "8:*", 10, "8,9,10" },
        { "*:8", 10, "8,9,10" },
        { "*", 10, "10" },
        { "1,3,5:6", 10, "1,3,5,6" },
        { "4294967295", 10, "" },     // 2^32-1 is the largest number allowed
    };

    [Theory]
    [MemberData(nameof(SequenceSets))]
    public async Task Sequence_sets_name_their_members(string set, long largest, string members)
    {
        var fetch = Assert.IsType<FetchCommand>(await Parse($"a FETCH {set} FLAGS"));
        var named = Enumerable.Range(1, 10).Where(n => fetch.Set.Contains(n, largest));
        Assert.Equal(members, string.Join(',', named));
    }

    [Theory]
    [InlineData("0")]
    [InlineData("4294967296")]          // 2^32
    [InlineData("99999999999999999999")] // beyond a long
    [InlineData("1:")]
    [InlineData(":5")]
    [InlineData("1,,2")]
    [InlineData("1:2:3")]
    [InlineData("-1")]
    [InlineData("**")]
    public async Task Malformed_sequence_sets_are_BAD(string set) =>
        Assert.Equal("Invalid sequence set", Assert.IsType<ImapParseError>(await Parse($"a FETCH {set} FLAGS")).Reason);

    [Fact]
    public async Task The_saved_result_is_read_but_not_offered()
    {
        // RFC 5182 $ parses; SEARCHRES is not advertised, so using it is refused when the command runs.
        Assert.True(Assert.IsType<FetchCommand>(await Parse("a FETCH $ FLAGS")).Set.IsSavedResult);
    }

    public static TheoryData<string> SearchPrograms => new()
    {
        "ALL", "ANSWERED", "DELETED", "DRAFT", "FLAGGED", "NEW", "OLD", "RECENT", "SEEN",
        "UNANSWERED", "UNDELETED", "UNDRAFT", "UNFLAGGED", "UNSEEN", "KEYWORD work", "UNKEYWORD work",
        "BCC x", "CC x", "FROM x", "TO x", "SUBJECT \"two words\"", "BODY x", "TEXT x", "HEADER List-Id lists",
        "BEFORE 1-Feb-2024", "ON 1-Feb-2024", "SINCE 01-Feb-2024", "SENTBEFORE 1-Feb-2024", "SENTON 1-Feb-2024", "SENTSINCE 1-Feb-2024",
        "LARGER 100", "SMALLER 100", "UID 1:5", "1:5", "*", "NOT SEEN", "OR SEEN FLAGGED", "(SEEN FLAGGED) UNDELETED",
        "MODSEQ 10", "OR (FROM a TO b) NOT (SUBJECT c)",
    };

    [Theory]
    [MemberData(nameof(SearchPrograms))]
    public async Task Every_search_key_parses(string program) =>
        Assert.NotNull(Assert.IsType<SearchCommand>(await Parse("a SEARCH " + program)).Query);

    [Theory]
    [InlineData("")]
    [InlineData("BOGUS")]
    [InlineData("FROM")]
    [InlineData("LARGER x")]
    [InlineData("SINCE 31-Foo-2024")]
    [InlineData("OR SEEN")]
    [InlineData("NOT")]
    [InlineData("(SEEN")]
    [InlineData("UID 0")]
    [InlineData("KEYWORD")]
    public async Task Malformed_search_programs_are_BAD(string program)
    {
        var error = Assert.IsType<ImapParseError>(await Parse("a SEARCH " + program));
        Assert.Equal("SEARCH", error.Name);
        Assert.NotEmpty(error.Reason);
    }

    [Fact]
    public async Task Search_nesting_is_bounded()
    {
        var deep = new string('(', 200) + "SEEN" + new string(')', 200);
        Assert.IsType<ImapParseError>(await Parse("a SEARCH " + deep));
        var nots = string.Concat(Enumerable.Repeat("NOT ", 200)) + "SEEN";
        Assert.IsType<ImapParseError>(await Parse("a SEARCH " + nots));
    }

    [Fact]
    public async Task Literals_synchronising_non_synchronising_and_oversize()
    {
        async Task<(ReadStatus Status, int Continuations)> Read(string wire, long limit)
        {
            var pipe = new Pipe();
            await pipe.Writer.WriteAsync(Encoding.UTF8.GetBytes(wire));
            await pipe.Writer.CompleteAsync();
            var continuations = 0;
            var reader = new ImapCommandReader(pipe.Reader) { MaxLine = 1000, MaxCommand = 4000 };
            var (status, _) = await reader.ReadCommandAsync(_ => limit, () => { continuations++; return Task.CompletedTask; }, CancellationToken.None);
            return (status, continuations);
        }
        Assert.Equal((ReadStatus.Command, 1), await Read("a LOGIN {3}\r\nbob pw\r\n", 10));
        Assert.Equal((ReadStatus.Command, 0), await Read("a LOGIN {3+}\r\nbob pw\r\n", 10));
        // Over the limit: a synchronising literal is refused before it is sent; a LITERAL+ one ends the session.
        Assert.Equal((ReadStatus.LiteralTooLarge, 0), await Read("a APPEND INBOX {11}\r\n", 10));
        Assert.Equal((ReadStatus.LiteralPlusTooLarge, 0), await Read("a APPEND INBOX {11+}\r\nhello world\r\n", 10));
        Assert.Equal((ReadStatus.LiteralTooLarge, 0), await Read("a APPEND INBOX {99999999999999999999}\r\n", 10));
        // The APPEND message is bounded by the literal limit alone, not by the per-command limit
        // (4,000 here) of everything else: a message larger than that is one command.
        var large = new string('m', 5000);
        Assert.Equal((ReadStatus.Command, 0), await Read($"a APPEND INBOX {{{large.Length}+}}\r\n{large}\r\n", 10_000));
        Assert.Equal((ReadStatus.Command, 1), await Read($"a APPEND INBOX (\\Seen) {{{large.Length}}}\r\n{large}\r\n", 10_000));
        // A literal that ends the connection early is a closed connection, not a command.
        Assert.Equal((ReadStatus.Closed, 1), await Read("a LOGIN {30}\r\nshort", 100));
    }

    [Fact]
    public Task Fuzzed_commands_through_reader_and_parser_always_give_a_command_or_a_typed_error() =>
        ImapWireFuzz.RunAsync(3501, "", ValidCommands.Select(r => r.Data.Item1).Concat(MalformedCommands.Select(r => r.Data.Item1))
            .Concat(SearchPrograms.Select(r => "a SEARCH " + r.Data)), maxLine: 200, iterations: 4000);
}

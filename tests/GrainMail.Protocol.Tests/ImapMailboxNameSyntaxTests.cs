using System.Text;
using GrainMail.Contracts.Mailboxes;
using GrainMail.Gateways.Imap.Commands;
using GrainMail.Gateways.Imap.Protocol;

namespace GrainMail.Protocol.Tests;

/// <summary>
/// Mailbox names with atom-specials as the parser reads them (quoted strings and literals, in every
/// command that takes a name) and as the writer writes them back (LIST, LSUB, STATUS): what is written
/// reads back as the same name. Which names the mailbox may hold is <see cref="MailboxNameRules"/>.
/// </summary>
public sealed class ImapMailboxNameSyntaxTests
{
    private static Task<ImapCommand> Parse(string line) => ImapCommandParserTests.ParseWire(line + "\r\n");

    public static TheoryData<string, string> QuotedNames => new()
    {
        // as sent, the name it means
        { "\"a(b\"", "a(b" },
        { "\"x]y\"", "x]y" },
        { "\"sp ace\"", "sp ace" },
        { "\"quo\\\"te\"", "quo\"te" },
        { "\"back\\\\slash\"", "back\\slash" },
        { "\"cur{ly}\"", "cur{ly}" },
        { "\"NIL\"", "NIL" },
        { "\"a&-b (c)\"", "a&b (c)" },
        { "\"50%\"", "50%" },
        { "\"a*b\"", "a*b" },
        { "{7}\r\nsp)ace\"", "sp)ace\"" },
        { "{4+}\r\n{1}\\", "{1}\\" },
    };

    [Theory]
    [MemberData(nameof(QuotedNames))]
    public async Task Every_command_that_takes_a_name_reads_a_quoted_or_literal_name_with_atom_specials(string sent, string name)
    {
        Assert.Equal(name, Assert.IsType<CreateCommand>(await Parse($"a CREATE {sent}")).Mailbox);
        Assert.Equal(name, Assert.IsType<DeleteCommand>(await Parse($"a DELETE {sent}")).Mailbox);
        Assert.Equal(name, Assert.IsType<SelectCommand>(await Parse($"a SELECT {sent}")).Mailbox);
        Assert.Equal(name, Assert.IsType<SelectCommand>(await Parse($"a EXAMINE {sent}")).Mailbox);
        Assert.Equal(name, Assert.IsType<StatusCommand>(await Parse($"a STATUS {sent} (MESSAGES)")).Mailbox);
        Assert.Equal(name, Assert.IsType<SubscribeCommand>(await Parse($"a SUBSCRIBE {sent}")).Mailbox);
        Assert.Equal(name, Assert.IsType<SubscribeCommand>(await Parse($"a UNSUBSCRIBE {sent}")).Mailbox);
        var rename = Assert.IsType<RenameCommand>(await Parse($"a RENAME {sent} {sent}"));
        Assert.Equal((name, name), (rename.From, rename.To));
        Assert.Equal(name, Assert.IsType<CopyCommand>(await Parse($"a COPY 1:2 {sent}")).Target);
        Assert.Equal(name, Assert.IsType<CopyCommand>(await Parse($"a UID MOVE 1 {sent}")).Target);
        Assert.Equal(name, Assert.IsType<AppendCommand>(await Parse($"a APPEND {sent} (\\Seen) {{1+}}\r\nx")).Mailbox);
        Assert.Equal(name, Assert.IsType<GetQuotaRootCommand>(await Parse($"a GETQUOTAROOT {sent}")).Mailbox);
        // As a LIST or LSUB pattern the same string is the pattern (wildcards stay wildcards there), decoded when matched.
        var list = Assert.Single(Assert.IsType<ListCommand>(await Parse($"a LIST \"\" {sent}")).Patterns);
        Assert.Equal(name, ImapCommandParser.DecodeName(list, utf8: false));
        var lsub = Assert.Single(Assert.IsType<ListCommand>(await Parse($"a LSUB \"\" {sent}")).Patterns);
        Assert.Equal(name, ImapCommandParser.DecodeName(lsub, utf8: false));
    }

    [Theory]
    [InlineData("a CREATE a(b")]
    [InlineData("a CREATE x y")]
    [InlineData("a SELECT \"open")]
    [InlineData("a RENAME \"a\\b\" c")]
    public async Task An_unquoted_or_broken_name_is_a_syntax_error_answered_with_BAD(string line)
    {
        // The client's mistake, not an impossible name: BAD for this command, and the session reads on.
        Assert.IsType<ImapParseError>(await Parse(line));
    }

    [Theory]
    [InlineData("a(b", "\"a(b\"")]
    [InlineData("x]y", "\"x]y\"")]
    [InlineData("sp ace", "\"sp ace\"")]
    [InlineData("quo\"te", "\"quo\\\"te\"")]
    [InlineData("back\\slash", "\"back\\\\slash\"")]
    [InlineData("NIL", "\"NIL\"")]
    [InlineData("nil", "\"nil\"")]
    [InlineData("Plain.Name-1", "Plain.Name-1")]
    [InlineData("INBOX/Sub", "INBOX/Sub")]
    public async Task Names_are_written_bare_only_when_they_are_plain_atoms(string name, string written)
    {
        var w = new ImapWriter();
        w.AString(name);
        Assert.Equal(written, await Written(w));
    }

    [Fact]
    public async Task Any_name_the_mailbox_may_hold_reads_back_as_itself_from_how_it_is_written()
    {
        // Printable ASCII (the wire form of any name: non-ASCII goes as modified UTF-7 first), seeded.
        var random = new Random(5465);
        const string alphabet = " !\"#$&'()+,-./0123456789:;<=>?@AZaz[\\]^_`{|}~";
        for (var i = 0; i < 2000; i++)
        {
            var chars = new char[random.Next(1, 24)];
            for (var j = 0; j < chars.Length; j++) chars[j] = alphabet[random.Next(alphabet.Length)];
            var name = new string(chars);
            if (MailboxNameRules.Problem(name) is not null || ImapCommandParser.DecodeName(name, utf8: false) != name) continue;
            var w = new ImapWriter();
            w.AString(name);
            var written = await Written(w);
            Assert.Equal(name, Assert.IsType<SelectCommand>(await Parse($"a SELECT {written}")).Mailbox);
        }
    }

    public static TheoryData<string?, string?> Rules => new()
    {
        // name, what the reason names (null: a name the mailbox may hold)
        { "a(b) [c] {d} \"e\" \\f", null },
        { "Lists/imap/2026", null },
        { "100$ & co", null },
        { "", "empty" },
        { "a*b", "% or *" },
        { "50%", "% or *" },
        { "/lead", "separator" },
        { "trail/", "separator" },
        { "a//b", "separator" },
        { "tab\there", "control characters" },
        { new string('x', 513), "at most 512" },
    };

    [Theory]
    [MemberData(nameof(Rules))]
    public void The_rules_name_what_a_name_may_not_be(string? name, string? reason)
    {
        var problem = MailboxNameRules.Problem(name);
        if (reason is null) Assert.Null(problem);
        else Assert.Contains(reason, problem);
    }

    private static async Task<string> Written(ImapWriter w)
    {
        using var stream = new MemoryStream();
        await w.FlushAsync(stream, CancellationToken.None);
        return Encoding.UTF8.GetString(stream.ToArray());
    }
}

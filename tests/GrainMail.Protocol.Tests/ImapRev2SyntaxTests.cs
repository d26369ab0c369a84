using GrainMail.Gateways.Imap.Commands;

namespace GrainMail.Protocol.Tests;

/// <summary>
/// IMAP4rev1 syntax that RFC 9051 took out (Appendix E, the section 9 grammar): what a session that sent
/// ENABLE IMAP4rev2 has refused, and what stays, as the pure check reads parsed commands.
/// </summary>
public sealed class ImapRev2SyntaxTests
{
    private static Task<ImapCommand> Parse(string line) => ImapCommandParserTests.ParseWire(line + "\r\n", false);

    public static TheoryData<string, string?> Commands => new()
    {
        { "a CHECK", "NOOP" },
        { "a FETCH 1 RFC822", "BODY[]" },
        { "a UID FETCH 1:* (FLAGS RFC822.HEADER)", "BODY.PEEK[HEADER]" },
        { "a FETCH 1 (UID RFC822.TEXT)", "BODY[TEXT]" },
        // What IMAP4rev2 kept.
        { "a FETCH 1 (RFC822.SIZE UID FLAGS)", null },
        { "a FETCH 1 (BODY.PEEK[] BODY[HEADER] BODY[TEXT])", null },
        { "a FETCH 1:* FAST", null },
        { "a FETCH 1 ALL", null },
        { "a LIST (SUBSCRIBED) \"\" *", null },
        // Deprecated, not removed (RFC 9051 E): still answered.
        { "a LSUB \"\" *", null },
        { "a lsub \"\" %", null },
        { "a LIST \"\" *", null },
        { "a NOOP", null },
        { "a STATUS INBOX (MESSAGES)", null },
    };

    [Theory]
    [MemberData(nameof(Commands))]
    public async Task Rev1_only_syntax_is_named_with_what_replaces_it(string line, string? replacement)
    {
        var reason = Rev2Syntax.Removed(await Parse(line));
        if (replacement is null)
        {
            Assert.Null(reason);
            return;
        }
        Assert.NotNull(reason);
        Assert.Contains("IMAP4rev2", reason);
        Assert.Contains(replacement, reason);
    }
}

using System.Text;
using GrainMail.Gateways.Pop3.Protocol;

namespace GrainMail.Protocol.Tests;

/// <summary>Every POP3 command through the pure parser: valid forms, malformed ones, and fuzzing.</summary>
public sealed class Pop3CommandParserTests
{
    private static Pop3Command Parse(string line) => Pop3CommandParser.Parse(Encoding.UTF8.GetBytes(line));

    public static TheoryData<string, Pop3Command> Valid => new()
    {
        { "CAPA", new CapaCommand() },
        { "capa", new CapaCommand() },
        { "QUIT", new QuitCommand() },
        { "NOOP", new NoopCommand() },
        { "STLS", new StlsCommand() },
        { "USER alice@example.com", new UserCommand("alice@example.com") },
        { "user  alice ", new UserCommand("alice") },
        { "PASS secret with spaces ", new PassCommand("secret with spaces ") },
        { "PASS", new PassCommand("") },
        { "AUTH", new AuthCommand(null, null) },
        { "AUTH PLAIN", new AuthCommand("PLAIN", null) },
        { "AUTH PLAIN AGFsaWNlAHB3", new AuthCommand("PLAIN", "AGFsaWNlAHB3") },
        { "AUTH  LOGIN  =", new AuthCommand("LOGIN", "=") },
        { "STAT", new StatCommand() },
        { "RSET", new RsetCommand() },
        { "LIST", new ListCommand("LIST", null) },
        { "LIST 3", new ListCommand("LIST", 3) },
        { "uidl 12", new ListCommand("UIDL", 12) },
        { "UIDL", new ListCommand("UIDL", null) },
        { "RETR 1", new RetrCommand(1) },
        { "RETR  7 ", new RetrCommand(7) },
        { "DELE 2147483647", new DeleCommand(int.MaxValue) },
        { "TOP 1 0", new TopCommand(1, 0) },
        { "TOP 2 10", new TopCommand(2, 10) },
        { "RETR 0", new RetrCommand(0) }, // a number; that message 0 does not exist is the session's answer
    };

    [Theory]
    [MemberData(nameof(Valid))]
    public void Valid_commands_parse_to_their_records(string line, Pop3Command expected) => Assert.Equal(expected, Parse(line));

    public static TheoryData<string, string, Pop3ErrorKind, string> Malformed => new()
    {
        { "", "", Pop3ErrorKind.Unknown, "-ERR Unknown command" },
        { "HELO there", "HELO", Pop3ErrorKind.Unknown, "-ERR Unknown command" },
        { " STAT", "", Pop3ErrorKind.Unknown, "-ERR Unknown command" },
        { "APOP alice 0123", "APOP", Pop3ErrorKind.Unknown, "-ERR Unknown command" },
        { "USER", "USER", Pop3ErrorKind.Syntax, "-ERR Syntax: USER name" },
        { "USER ", "USER", Pop3ErrorKind.Syntax, "-ERR Syntax: USER name" },
        { "RETR", "RETR", Pop3ErrorKind.NoSuchMessage, "-ERR No such message" },
        { "RETR x", "RETR", Pop3ErrorKind.NoSuchMessage, "-ERR No such message" },
        { "RETR -1", "RETR", Pop3ErrorKind.NoSuchMessage, "-ERR No such message" },
        { "RETR +1", "RETR", Pop3ErrorKind.NoSuchMessage, "-ERR No such message" },
        { "RETR 1 2", "RETR", Pop3ErrorKind.NoSuchMessage, "-ERR No such message" },
        { "RETR 99999999999", "RETR", Pop3ErrorKind.NoSuchMessage, "-ERR No such message" },
        { "DELE ", "DELE", Pop3ErrorKind.NoSuchMessage, "-ERR No such message" },
        { "LIST a", "LIST", Pop3ErrorKind.NoSuchMessage, "-ERR No such message" },
        { "UIDL  ", "UIDL", Pop3ErrorKind.NoSuchMessage, "-ERR No such message" },
        { "TOP", "TOP", Pop3ErrorKind.Syntax, "-ERR Syntax: TOP msg n" },
        { "TOP 1", "TOP", Pop3ErrorKind.Syntax, "-ERR Syntax: TOP msg n" },
        { "TOP 1 -1", "TOP", Pop3ErrorKind.Syntax, "-ERR Syntax: TOP msg n" },
        { "TOP 1 2 3", "TOP", Pop3ErrorKind.Syntax, "-ERR Syntax: TOP msg n" },
        { "TOP 1 x", "TOP", Pop3ErrorKind.Syntax, "-ERR Syntax: TOP msg n" },
        { "TOP x 1", "TOP", Pop3ErrorKind.NoSuchMessage, "-ERR No such message" },
        { "STAT\0", "", Pop3ErrorKind.Nul, "-ERR Syntax error: NUL in command" },
        { "PASS a\0b", "", Pop3ErrorKind.Nul, "-ERR Syntax error: NUL in command" },
    };

    [Theory]
    [MemberData(nameof(Malformed))]
    public void Malformed_commands_give_a_typed_error_with_the_reply(string line, string verb, Pop3ErrorKind kind, string reply)
    {
        var error = Assert.IsType<Pop3SyntaxError>(Parse(line));
        Assert.Equal(verb, error.Verb);
        Assert.Equal(kind, error.Kind);
        Assert.Equal(reply, error.Reply);
    }

    [Fact]
    public void Transaction_verbs_are_told_apart_from_authorization_ones()
    {
        foreach (var v in new[] { "STAT", "LIST", "UIDL", "RETR", "TOP", "DELE", "RSET", "NOOP" }) Assert.True(Pop3CommandParser.IsTransactionVerb(v));
        foreach (var v in new[] { "USER", "PASS", "AUTH", "STLS", "CAPA", "QUIT", "APOP" }) Assert.False(Pop3CommandParser.IsTransactionVerb(v));
    }

    [Fact]
    public void Fuzzed_lines_always_yield_a_command_or_a_typed_error()
    {
        var random = new Random(1939);
        var seeds = Valid.Select(row => row.Data.Item1).Concat(Malformed.Select(row => row.Data.Item1)).Select(Encoding.UTF8.GetBytes).ToArray();
        for (var i = 0; i < 5000; i++)
        {
            var line = i % 2 == 0 ? Fuzz.RandomBytes(random, 64) : Fuzz.Mutate(random, seeds[random.Next(seeds.Length)]);
            var command = Pop3CommandParser.Parse(line);
            Assert.NotNull(command);
            Assert.NotNull(command.Verb);
            if (command is Pop3SyntaxError error) Assert.StartsWith("-ERR ", error.Reply);
        }
    }
}

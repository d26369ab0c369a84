using System.Text;
using GrainMail.Gateways.ManageSieve.Protocol;

namespace GrainMail.Protocol.Tests.Sieve;

/// <summary>The ManageSieve command reader (RFC 5804 4): tokens, literals, partial input and refusals.</summary>
public sealed class ManageSieveParserTests
{
    private static ParseResult P(string s, long maxLiteral = 1000) => ManageSieveParser.TryParse(Encoding.UTF8.GetBytes(s), maxLiteral);

    [Theory]
    [InlineData("CAPABILITY\r\n", typeof(CapabilityCommand))]
    [InlineData("capability\r\n", typeof(CapabilityCommand))]
    [InlineData("LOGOUT\r\n", typeof(LogoutCommand))]
    [InlineData("STARTTLS\r\n", typeof(StartTlsCommand))]
    [InlineData("LISTSCRIPTS\r\n", typeof(ListScriptsCommand))]
    [InlineData("NOOP\r\n", typeof(NoopCommand))]
    [InlineData("NOOP \"tag\"\r\n", typeof(NoopCommand))]
    [InlineData("UNAUTHENTICATE\r\n", typeof(UnauthenticateCommand))]
    [InlineData("AUTHENTICATE \"PLAIN\"\r\n", typeof(AuthenticateCommand))]
    [InlineData("AUTHENTICATE \"PLAIN\" \"AGEAYg==\"\r\n", typeof(AuthenticateCommand))]
    [InlineData("AUTHENTICATE \"PLAIN\" {8+}\r\nAGEAYg==\r\n", typeof(AuthenticateCommand))]
    [InlineData("HAVESPACE \"s\" 100\r\n", typeof(HaveSpaceCommand))]
    [InlineData("PUTSCRIPT \"s\" {5+}\r\nkeep;\r\n", typeof(PutScriptCommand))]
    [InlineData("PUTSCRIPT \"s\" {5}\r\nkeep;\r\n", typeof(PutScriptCommand))]
    [InlineData("PUTSCRIPT \"s\" \"keep;\"\r\n", typeof(PutScriptCommand))]
    [InlineData("CHECKSCRIPT {5+}\r\nkeep;\r\n", typeof(CheckScriptCommand))]
    [InlineData("GETSCRIPT \"s\"\r\n", typeof(GetScriptCommand))]
    [InlineData("SETACTIVE \"\"\r\n", typeof(SetActiveCommand))]
    [InlineData("DELETESCRIPT \"s\"\r\n", typeof(DeleteScriptCommand))]
    [InlineData("RENAMESCRIPT \"a\" \"b\"\r\n", typeof(RenameScriptCommand))]
    [InlineData("CAPABILITY\n", typeof(CapabilityCommand))]
    public void Commands(string input, Type expected)
    {
        var r = P(input);
        Assert.Equal(ParseStatus.Command, r.Status);
        Assert.IsType(expected, r.Command);
        Assert.Equal(Encoding.UTF8.GetByteCount(input), r.Consumed);
    }

    [Theory]
    [InlineData("FROB\r\n", "NO \"Unknown command\"")]
    [InlineData("PUTSCRIPT \"s\"\r\n", "NO \"Syntax: PUTSCRIPT")]
    [InlineData("HAVESPACE \"s\" -1\r\n", "NO \"Syntax: HAVESPACE")]
    [InlineData("GETSCRIPT s\r\n", "NO \"Syntax: GETSCRIPT")]
    [InlineData("\"quoted\"\r\n", "NO \"A command starts with its name\"")]
    [InlineData("\r\n", "NO \"Empty command\"")]
    [InlineData("GETSCRIPT \"a\\x\"\r\n", "NO \"Bad escape")]
    [InlineData("GETSCRIPT {x}\r\n", "NO \"Bad literal\"")]
    [InlineData("NOOP\rX\r\n", "NO \"Bare CR")]
    public void Errors(string input, string reply)
    {
        var r = P(input);
        Assert.NotEqual(ParseStatus.Incomplete, r.Status);
        var error = Assert.IsType<ManageSieveSyntaxError>(r.Command);
        Assert.StartsWith(reply, error.Reply);
        Assert.True(r.Consumed is > 0 or -1);
    }

    [Theory]
    [InlineData("CAPA")]
    [InlineData("PUTSCRIPT \"s\" {5+}\r\nkee")]
    [InlineData("PUTSCRIPT \"s\" {5+}")]
    [InlineData("GETSCRIPT \"unfinished")]
    [InlineData("NOOP\r")]
    public void Partial_input_asks_for_more(string input) => Assert.Equal(ParseStatus.Incomplete, P(input).Status);

    [Fact]
    public void A_literal_beyond_the_limit_is_refused_without_buffering_it()
    {
        var r = P("PUTSCRIPT \"s\" {5000+}\r\n", maxLiteral: 1000);
        Assert.Equal(ParseStatus.Error, r.Status);
        Assert.Equal(5000, r.Skip);
        Assert.StartsWith("NO (QUOTA/MAXSIZE)", ((ManageSieveSyntaxError)r.Command!).Reply);
    }

    [Fact]
    public void Script_bytes_and_names_come_through_exactly()
    {
        var r = P("PUTSCRIPT \"caf\u00e9 \\\"x\\\"\" {12+}\r\nkeep;\r\nstop;\r\n");
        var put = Assert.IsType<PutScriptCommand>(r.Command);
        Assert.Equal("caf\u00e9 \"x\"", put.Name);
        Assert.Equal("keep;\r\nstop;", Encoding.UTF8.GetString(put.Content));
    }

    [Fact]
    public void Sasl_answers_parse_as_one_string()
    {
        var r = ManageSieveParser.TryParseSaslResponse(new System.Buffers.ReadOnlySequence<byte>("\"AGEAYg==\"\r\nNEXT"u8.ToArray()));
        Assert.Equal("AGEAYg==", Assert.IsType<SaslResponseCommand>(r.Command).Response);
        Assert.Equal(12, r.Consumed);
        var literal = ManageSieveParser.TryParseSaslResponse(new System.Buffers.ReadOnlySequence<byte>("{8+}\r\nAGEAYg==\r\n"u8.ToArray()));
        Assert.Equal("AGEAYg==", Assert.IsType<SaslResponseCommand>(literal.Command).Response);
    }

    [Theory]
    [InlineData("plain", "\"plain\"")]
    [InlineData("with \"quote\"", "\"with \\\"quote\\\"\"")]
    [InlineData("two\r\nlines", "{10}\r\ntwo\r\nlines")]
    public void Quoting(string s, string expected) => Assert.Equal(expected, ManageSieveParser.Quote(s));

    [Fact]
    public void Fuzzed_input_always_gets_an_answer_or_asks_for_more()
    {
        var random = new Random(5804);
        string[] seeds =
        [
            "PUTSCRIPT \"s\" {5+}\r\nkeep;\r\n", "AUTHENTICATE \"PLAIN\" \"AGEAYg==\"\r\n", "RENAMESCRIPT \"a\" \"b\"\r\n", "HAVESPACE \"x\" 99\r\n",
        ];
        for (var i = 0; i < 4000; i++)
        {
            var bytes = i % 2 == 0 ? Fuzz.RandomBytes(random, 120) : Fuzz.Mutate(random, Encoding.UTF8.GetBytes(seeds[i % seeds.Length]));
            var r = ManageSieveParser.TryParse(bytes, 1000);
            switch (r.Status)
            {
                case ParseStatus.Incomplete:
                    // Nothing consumed; with the line finished by CRLF the parser decides or still waits for a literal.
                    Assert.Equal(0, r.Consumed);
                    break;
                default:
                    Assert.NotNull(r.Command);
                    Assert.True(r.Consumed is -1 or > 0 && r.Consumed <= bytes.Length);
                    break;
            }
        }
    }
}

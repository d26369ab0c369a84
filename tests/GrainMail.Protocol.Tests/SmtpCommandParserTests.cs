using GrainMail.Contracts.Delivery;
using System.Text;
using GrainMail.Gateways.Smtp.Protocol;

namespace GrainMail.Protocol.Tests;

/// <summary>The SMTP command parser, table-driven: each verb, paths, every parameter, and their malformed forms.</summary>
public sealed class SmtpCommandParserTests
{
    private static SmtpCommand Ok(string line)
    {
        var r = SmtpCommandParser.Parse(line);
        Assert.True(r.Command is not null, $"'{line}' should parse, got {r.Error?.Reply}");
        return r.Command!;
    }

    private static string Refused(string line)
    {
        var r = SmtpCommandParser.Parse(line);
        Assert.True(r.Error is not null, $"'{line}' should be refused, parsed as {r.Command}");
        return $"{r.Error!.Reply.Code} {r.Error.Reply.Enhanced}";
    }

    [Theory]
    [InlineData("EHLO mail.example.org", typeof(HeloCommand))]
    [InlineData("ehlo mail.example.org", typeof(HeloCommand))]
    [InlineData("EHLO [192.0.2.1]", typeof(HeloCommand))]
    [InlineData("EHLO [IPv6:2001:db8::1]", typeof(HeloCommand))]
    [InlineData("EHLO localhost", typeof(HeloCommand))]
    [InlineData("EHLO desktop_pc.local", typeof(HeloCommand))]
    [InlineData("EHLO mail.example.org ", typeof(HeloCommand))]
    [InlineData("HELO mail.example.org", typeof(HeloCommand))]
    [InlineData("MAIL FROM:<a@b.example>", typeof(MailCommand))]
    [InlineData("MAIL FROM:<>", typeof(MailCommand))]
    [InlineData("mail from:<a@b.example>", typeof(MailCommand))]
    [InlineData("MAIL FROM: <a@b.example>", typeof(MailCommand))]
    [InlineData("RCPT TO:<a@b.example>", typeof(RcptCommand))]
    [InlineData("RCPT TO:<Postmaster>", typeof(RcptCommand))]
    [InlineData("RCPT TO:<postmaster>", typeof(RcptCommand))]
    [InlineData("DATA", typeof(DataCommand))]
    [InlineData("BDAT 0 LAST", typeof(BdatCommand))]
    [InlineData("BDAT 1000", typeof(BdatCommand))]
    [InlineData("bdat 5 last", typeof(BdatCommand))]
    [InlineData("RSET", typeof(RsetCommand))]
    [InlineData("NOOP", typeof(NoopCommand))]
    [InlineData("NOOP anything at all", typeof(NoopCommand))]
    [InlineData("QUIT", typeof(QuitCommand))]
    [InlineData("VRFY alice", typeof(VrfyCommand))]
    [InlineData("EXPN staff", typeof(ExpnCommand))]
    [InlineData("HELP", typeof(HelpCommand))]
    [InlineData("HELP MAIL", typeof(HelpCommand))]
    [InlineData("STARTTLS", typeof(StartTlsCommand))]
    [InlineData("AUTH PLAIN", typeof(AuthCommand))]
    [InlineData("AUTH PLAIN AGFsaWNlAHNlY3JldA==", typeof(AuthCommand))]
    [InlineData("AUTH PLAIN =", typeof(AuthCommand))]
    [InlineData("auth login", typeof(AuthCommand))]
    [InlineData("AUTH LOGIN YWxpY2U=", typeof(AuthCommand))]
    public void Valid_commands_parse_to_their_type(string line, Type type) => Assert.IsType(type, Ok(line));

    [Theory]
    [InlineData("", "500 5.5.1")]
    [InlineData("FOO", "500 5.5.1")]
    [InlineData("MAILFROM:<a@b.example>", "500 5.5.1")]
    [InlineData("EHLO", "501 5.5.4")]
    [InlineData("EHLO two words", "501 5.5.4")]
    [InlineData("EHLO -bad.example", "501 5.5.4")]
    [InlineData("EHLO bad..example", "501 5.5.4")]
    [InlineData("EHLO [300.1.1.1]", "501 5.5.4")]
    [InlineData("EHLO [IPv6:zz::1]", "501 5.5.4")]
    [InlineData("EHLO [192.0.2.1", "501 5.5.4")]
    [InlineData("HELO", "501 5.5.4")]
    [InlineData("DATA now", "501 5.5.4")]
    [InlineData("RSET x", "501 5.5.4")]
    [InlineData("QUIT now", "501 5.5.4")]
    [InlineData("STARTTLS x", "501 5.5.4")]
    [InlineData("VRFY", "501 5.5.4")]
    [InlineData("EXPN", "501 5.5.4")]
    [InlineData("AUTH", "501 5.5.4")]
    [InlineData("AUTH PLAIN a b", "501 5.5.4")]
    [InlineData("AUTH CRAM-MD5", "504 5.5.4")]
    [InlineData("AUTH XOAUTH2 abc", "504 5.5.4")]
    [InlineData("BDAT", "501 5.5.4")]
    [InlineData("BDAT x", "501 5.5.4")]
    [InlineData("BDAT -1", "501 5.5.4")]
    [InlineData("BDAT 10 FIRST", "501 5.5.4")]
    [InlineData("BDAT 10 LAST more", "501 5.5.4")]
    [InlineData("BDAT 1234567890123456789", "501 5.5.4")]
    [InlineData("MAIL", "501 5.5.4")]
    [InlineData("MAIL TO:<a@b.example>", "501 5.5.4")]
    [InlineData("MAIL FROM:a@b.example", "501 5.5.4")]
    [InlineData("MAIL FROM:<a@b.example", "501 5.5.4")]
    [InlineData("MAIL FROM:<a@b.example>SIZE=10", "501 5.5.4")]
    [InlineData("MAIL FROM:<a@b.example> =10", "501 5.5.4")]
    [InlineData("MAIL FROM:<a@b.example> SIZE=", "501 5.5.4")]
    [InlineData("MAIL FROM:<a@b.example> SIZE=ten", "501 5.5.4")]
    [InlineData("MAIL FROM:<a@b.example> SIZE=-1", "501 5.5.4")]
    [InlineData("MAIL FROM:<a@b.example> SIZE=1 SIZE=2", "501 5.5.4")]
    [InlineData("MAIL FROM:<a@b.example> SMTPUTF8=yes", "501 5.5.4")]
    [InlineData("MAIL FROM:<a@b.example> RET=ALL", "501 5.5.4")]
    [InlineData("MAIL FROM:<a@b.example> RET", "501 5.5.4")]
    [InlineData("MAIL FROM:<a@b.example> ENVID=a+2", "501 5.5.4")]
    [InlineData("MAIL FROM:<a@b.example> ENVID=a+zz", "501 5.5.4")]
    [InlineData("MAIL FROM:<a@b.example> ENVID=a+2b", "501 5.5.4")]
    [InlineData("MAIL FROM:<a@b.example> REQUIRETLS=1", "501 5.5.4")]
    [InlineData("MAIL FROM:<a@b.example> AUTH=a+", "501 5.5.4")]
    [InlineData("MAIL FROM:<a@b.example> BODY=BINARYMIME", "555 5.5.4")]
    [InlineData("MAIL FROM:<a@b.example> BODY=binarymime", "555 5.5.4")]
    [InlineData("MAIL FROM:<a@b.example> BODY=9BIT", "555 5.5.4")]
    [InlineData("MAIL FROM:<a@b.example> BODY", "555 5.5.4")]
    [InlineData("MAIL FROM:<a@b.example> MT-PRIORITY=3", "555 5.5.4")]
    [InlineData("MAIL FROM:<a@b.example> NOTIFY=NEVER", "555 5.5.4")]
    [InlineData("MAIL FROM:<a@b.example> X-UNKNOWN", "555 5.5.4")]
    [InlineData("MAIL FROM:<a@@b.example>", "553 5.1.7")]
    [InlineData("MAIL FROM:<a..b@b.example>", "553 5.1.7")]
    [InlineData("MAIL FROM:<.a@b.example>", "553 5.1.7")]
    [InlineData("MAIL FROM:<a b@b.example>", "553 5.1.7")]
    [InlineData("MAIL FROM:<a@b_x.example>", "553 5.1.7")]
    [InlineData("MAIL FROM:<a@-b.example>", "553 5.1.7")]
    [InlineData("MAIL FROM:<a@[1.2.3]>", "553 5.1.7")]
    [InlineData("MAIL FROM:<ab.example>", "553 5.1.7")]
    [InlineData("MAIL FROM:<@relay.example>", "553 5.1.7")]
    [InlineData("MAIL FROM:<\"unterminated@b.example>", "501 5.5.4")]
    [InlineData("MAIL FROM:<jörg@b.example>", "553 5.6.7")]
    [InlineData("RCPT", "501 5.5.4")]
    [InlineData("RCPT TO:", "501 5.5.4")]
    [InlineData("RCPT TO:<>", "501 5.1.3")]
    [InlineData("RCPT FROM:<a@b.example>", "501 5.5.4")]
    [InlineData("RCPT TO:<a@b.example> NOTIFY=", "501 5.5.4")]
    [InlineData("RCPT TO:<a@b.example> NOTIFY=ALWAYS", "501 5.5.4")]
    [InlineData("RCPT TO:<a@b.example> NOTIFY=NEVER,SUCCESS", "501 5.5.4")]
    [InlineData("RCPT TO:<a@b.example> NOTIFY=SUCCESS,SUCCESS", "501 5.5.4")]
    [InlineData("RCPT TO:<a@b.example> NOTIFY=SUCCESS,", "501 5.5.4")]
    [InlineData("RCPT TO:<a@b.example> ORCPT=a@b.example", "501 5.5.4")]
    [InlineData("RCPT TO:<a@b.example> ORCPT=;a@b.example", "501 5.5.4")]
    [InlineData("RCPT TO:<a@b.example> ORCPT=rfc822;", "501 5.5.4")]
    [InlineData("RCPT TO:<a@b.example> ORCPT=rfc822;a+4", "501 5.5.4")]
    [InlineData("RCPT TO:<a@b.example> ORCPT=rfc 822;x", "501 5.5.4")]
    [InlineData("RCPT TO:<a@b.example> SIZE=10", "555 5.5.4")]
    [InlineData("RCPT TO:<a@b.example> BODY=8BITMIME", "555 5.5.4")]
    [InlineData("RCPT TO:<a@b.example> X-FOO=bar", "555 5.5.4")]
    [InlineData("RCPT TO:<a@b.example> NOTIFY=NEVER NOTIFY=NEVER", "501 5.5.4")]
    [InlineData("RCPT TO:<a.@b.example>", "501 5.1.3")]
    [InlineData("RCPT TO:<a@b..example>", "501 5.1.3")]
    [InlineData("RCPT TO:<a@>", "501 5.1.3")]
    [InlineData("RCPT TO:<@a.example,@b.example>", "501 5.1.3")]
    [InlineData("RCPT TO:<@a.example,b.example:c@d.example>", "501 5.1.3")]
    public void Malformed_commands_get_their_reply(string line, string expected) => Assert.Equal(expected, Refused(line));

    [Fact]
    public void NUL_and_invalid_UTF8_lines_are_500_5_5_2()
    {
        Assert.Equal(500, SmtpCommandParser.Parse("NOOP\0x"u8).Error!.Reply.Code);
        Assert.Equal("5.5.2", SmtpCommandParser.Parse(new byte[] { (byte)'N', 0xC3, 0x28 }).Error!.Reply.Enhanced);
        Assert.IsType<NoopCommand>(SmtpCommandParser.Parse("NOOP"u8).Command);
    }

    [Fact]
    public void A_BDAT_syntax_error_ends_the_session()
    {
        // The chunk's size is unknown, so its octets cannot be skipped: the session cannot stay in step.
        var e = SmtpCommandParser.Parse("BDAT lots").Error!;
        Assert.True(e.CloseSession);
        Assert.False(SmtpCommandParser.Parse("MAIL FROM:x").Error!.CloseSession);
    }

    [Fact]
    public void HELO_and_EHLO_keep_the_name_and_say_which()
    {
        var ehlo = Assert.IsType<HeloCommand>(Ok("EHLO [192.0.2.1]"));
        Assert.Equal("[192.0.2.1]", ehlo.Domain);
        Assert.True(ehlo.Extended);
        Assert.False(Assert.IsType<HeloCommand>(Ok("HELO a.example")).Extended);
    }

    [Theory]
    [InlineData("<a@b.example>", "a", "b.example", false)]
    [InlineData("<First.Last@Sub.Example.ORG>", "First.Last", "Sub.Example.ORG", false)]
    [InlineData("<\"a b\"@b.example>", "\"a b\"", "b.example", false)]
    [InlineData("<\"a>b\"@b.example>", "\"a>b\"", "b.example", false)]
    [InlineData("<\"a\\\"b\"@b.example>", "\"a\\\"b\"", "b.example", false)]
    [InlineData("<\"a@b\"@c.example>", "\"a@b\"", "c.example", false)]
    [InlineData("<user+tag@b.example>", "user+tag", "b.example", false)]
    [InlineData("<a@[192.0.2.1]>", "a", "[192.0.2.1]", true)]
    [InlineData("<a@[IPv6:2001:db8::1]>", "a", "[IPv6:2001:db8::1]", true)]
    [InlineData("<a@[x-tag:some-thing]>", "a", "[x-tag:some-thing]", true)]
    [InlineData("<@relay.example:a@b.example>", "a", "b.example", false)]
    [InlineData("<@r1.example,@r2.example:a@b.example>", "a", "b.example", false)]
    [InlineData("<a@localhost>", "a", "localhost", false)]
    public void Paths_keep_local_part_and_domain_and_ignore_source_routes(string path, string local, string domain, bool literal)
    {
        var mail = Assert.IsType<MailCommand>(Ok("MAIL FROM:" + path));
        Assert.Equal(new SmtpMailbox(local, domain, literal), mail.From.Mailbox);
        var rcpt = Assert.IsType<RcptCommand>(Ok("RCPT TO:" + path));
        Assert.Equal(new SmtpMailbox(local, domain, literal), rcpt.To.Mailbox);
    }

    [Fact]
    public void The_null_path_and_bare_postmaster()
    {
        Assert.True(Assert.IsType<MailCommand>(Ok("MAIL FROM:<>")).From.IsNull);
        var pm = Assert.IsType<RcptCommand>(Ok("RCPT TO:<PostMaster>"));
        Assert.True(pm.To.IsPostmaster);
        Assert.Equal("postmaster", pm.To.Address);
    }

    [Theory]
    [InlineData("<jörg@müller.example>")]
    [InlineData("<用户@例子.测试>")]
    [InlineData("<\"jörg x\"@b.example>")]
    public void SMTPUTF8_addresses_parse_when_announced(string path)
    {
        var mail = Assert.IsType<MailCommand>(Ok($"MAIL FROM:{path} SMTPUTF8"));
        Assert.True(mail.Parameters.SmtpUtf8);
        Assert.False(mail.From.Mailbox!.IsAscii);
        Assert.Equal("553 5.6.7", Refused($"MAIL FROM:{path}"));
        Assert.False(Assert.IsType<RcptCommand>(Ok($"RCPT TO:{path}")).To.Mailbox!.IsAscii);
    }

    [Fact]
    public void Overlong_local_part_domain_and_path_are_refused()
    {
        Assert.IsType<MailCommand>(Ok($"MAIL FROM:<{new string('a', 64)}@b.example>"));
        Assert.Equal("553 5.1.7", Refused($"MAIL FROM:<{new string('a', 65)}@b.example>"));
        Assert.Equal("553 5.1.7", Refused($"MAIL FROM:<a@{new string('b', 64)}.example>"));
        var longDomain = string.Join('.', Enumerable.Repeat(new string('c', 60), 5)) + ".example";
        Assert.Equal("501 5.1.3", Refused($"RCPT TO:<a@{longDomain}>"));
        // 64 + 1 + 190 + 2 brackets = 257 octets: one past RFC 5321 4.5.3.1.3.
        var path = new string('a', 64) + "@" + string.Join('.', Enumerable.Repeat(new string('d', 62), 3)) + ".example.org";
        Assert.True(Encoding.UTF8.GetByteCount(path) + 2 > SmtpPathParser.MaxPath);
        Assert.Equal("501 5.1.3", Refused($"RCPT TO:<{path}>"));
    }

    [Fact]
    public void Every_MAIL_parameter_is_parsed_and_decoded()
    {
        var mail = Assert.IsType<MailCommand>(Ok("MAIL FROM:<a@b.example> size=12345 BODY=8bitmime SMTPUTF8 RET=hdrs ENVID=QQ+2B1+3D2 REQUIRETLS AUTH=a+2Bb@b.example"));
        var p = mail.Parameters;
        Assert.Equal(12345, p.Size);
        Assert.Equal(BodyType.EightBitMime, p.Body);
        Assert.True(p.SmtpUtf8);
        Assert.Equal(DsnReturn.Headers, p.Return);
        Assert.Equal("QQ+1=2", p.EnvelopeId);
        Assert.True(p.RequireTls);
        Assert.Equal("a+b@b.example", p.Auth);
        Assert.Equal(BodyType.SevenBit, Assert.IsType<MailCommand>(Ok("MAIL FROM:<> BODY=7BIT RET=FULL")).Parameters.Body);
        Assert.Equal(DsnReturn.Full, Assert.IsType<MailCommand>(Ok("MAIL FROM:<> RET=FULL")).Parameters.Return);
        Assert.Equal("<>", Assert.IsType<MailCommand>(Ok("MAIL FROM:<> AUTH=<>")).Parameters.Auth);
        Assert.Equal(long.MaxValue, Assert.IsType<MailCommand>(Ok("MAIL FROM:<> SIZE=99999999999999999999")).Parameters.Size);
        Assert.Equal(MailParameters.None, Assert.IsType<MailCommand>(Ok("MAIL FROM:<a@b.example>")).Parameters);
    }

    [Fact]
    public void An_ENVID_longer_than_100_characters_is_refused()
    {
        Assert.IsType<MailCommand>(Ok("MAIL FROM:<> ENVID=" + new string('x', 100)));
        Assert.Equal("501 5.5.4", Refused("MAIL FROM:<> ENVID=" + new string('x', 101)));
    }

    [Theory]
    [InlineData("NOTIFY=NEVER", DsnNotify.Never)]
    [InlineData("NOTIFY=never", DsnNotify.Never)]
    [InlineData("NOTIFY=SUCCESS", DsnNotify.Success)]
    [InlineData("NOTIFY=SUCCESS,FAILURE", DsnNotify.Success | DsnNotify.Failure)]
    [InlineData("NOTIFY=DELAY,FAILURE,SUCCESS", DsnNotify.Success | DsnNotify.Failure | DsnNotify.Delay)]
    public void NOTIFY_values(string parameter, DsnNotify expected) =>
        Assert.Equal(expected, Assert.IsType<RcptCommand>(Ok("RCPT TO:<a@b.example> " + parameter)).Parameters.Notify);

    [Fact]
    public void ORCPT_keeps_its_type_and_the_decoded_address()
    {
        var p = Assert.IsType<RcptCommand>(Ok("RCPT TO:<a@b.example> ORCPT=RFC822;Old+2BUser@b.example NOTIFY=FAILURE")).Parameters;
        Assert.Equal("rfc822", p.OriginalRecipientType);
        Assert.Equal("Old+User@b.example", p.OriginalRecipient);
        Assert.Equal(DsnNotify.Failure, p.Notify);
        var utf8 = Assert.IsType<RcptCommand>(Ok("RCPT TO:<a@b.example> ORCPT=utf-8;j+C3+B6rg@b.example")).Parameters;
        Assert.Equal("jörg@b.example", utf8.OriginalRecipient);
        Assert.Equal(RcptParameters.None, Assert.IsType<RcptCommand>(Ok("RCPT TO:<a@b.example>")).Parameters);
    }

    [Fact]
    public void AUTH_and_BDAT_carry_their_arguments()
    {
        var auth = Assert.IsType<AuthCommand>(Ok("auth plain AGFAYgBj"));
        Assert.Equal("PLAIN", auth.Mechanism);
        Assert.Equal("AGFAYgBj", auth.InitialResponse);
        Assert.Null(Assert.IsType<AuthCommand>(Ok("AUTH LOGIN")).InitialResponse);
        Assert.Equal(new BdatCommand(512, true), Ok("BDAT 512 LAST"));
        Assert.Equal(new BdatCommand(0, false), Ok("BDAT 0"));
        Assert.Equal("a b", Assert.IsType<VrfyCommand>(Ok("VRFY a b")).Argument);
    }

    [Theory]
    [InlineData("", "")]
    [InlineData("abc", "abc")]
    [InlineData("a+2Bb", "a+b")]
    [InlineData("a+3Db", "a=b")]
    [InlineData("+20", " ")]
    [InlineData("+C3+A9", "é")]
    [InlineData("~!", "~!")]
    public void XText_decodes(string xtext, string text)
    {
        Assert.Equal(text, XText.Decode(xtext));
        Assert.Equal(text, XText.Decode(XText.Encode(text)));
    }

    [Theory]
    [InlineData("a=b")]
    [InlineData("a b")]
    [InlineData("+")]
    [InlineData("+2")]
    [InlineData("+2b")]
    [InlineData("+GG")]
    [InlineData("+FF")]
    [InlineData("é")]
    public void XText_refuses_malformed(string xtext) => Assert.Null(XText.Decode(xtext));

    [Fact]
    public void XText_encodes_specials()
    {
        Assert.Equal("a+2Bb+3Dc+20d", XText.Encode("a+b=c d"));
        Assert.Equal("+C3+A9", XText.Encode("é"));
    }
}

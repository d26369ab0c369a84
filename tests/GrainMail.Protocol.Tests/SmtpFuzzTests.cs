using System.Text;
using GrainMail.Gateways.Common.Messages;
using GrainMail.Gateways.Common.Sasl;
using GrainMail.Gateways.Smtp.Protocol;

namespace GrainMail.Protocol.Tests;

/// <summary>
/// Seeded fuzzing of the SMTP parser, the SASL decoder and the message text writer: random bytes
/// and mutations of valid input. No exception may escape, and every input yields an answer.
/// </summary>
public sealed class SmtpFuzzTests
{
    private const int Iterations = 4000;

    private static readonly string[] ValidCommands =
    [
        "EHLO mail.example.org", "HELO [192.0.2.1]", "EHLO [IPv6:2001:db8::1]",
        "MAIL FROM:<a@b.example> SIZE=100 BODY=8BITMIME RET=HDRS ENVID=x+2By SMTPUTF8 REQUIRETLS AUTH=<>",
        "MAIL FROM:<\"quoted \\\" local\"@[192.0.2.1]>", "MAIL FROM:<@r1.example,@r2.example:a@b.example>", "MAIL FROM:<>",
        "RCPT TO:<jörg@müller.example> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;a+2Bb@c.example", "RCPT TO:<Postmaster>",
        "DATA", "BDAT 100 LAST", "RSET", "NOOP x", "QUIT", "VRFY a", "EXPN b", "HELP", "STARTTLS",
        "AUTH PLAIN AGFAYi5leGFtcGxlAHB3", "AUTH LOGIN",
    ];

    private static readonly byte[] Interesting = "<>@:;,.\"\\ =+[]\0\r\n\t"u8.ToArray();

    private static byte[] Mutate(Random random, byte[] input)
    {
        var bytes = new List<byte>(input);
        var edits = random.Next(1, 5);
        for (var e = 0; e < edits; e++)
        {
            var at = bytes.Count == 0 ? 0 : random.Next(bytes.Count);
            switch (random.Next(5))
            {
                case 0 when bytes.Count > 0: bytes.RemoveAt(at); break;
                case 1: bytes.Insert(at, Interesting[random.Next(Interesting.Length)]); break;
                case 2 when bytes.Count > 0: bytes[at] = (byte)random.Next(256); break;
                case 3: bytes.InsertRange(at, Enumerable.Repeat(bytes.Count > 0 ? bytes[at % bytes.Count] : (byte)'a', random.Next(1, 300))); break;
                default:
                    if (bytes.Count > 1) bytes.RemoveRange(at, Math.Min(random.Next(1, 20), bytes.Count - at));
                    break;
            }
        }
        return [.. bytes];
    }

    private static byte[] RandomBytes(Random random)
    {
        var b = new byte[random.Next(0, 200)];
        random.NextBytes(b);
        return b;
    }

    [Fact]
    public void The_SMTP_parser_answers_every_input()
    {
        var random = new Random(5321);
        for (var i = 0; i < Iterations; i++)
        {
            var input = i % 2 == 0 ? RandomBytes(random) : Mutate(random, Encoding.UTF8.GetBytes(ValidCommands[random.Next(ValidCommands.Length)]));
            var r = SmtpCommandParser.Parse(input);
            Assert.True(r.Command is not null ^ r.Error is not null, $"input {Convert.ToHexString(input)}");
            if (r.Error is { } e)
            {
                Assert.InRange(e.Reply.Code, 500, 555);
                Assert.Matches(@"^5\.\d\.\d+$", e.Reply.Enhanced);
            }
        }
    }

    [Fact]
    public void The_SASL_decoder_answers_every_input()
    {
        var random = new Random(4616);
        var valid = new[] { "AGFsaWNlAHNlY3JldA==", "YWxpY2U=", "=", "*" };
        for (var i = 0; i < Iterations; i++)
        {
            var bytes = i % 2 == 0 ? RandomBytes(random) : Mutate(random, Encoding.ASCII.GetBytes(valid[random.Next(valid.Length)]));
            var text = Encoding.Latin1.GetString(bytes);
            var (c, error) = SaslDecoder.DecodePlain(text);
            Assert.True(c is not null ^ error != SaslError.None);
            var (v, loginError) = SaslDecoder.DecodeLoginField(text);
            Assert.True(v is not null ^ loginError != SaslError.None);
        }
    }

    [Fact]
    public void The_message_text_writer_keeps_its_promises_on_any_input()
    {
        var random = new Random(5322);
        var limits = new MessageTextLimits(2000, 300, 5, 20);
        for (var i = 0; i < 2000; i++)
        {
            var input = i % 2 == 0 ? RandomBytes(random) : Mutate(random, "Subject: x\r\nA: b\r\n c\r\n\r\nbody\r\n"u8.ToArray());
            var (text, problem) = MessageText.Normalize(input, limits);
            if (text is null)
            {
                Assert.NotEqual(MessageTextProblem.None, problem);
                continue;
            }
            // Every CR is followed by LF, every LF preceded by CR, and no NUL is left.
            Assert.DoesNotContain((byte)0, text);
            for (var k = 0; k < text.Length; k++)
            {
                if (text[k] == (byte)'\r') Assert.True(k + 1 < text.Length && text[k + 1] == (byte)'\n');
                if (text[k] == (byte)'\n') Assert.True(k > 0 && text[k - 1] == (byte)'\r');
            }
        }
    }
}

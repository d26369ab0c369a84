using System.Text;
using GrainMail.Gateways.Common.Sasl;

namespace GrainMail.Protocol.Tests;

/// <summary>The one SASL decoder (PLAIN, LOGIN) every gateway uses, and its exchange.</summary>
public sealed class SaslDecoderTests
{
    private static string B64(string text) => Convert.ToBase64String(Encoding.UTF8.GetBytes(text));

    [Theory]
    [InlineData("\0alice@example.org\0secret", "", "alice@example.org", "secret")]
    [InlineData("alice@example.org\0alice@example.org\0pw with spaces", "alice@example.org", "alice@example.org", "pw with spaces")]
    [InlineData("\0jörg@例子.测试\0pässwört", "", "jörg@例子.测试", "pässwört")]
    public void PLAIN_valid(string plain, string authz, string authn, string password)
    {
        var (c, error) = SaslDecoder.DecodePlain(B64(plain));
        Assert.Equal(SaslError.None, error);
        Assert.Equal(new SaslCredentials(authz, authn, password), c);
    }

    public static TheoryData<string, SaslError> BadPlain => new()
    {
        { "*", SaslError.Cancelled },
        { " * ", SaslError.Cancelled },
        { "=", SaslError.Malformed },                          // empty: no fields at all
        { "not base64!", SaslError.Malformed },
        { "YWJj", SaslError.Malformed },                       // "abc": one field
        { "AGFsaWNl", SaslError.Malformed },                   // "\0alice": two fields
        { B64("a\0b\0c\0d"), SaslError.Malformed },            // four fields
        { B64("\0\0secret"), SaslError.Malformed },            // empty authcid
        { B64("\0alice\0"), SaslError.Malformed },             // empty password
        { "AGFsaWNlAHNlY3JldA", SaslError.Malformed },         // missing padding
        { "AGFsaWNlAHNlY3JldA===", SaslError.Malformed },      // too much padding
        { Convert.ToBase64String([0, (byte)'a', 0, 0xC3, 0x28]), SaslError.Malformed }, // invalid UTF-8
        { B64("\0" + new string('a', SaslDecoder.MaxField + 1) + "\0pw"), SaslError.Malformed },
        { B64("\0alice\0" + new string('p', SaslDecoder.MaxField + 1)), SaslError.Malformed },
        { "", SaslError.Malformed },
    };

    [Theory]
    [MemberData(nameof(BadPlain))]
    public void PLAIN_malformed(string response, SaslError expected)
    {
        var (c, error) = SaslDecoder.DecodePlain(response);
        Assert.Null(c);
        Assert.Equal(expected, error);
    }

    [Fact]
    public void LOGIN_fields()
    {
        Assert.Equal(("alice@example.org", SaslError.None), SaslDecoder.DecodeLoginField(B64("alice@example.org")));
        Assert.Equal((null, SaslError.Cancelled), SaslDecoder.DecodeLoginField("*"));
        Assert.Equal((null, SaslError.Malformed), SaslDecoder.DecodeLoginField("="));           // empty
        Assert.Equal((null, SaslError.Malformed), SaslDecoder.DecodeLoginField("%%%%"));
        Assert.Equal((null, SaslError.Malformed), SaslDecoder.DecodeLoginField(B64("a\0b")));
        Assert.Equal((null, SaslError.Malformed), SaslDecoder.DecodeLoginField(Convert.ToBase64String([0xFF, 0xFE])));
        Assert.Equal((null, SaslError.Malformed), SaslDecoder.DecodeLoginField(B64(new string('x', SaslDecoder.MaxField + 1))));
    }

    [Fact]
    public async Task LOGIN_exchange_asks_user_then_password()
    {
        var asked = new List<string>();
        var answers = new Queue<string>([B64("bob@example.org"), B64("hunter22")]);
        var (c, error) = await SaslExchange.RunAsync("login", null, ch => { asked.Add(ch); return Task.FromResult<string?>(answers.Dequeue()); });
        Assert.Equal(SaslError.None, error);
        Assert.Equal(new SaslCredentials("", "bob@example.org", "hunter22"), c);
        Assert.Equal([SaslDecoder.LoginUserChallenge, SaslDecoder.LoginPasswordChallenge], asked);
    }

    [Fact]
    public async Task Exchanges_end_on_cancel_or_a_closed_connection()
    {
        Assert.Equal(SaslError.Cancelled, (await SaslExchange.RunAsync("PLAIN", null, _ => Task.FromResult<string?>("*"))).Error);
        Assert.Equal(SaslError.Cancelled, (await SaslExchange.RunAsync("PLAIN", null, _ => Task.FromResult<string?>(null))).Error);
        Assert.Equal(SaslError.Cancelled, (await SaslExchange.RunAsync("LOGIN", B64("bob"), _ => Task.FromResult<string?>("*"))).Error);
        Assert.Equal(SaslError.Malformed, (await SaslExchange.RunAsync("PLAIN", "=", _ => throw new InvalidOperationException("no challenge after an initial response"))).Error);
        Assert.Equal(SaslError.None, (await SaslExchange.RunAsync("PLAIN", B64("\0a@b.example\0pw"), _ => throw new InvalidOperationException())).Error);
    }
}

using GrainMail.Gateways.Pop3.Protocol;

namespace GrainMail.Protocol.Tests;

/// <summary>CAPA (RFC 2449 §5, §6): what is listed is exactly what works on that connection.</summary>
public sealed class Pop3CapabilitiesTests
{
    private static readonly string[] Sasl = ["PLAIN", "LOGIN"];

    [Fact]
    public void Plaintext_port_before_STLS_offers_STLS_and_no_way_to_send_a_password()
    {
        Assert.Equal(
            ["TOP", "UIDL", "RESP-CODES", "AUTH-RESP-CODE", "PIPELINING", "STLS", "IMPLEMENTATION GrainMail"],
            Pop3Capabilities.Lines(passwordsAllowed: false, tlsActive: false, Sasl));
    }

    [Fact]
    public void Under_TLS_USER_and_SASL_are_offered_and_STLS_is_not()
    {
        Assert.Equal(
            ["TOP", "UIDL", "RESP-CODES", "AUTH-RESP-CODE", "PIPELINING", "USER", "SASL PLAIN LOGIN", "IMPLEMENTATION GrainMail"],
            Pop3Capabilities.Lines(passwordsAllowed: true, tlsActive: true, Sasl));
    }

    [Fact]
    public void Plaintext_allowed_without_TLS_offers_both_passwords_and_STLS()
    {
        var lines = Pop3Capabilities.Lines(passwordsAllowed: true, tlsActive: false, Sasl);
        Assert.Contains("USER", lines);
        Assert.Contains("SASL PLAIN LOGIN", lines);
        Assert.Contains("STLS", lines);
    }

    [Fact]
    public void Capabilities_the_server_does_not_implement_are_never_listed()
    {
        foreach (var (passwords, tls) in new[] { (false, false), (true, false), (true, true) })
        {
            var tags = Pop3Capabilities.Lines(passwords, tls, Sasl).Select(l => l.Split(' ')[0]).ToList();
            // No login delay is enforced, mail is never expired by the server, APOP and UTF8 are not offered.
            Assert.DoesNotContain("LOGIN-DELAY", tags);
            Assert.DoesNotContain("EXPIRE", tags);
            Assert.DoesNotContain("APOP", tags);
            Assert.DoesNotContain("UTF8", tags);
            Assert.Equal(tags.Count, tags.Distinct().Count());
        }
    }

    [Fact]
    public void Verbs_of_the_AUTHORIZATION_state_are_told_apart()
    {
        foreach (var v in new[] { "USER", "PASS", "AUTH", "STLS" }) Assert.True(Pop3CommandParser.IsAuthorizationVerb(v));
        foreach (var v in new[] { "STAT", "LIST", "UIDL", "RETR", "TOP", "DELE", "RSET", "NOOP", "CAPA", "QUIT" })
            Assert.False(Pop3CommandParser.IsAuthorizationVerb(v));
    }
}

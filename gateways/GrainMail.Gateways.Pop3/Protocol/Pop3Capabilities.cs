namespace GrainMail.Gateways.Pop3.Protocol;

/// <summary>
/// The CAPA list (RFC 2449 §5): exactly what this server does. It depends on whether a password
/// may be sent now (TLS, or plaintext allowed) and whether TLS is active, never on the POP3
/// state: §5 has capabilities available in AUTHORIZATION announced in both states.
/// </summary>
public static class Pop3Capabilities
{
    public static IReadOnlyList<string> Lines(bool passwordsAllowed, bool tlsActive, IReadOnlyList<string> saslMechanisms)
    {
        var lines = new List<string>
        {
            "TOP",             // RFC 2449 §6.1
            "UIDL",            // §6.8: unique ids from UIDVALIDITY and UID, stable across sessions
            "RESP-CODES",      // §6.4: [IN-USE] and the RFC 3206 codes
            "AUTH-RESP-CODE",  // RFC 3206 §3: every authentication failure says [AUTH]
            "PIPELINING",      // §6.6: answers in order, written together while more commands wait
        };
        if (passwordsAllowed)
        {
            // USER/PASS and AUTH are refused before STLS on the plaintext port, so they are not offered there.
            lines.Add("USER");
            if (saslMechanisms.Count > 0) lines.Add("SASL " + string.Join(' ', saslMechanisms));
        }
        if (!tlsActive) lines.Add("STLS"); // RFC 2595 §4
        lines.Add("IMPLEMENTATION GrainMail");
        return lines;
    }
}

namespace GrainMail.Gateways.Imap.Execution;

/// <summary>The connection states of RFC 3501 3 (RFC 9051 3).</summary>
internal enum ImapSessionState
{
    NotAuthenticated,
    Authenticated,
    Selected,
    Logout,
}

using GrainMail.Contracts.Accounts;

namespace GrainMail.Gateways.Common.Security;

/// <summary>
/// Authentication only over TLS (4.2.20). Every listener refuses a password in clear unless the
/// node allows it (<c>AllowPlaintextAuth</c>, for development); even then a domain whose policy
/// says <c>authRequiresTls</c> (the default) refuses it for its users. The texts name the way to TLS.
/// </summary>
public static class ForcedTls
{
    public const string Imap = "Authentication needs TLS: use STARTTLS first, or connect to port 993 (IMAPS)";
    public const string Smtp = "Authentication needs TLS: use STARTTLS first, or connect to port 465 (SMTPS)";
    public const string Pop3 = "Authentication needs TLS: use STLS first, or connect to port 995 (POP3S)";

    /// <summary>Whether a login of <paramref name="address"/> over a connection without TLS must be refused.</summary>
    public static async Task<bool> RefusesPlaintextAsync(IGrainFactory grains, string address)
    {
        var at = address.LastIndexOf('@');
        if (at < 0) return true;
        // Only an explicit true: a domain that never set it follows the node, which allowed plaintext to get here.
        return (await grains.GetGrain<ISecurityPolicyGrain>(0).GetPolicy(address[(at + 1)..])).AuthRequiresTls == true;
    }
}

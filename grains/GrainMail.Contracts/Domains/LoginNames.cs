namespace GrainMail.Contracts.Domains;

/// <summary>
/// The account a login name means: an address under a domain alias (or a renamed domain's new
/// name) is the same account under the domain's own name, which keys the account and mailbox.
/// </summary>
public static class LoginNames
{
    /// <summary>The normalised address with its domain mapped to the domain it is an alias of; null when not an address.</summary>
    public static async Task<string?> CanonicalAsync(IGrainFactory grains, string? user)
    {
        if (!MailAddress.TryParse(user, out var localPart, out var domain)) return null;
        var primary = await grains.GetGrain<IDomainGrain>(domain).AliasOf();
        return $"{localPart}@{primary ?? domain}";
    }
}

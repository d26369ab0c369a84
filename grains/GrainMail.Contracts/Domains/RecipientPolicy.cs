namespace GrainMail.Contracts.Domains;

/// <summary>
/// The recipient policy for a whole address: one call to the recipient domain's grain
/// (<see cref="IDomainGrain.Resolve"/>), which follows aliases and checks accounts itself.
/// Addresses outside every hosted domain come back <see cref="RecipientStatus.External"/>.
/// </summary>
public static class RecipientPolicy
{
    /// <summary>RFC 5321 4.5.1: "postmaster" at every served domain, in any case.</summary>
    public const string Postmaster = "postmaster";

    public static async Task<RecipientVerdict> ResolveAsync(IGrainFactory grains, string address, long size = 0)
    {
        if (!MailAddress.TryParse(address, out var localPart, out var domain)) return RecipientVerdict.NotHosted with { Status = RecipientStatus.NoSuchUser };
        var verdict = await grains.GetGrain<IDomainGrain>(domain).Resolve(localPart, size);
        return verdict.Status == RecipientStatus.External ? verdict with { External = [$"{localPart}@{domain}"] } : verdict;
    }
}

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

    /// <summary>
    /// The recipient policy for mail the server writes itself (delivery status notifications,
    /// vacation replies, notices). Such mail never posts to a mailing list: an address that is (or
    /// an alias that names) a list reaches the list's owner instead (<c>name-owner@</c>: its
    /// moderators, else the domain's postmaster), beside the alias's other targets. A report about
    /// a list's mail is the owner's business (RFC 2369 List-Owner), and an automatic message
    /// copied to every member would be noise at best and a loop at worst (RFC 3834 2).
    /// </summary>
    public static async Task<RecipientVerdict> ResolveAutomaticAsync(IGrainFactory grains, string address, long size = 0)
    {
        var verdict = await ResolveAsync(grains, address, size);
        if (!verdict.Accepted || verdict.List is not { } list) return verdict;
        var owner = await ResolveAsync(grains, ListOwnerOf(list), size);
        var mailboxes = verdict.Mailboxes.Concat(owner.Accepted ? owner.Mailboxes : []).Distinct(StringComparer.Ordinal).ToList();
        var external = verdict.External.Concat(owner.Accepted ? owner.External : []).Distinct(StringComparer.Ordinal).ToList();
        return verdict with
        {
            Status = mailboxes.Count + external.Count > 0 ? RecipientStatus.Accepted : RecipientStatus.NoSuchUser,
            Mailboxes = mailboxes,
            External = external,
            List = null,
        };
    }

    /// <summary>The owner address of a list as a verdict names it (a command tag such as <c>+approve-…</c> dropped).</summary>
    public static string ListOwnerOf(string list)
    {
        var (address, _) = Lists.ListStreams.Split(list);
        return MailAddress.LocalPartOf(address) + Lists.ListStreams.OwnerSuffix + "@" + MailAddress.DomainOf(address);
    }
}

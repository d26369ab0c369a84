namespace GrainMail.Contracts.Domains;

/// <summary>Where one envelope recipient goes, after domains and aliases are applied.</summary>
/// <param name="MaxMessageBytes">The recipient domain's message size limit, when it is hosted here.</param>
public sealed record ResolvedRecipient(bool Hosted, bool Found, IReadOnlyList<string> Mailboxes, IReadOnlyList<string> External,
    long? MaxMessageBytes = null);

/// <summary>
/// Resolves envelope recipients for every gateway: a hosted domain's accounts and aliases, and
/// one further hop for alias targets that live in another hosted domain. Addresses outside every
/// hosted domain are external.
/// </summary>
public sealed class RecipientResolver(IGrainFactory grains)
{
    public async Task<ResolvedRecipient> ResolveAsync(string address)
    {
        if (!MailAddress.TryParse(address, out var lp, out var domain)) return new ResolvedRecipient(false, false, [], []);
        var first = await grains.GetGrain<IDomainGrain>(domain).ResolveRecipient(lp);
        if (!first.Hosted) return new ResolvedRecipient(false, false, [], [$"{lp}@{domain}"]);
        var limit = first.MaxMessageBytes;
        if (!first.Found) return new ResolvedRecipient(true, false, [], [], limit);
        var mailboxes = new List<string>(first.Mailboxes);
        var external = new List<string>();
        foreach (var target in first.External)
        {
            var second = await grains.GetGrain<IDomainGrain>(MailAddress.DomainOf(target)).ResolveRecipient(MailAddress.LocalPartOf(target));
            if (!second.Hosted)
            {
                external.Add(target);
                continue;
            }
            // Only mailboxes on the second hop: an alias chain is not followed further.
            mailboxes.AddRange(second.Mailboxes);
        }
        var distinct = mailboxes.Distinct(StringComparer.Ordinal).ToList();
        return new ResolvedRecipient(true, distinct.Count + external.Count > 0, distinct, external, limit);
    }
}

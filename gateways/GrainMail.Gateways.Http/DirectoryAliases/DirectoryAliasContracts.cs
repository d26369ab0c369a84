using GrainMail.Contracts.Domains;

namespace GrainMail.Gateways.Http.DirectoryAliases;

/// <param name="Alias">A local part, or an address in the account's domain or one of its domain aliases.</param>
public sealed record AccountAliasRequest(string? Alias);

/// <param name="Alias">The alias's local part: it reaches the account under every name of the domain.</param>
/// <param name="Address">The alias under the domain's own name.</param>
public sealed record AccountAliasResponse(string Alias, string Address);

/// <param name="Name">A domain name (U-labels or A-labels); stored as A-labels.</param>
public sealed record DomainAliasRequest(string? Name);

/// <param name="Domain">The hosted domain the alias delivers to.</param>
/// <param name="Preferred">Whether the domain was renamed to this name (it is the one users are told to use).</param>
public sealed record DomainAliasResponse(string Name, string UnicodeName, string Domain, bool Preferred)
{
    public static DomainAliasResponse From(DomainAliasInfo a) => new(a.Name, Contracts.DomainName.ToUnicode(a.Name), a.Domain, a.Preferred);
}

/// <param name="Name">The domain's new name.</param>
public sealed record RenameDomainRequest(string? Name);

/// <param name="Domain">The domain's key: accounts, mailboxes and logins keep this name.</param>
/// <param name="PreferredName">The new name, now a domain alias that receives and sends.</param>
public sealed record RenameDomainResponse(string Domain, string PreferredName, IReadOnlyList<DomainAliasResponse> Aliases);

/// <summary>Domain settings an administrator may change; absent fields keep their value.</summary>
/// <param name="AccountAliasLimit">Aliases per account (default 3, 0 to 100). Lowering it keeps existing aliases.</param>
/// <param name="AuthRequiresTls">Passwords only over TLS (default true; the domain's security policy, 4.2.20).</param>
/// <param name="ExternalForwarding">Automatic forwarding (Sieve redirect) outside the hosted domains: allowed, denied or listed.</param>
/// <param name="ForwardingDomains">With "listed": the domains (and their subdomains) forwarding may go to.</param>
public sealed record DomainSettingsPatch(long? DefaultQuotaBytes, long? MaxMessageBytes, int? AccountAliasLimit, bool? AuthRequiresTls = null,
    string? ExternalForwarding = null, IReadOnlyList<string>? ForwardingDomains = null);

/// <param name="AuthRequiresTls">Whether the domain's users may authenticate only over TLS (IMAPS/STARTTLS, SMTP 465/STARTTLS, POP3S/STLS, HTTPS).</param>
public sealed record DomainSettingsResponse(string Name, string HomeRegion, long DefaultQuotaBytes, long MaxMessageBytes, int AccountAliasLimit,
    bool AuthRequiresTls = true, string ExternalForwarding = "allowed", IReadOnlyList<string>? ForwardingDomains = null)
{
    public static DomainSettingsResponse From(DomainInfo d) => new(
        d.Name, d.Settings.HomeRegion, d.Settings.DefaultQuotaBytes, d.Settings.MaxMessageBytes, AccountAliasLimits.For(d.Settings),
        ExternalForwarding: ForwardingNames.Name((d.Settings.Forwarding ?? ForwardingPolicy.AllowAll).Mode),
        ForwardingDomains: (d.Settings.Forwarding ?? ForwardingPolicy.AllowAll).Domains);
}

/// <summary>The API's names of <see cref="GrainMail.Contracts.Domains.ExternalForwarding"/>.</summary>
public static class ForwardingNames
{
    public static string Name(ExternalForwarding mode) => mode switch
    {
        GrainMail.Contracts.Domains.ExternalForwarding.Denied => "denied",
        GrainMail.Contracts.Domains.ExternalForwarding.ListedDomains => "listed",
        _ => "allowed",
    };

    public static ExternalForwarding? Parse(string? name) => name?.Trim().ToLowerInvariant() switch
    {
        "allowed" => GrainMail.Contracts.Domains.ExternalForwarding.Allowed,
        "denied" => GrainMail.Contracts.Domains.ExternalForwarding.Denied,
        "listed" => GrainMail.Contracts.Domains.ExternalForwarding.ListedDomains,
        _ => null,
    };
}

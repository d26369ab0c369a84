using Orleans.Concurrency;

namespace GrainMail.Contracts.Domains;

/// <summary>
/// Account aliases (extra local parts of one account), domain aliases (other names of the whole
/// domain) and the domain's rename. A domain alias has a grain of its own name that holds only
/// which domain it belongs to and forwards the recipient policy there.
/// </summary>
public partial interface IDomainGrain
{
    /// <summary>
    /// Gives the account <paramref name="localPart"/> the extra address <paramref name="alias"/>:
    /// a local part, or an address in this domain or one of its domain aliases (stored as the local
    /// part: valid under every name of the domain). AlreadyExists when the name is taken by an
    /// account, a distribution alias or an account alias; Invalid (with the reason) beyond the limit.
    /// Ok carries the stored local part as its detail.
    /// </summary>
    Task<DomainOpResult> AddAccountAlias(string localPart, string alias);

    Task<DomainOpStatus> DeleteAccountAlias(string localPart, string alias);

    /// <summary>The account's aliases as addresses in this domain; null when there is no such account.</summary>
    [Retryable]
    Task<IReadOnlyList<string>?> ListAccountAliases(string localPart);

    /// <summary>Makes <paramref name="alias"/> (a normalised domain name) another name of this domain.</summary>
    Task<DomainOpResult> AddDomainAlias(string alias);

    Task<DomainOpStatus> DeleteDomainAlias(string alias);

    /// <summary>The domain's aliases; null when the domain does not exist.</summary>
    [Retryable]
    Task<IReadOnlyList<DomainAliasInfo>?> ListDomainAliases();

    /// <summary>
    /// The rename an administrator can do without re-keying mailboxes: <paramref name="newName"/>
    /// becomes a domain alias (if it is not one yet) marked as the domain's preferred name. The
    /// current name stays the key of every account and keeps receiving, sending and logging in.
    /// </summary>
    Task<DomainOpResult> Rename(string newName);

    /// <summary>Called on the grain of an alias name by its domain: claims the name; AlreadyExists when it is a domain or another domain's alias.</summary>
    Task<DomainOpStatus> ClaimAsAlias(string domain);

    /// <summary>Called on the grain of an alias name by its domain: gives the name up.</summary>
    Task ReleaseAlias(string domain);

    /// <summary>The domain this name is an alias of; null for a hosted domain or an unknown name.</summary>
    [Retryable, AlwaysInterleave, Orleans.ResponseTimeout(CallTimeouts.LoginRead)]
    Task<string?> AliasOf();
}

[GenerateSerializer, Immutable]
public sealed record DomainAliasInfo(
    [property: Id(0)] string Name,
    [property: Id(1)] string Domain,
    [property: Id(2)] bool Preferred);

public static class AccountAliasLimits
{
    /// <summary>Aliases one account may have when its domain sets no limit of its own.</summary>
    public const int Default = 3;

    /// <summary>The highest per-domain limit an administrator may set.</summary>
    public const int Max = 100;

    public static int For(DomainSettings settings) => settings.AccountAliasLimit ?? Default;
}

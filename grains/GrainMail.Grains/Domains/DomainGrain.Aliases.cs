using GrainMail.Contracts;
using GrainMail.Contracts.Domains;
using GrainMail.Storage.Domains;
using Microsoft.Extensions.DependencyInjection;

namespace GrainMail.Grains.Domains;

public sealed partial class DomainState
{
    /// <summary>
    /// Set on the grain of a domain alias's name (which is not a domain itself): the domain it
    /// belongs to. The recipient policy forwards there; creating a domain of this name is refused.
    /// </summary>
    [Id(20)] public string? AliasOf { get; set; }

    /// <summary>The name the domain was renamed to: one of its domain aliases, the one users are told to use.</summary>
    [Id(21)] public string? PreferredName { get; set; }
}

/// <summary>
/// Account aliases, domain aliases and rename. The rows live in <c>directory_account_alias</c> and
/// <c>directory_domain_alias</c>; this grain is their one writer and holds them in memory, so the
/// recipient policy stays a dictionary lookup.
/// </summary>
public sealed partial class DomainGrain
{
    // alias local part → owning account's local part, and the reverse (for the per-account limit).
    private readonly Dictionary<string, string> _aliasOwner = new(StringComparer.Ordinal);
    private readonly Dictionary<string, List<string>> _aliasesOf = new(StringComparer.Ordinal);
    private readonly HashSet<string> _domainAliases = new(StringComparer.Ordinal);

    // From the service provider rather than the constructor, so that this file is the only one that knows it.
    private DirectoryAliasStore AliasStore => ServiceProvider.GetRequiredService<DirectoryAliasStore>();

    /// <summary>Reads this domain's aliases into memory at activation (a hosted domain only: other names cost nothing).</summary>
    private async Task LoadAliasIndexAsync(CancellationToken ct)
    {
        if (!S.Exists) return;
        var (accountAliases, domainAliases) = await AliasStore.LoadAsync(Name, ct);
        foreach (var (alias, owner) in accountAliases) Index(alias, owner);
        _domainAliases.UnionWith(domainAliases);
    }

    private void Index(string alias, string owner)
    {
        _aliasOwner[alias] = owner;
        if (!_aliasesOf.TryGetValue(owner, out var list)) _aliasesOf[owner] = list = [];
        if (!list.Contains(alias)) list.Add(alias);
    }

    private void Unindex(string alias)
    {
        if (!_aliasOwner.Remove(alias, out var owner)) return;
        if (_aliasesOf.TryGetValue(owner, out var list) && list.Remove(alias) && list.Count == 0) _aliasesOf.Remove(owner);
    }

    /// <summary>Whether a local part is some account's alias (accounts and distribution aliases must not take it).</summary>
    private bool IsAccountAlias(string lp) => _aliasOwner.ContainsKey(lp);

    /// <summary>The owning account's address when <paramref name="lp"/> is an account alias.</summary>
    private IReadOnlyList<string>? AccountAliasTargets(string lp) =>
        _aliasOwner.TryGetValue(lp, out var owner) ? [$"{owner}@{Name}"] : null;

    public async Task<DomainOpResult> AddAccountAlias(string localPart, string alias)
    {
        if (!S.Exists) return new DomainOpResult(DomainOpStatus.NotFound, "no such domain");
        var owner = MailAddress.NormalizeLocalPart(localPart);
        if (owner is null || !_accounts.ContainsKey(owner)) return new DomainOpResult(DomainOpStatus.NotFound, "no such account");
        if (AliasLocalPart(alias) is not { } lp)
            return new DomainOpResult(DomainOpStatus.Invalid, $"'{alias}' is not a local part or an address in {Name} or one of its domain aliases");
        if (_accounts.ContainsKey(lp)) return new DomainOpResult(DomainOpStatus.AlreadyExists, $"{lp}@{Name} is an account");
        if (S.Aliases.ContainsKey(lp)) return new DomainOpResult(DomainOpStatus.AlreadyExists, $"{lp}@{Name} is a distribution alias");
        if (_aliasOwner.TryGetValue(lp, out var holder))
            return new DomainOpResult(DomainOpStatus.AlreadyExists, holder == owner ? $"{lp}@{Name} is already an alias of this account" : $"{lp}@{Name} is another account's alias");
        var limit = AccountAliasLimits.For(S.Settings);
        if (_aliasesOf.TryGetValue(owner, out var existing) && existing.Count >= limit)
            return new DomainOpResult(DomainOpStatus.Invalid, $"{owner}@{Name} already has {existing.Count} aliases; the limit in {Name} is {limit}");
        await AliasStore.AddAccountAliasAsync(Name, lp, owner);
        Index(lp, owner);
        // The account's JMAP identities follow its addresses now, and the moved Identity state is pushed (issue 18).
        _ = GrainFactory.GetGrain<GrainMail.Contracts.Jmap.IJmapIdentityGrain>($"{owner}@{Name}").AddressesChanged();
        return new DomainOpResult(DomainOpStatus.Ok, lp);
    }

    public async Task<DomainOpStatus> DeleteAccountAlias(string localPart, string alias)
    {
        var owner = MailAddress.NormalizeLocalPart(localPart);
        if (!S.Exists || owner is null || AliasLocalPart(alias) is not { } lp) return DomainOpStatus.NotFound;
        if (!_aliasOwner.TryGetValue(lp, out var holder) || holder != owner) return DomainOpStatus.NotFound;
        await AliasStore.RemoveAccountAliasAsync(Name, lp);
        Unindex(lp);
        _ = GrainFactory.GetGrain<GrainMail.Contracts.Jmap.IJmapIdentityGrain>($"{owner}@{Name}").AddressesChanged();
        return DomainOpStatus.Ok;
    }

    public Task<IReadOnlyList<string>?> ListAccountAliases(string localPart)
    {
        var owner = MailAddress.NormalizeLocalPart(localPart);
        if (!S.Exists || owner is null || !_accounts.ContainsKey(owner)) return Task.FromResult<IReadOnlyList<string>?>(null);
        var list = _aliasesOf.TryGetValue(owner, out var aliases) ? aliases.Order(StringComparer.Ordinal).Select(a => $"{a}@{Name}").ToList() : [];
        return Task.FromResult<IReadOnlyList<string>?>(list);
    }

    /// <summary>Called from DeleteAccount: the account's aliases go with it.</summary>
    private async Task DropAccountAliasesAsync(string owner)
    {
        if (!_aliasesOf.TryGetValue(owner, out var aliases)) return;
        await AliasStore.RemoveAccountAliasesOfAsync(Name, owner);
        foreach (var a in aliases.ToList()) Unindex(a);
    }

    /// <summary>A bare local part, or an address under this domain's name or one of its aliases, as a local part.</summary>
    private string? AliasLocalPart(string? alias)
    {
        if (alias is null) return null;
        var at = alias.LastIndexOf('@');
        if (at < 0) return MailAddress.NormalizeLocalPart(alias);
        if (!MailAddress.TryParse(alias, out var lp, out var domain)) return null;
        return domain == Name || _domainAliases.Contains(domain) ? lp : null;
    }

    public async Task<DomainOpResult> AddDomainAlias(string alias)
    {
        if (!S.Exists) return new DomainOpResult(DomainOpStatus.NotFound, "no such domain");
        if (MailAddress.NormalizeDomain(alias) is not { } name) return new DomainOpResult(DomainOpStatus.Invalid, $"'{alias}' is not a domain name");
        if (name == Name) return new DomainOpResult(DomainOpStatus.AlreadyExists, $"{name} is this domain's own name");
        if (_domainAliases.Contains(name)) return new DomainOpResult(DomainOpStatus.AlreadyExists, $"{name} is already an alias of {Name}");
        // Known to this silo's placement before the alias's grain is first called, so it starts in our region.
        regions.Set(name, S.Settings.HomeRegion);
        // The name's own grain decides whether it is free (one writer per name), then the row records it.
        if (await GrainFactory.GetGrain<IDomainGrain>(name).ClaimAsAlias(Name) != DomainOpStatus.Ok)
        {
            regions.Remove(name);
            return new DomainOpResult(DomainOpStatus.AlreadyExists, $"{name} is a hosted domain or another domain's alias");
        }
        await AliasStore.AddDomainAliasAsync(name, Name);
        _domainAliases.Add(name);
        // Mail sent as the alias is signed with the alias's own keys (d= aligned with From: for DMARC).
        await dkim.EnsureAsync(name);
        return DomainOpResult.Ok;
    }

    public async Task<DomainOpStatus> DeleteDomainAlias(string alias)
    {
        if (!S.Exists || MailAddress.NormalizeDomain(alias) is not { } name || !_domainAliases.Contains(name)) return DomainOpStatus.NotFound;
        await ReleaseDomainAliasAsync(name);
        if (S.PreferredName == name)
        {
            S.PreferredName = null;
            await state.WriteStateAsync();
        }
        return DomainOpStatus.Ok;
    }

    private async Task ReleaseDomainAliasAsync(string name)
    {
        // The row first: if the release then fails, a repeated POST of the same alias re-claims it idempotently.
        await AliasStore.RemoveDomainAliasAsync(name);
        _domainAliases.Remove(name);
        await GrainFactory.GetGrain<IDomainGrain>(name).ReleaseAlias(Name);
        regions.Remove(name);
    }

    /// <summary>Called from Delete: a deleted domain's names are free again.</summary>
    private async Task DropDomainAliasesAsync()
    {
        foreach (var name in _domainAliases.ToList()) await ReleaseDomainAliasAsync(name);
    }

    public Task<IReadOnlyList<DomainAliasInfo>?> ListDomainAliases() => Task.FromResult<IReadOnlyList<DomainAliasInfo>?>(S.Exists
        ? _domainAliases.Order(StringComparer.Ordinal).Select(a => new DomainAliasInfo(a, Name, a == S.PreferredName)).ToList()
        : null);

    public async Task<DomainOpResult> Rename(string newName)
    {
        if (!S.Exists) return new DomainOpResult(DomainOpStatus.NotFound, "no such domain");
        if (MailAddress.NormalizeDomain(newName) is not { } name) return new DomainOpResult(DomainOpStatus.Invalid, $"'{newName}' is not a domain name");
        if (name == Name)
        {
            // Back to the key name: the alias that was preferred stays an alias.
            S.PreferredName = null;
            await state.WriteStateAsync();
            return DomainOpResult.Ok;
        }
        if (!_domainAliases.Contains(name) && await AddDomainAlias(name) is { Status: not DomainOpStatus.Ok } refused) return refused;
        S.PreferredName = name;
        await state.WriteStateAsync();
        return DomainOpResult.Ok;
    }

    public async Task<DomainOpStatus> ClaimAsAlias(string domain)
    {
        if (S.Exists) return DomainOpStatus.AlreadyExists;
        if (S.AliasOf is not null) return S.AliasOf == domain ? DomainOpStatus.Ok : DomainOpStatus.AlreadyExists;
        S.AliasOf = domain;
        await state.WriteStateAsync();
        return DomainOpStatus.Ok;
    }

    public async Task ReleaseAlias(string domain)
    {
        if (S.Exists || S.AliasOf != domain) return;
        await state.ClearStateAsync();
        state.State = new DomainState();
    }

    public Task<string?> AliasOf() => Task.FromResult(S.Exists ? null : S.AliasOf);

    /// <summary>
    /// The recipient policy of an alias name: its domain's answer for the same local part (the
    /// mailboxes are the domain's own addresses). Null when this name is not an alias.
    /// </summary>
    private Task<RecipientVerdict>? ResolveAsAlias(string localPart, long size, bool hop)
    {
        if (S.Exists || S.AliasOf is not { } domain) return null;
        var primary = GrainFactory.GetGrain<IDomainGrain>(domain);
        return hop ? primary.Resolve(localPart, size) : primary.ResolveWithin(localPart, size);
    }

    /// <summary>The records each domain alias needs (MX, SPF, its own DKIM keys, DMARC), appended to the domain's own.</summary>
    private async Task<IReadOnlyList<DnsRecord>> DomainAliasDnsRecordsAsync()
    {
        var records = new List<DnsRecord>();
        var host = outbound.HostName;
        foreach (var alias in _domainAliases.Order(StringComparer.Ordinal))
        {
            records.Add(new("MX", alias, $"10 {host}.", $"Mail for the alias {alias} comes to this cluster (delivered as {Name})."));
            records.Add(new("TXT", alias, "v=spf1 mx ~all", $"SPF for the alias {alias}: the MX hosts may send its mail."));
            await dkim.EnsureAsync(alias);
            foreach (var k in (await dkim.PublicKeysAsync(alias)).Where(k => k.Active))
                records.Add(new("TXT", $"{k.Selector}._domainkey.{alias}", k.Record, $"DKIM public key ({k.Algorithm}) for mail sent as {alias} (signed with d={alias})."));
            records.Add(new("TXT", $"_dmarc.{alias}", $"v=DMARC1; p=quarantine; rua=mailto:postmaster@{alias}",
                $"DMARC for the alias {alias}: its mail is aligned by its own SPF and DKIM."));
        }
        return records;
    }
}

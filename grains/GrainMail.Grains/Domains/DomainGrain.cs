using GrainMail.Contracts;
using GrainMail.Contracts.Accounts;
using GrainMail.Contracts.Domains;
using GrainMail.Contracts.Mailboxes;
using GrainMail.Grains.Regions;
using GrainMail.Storage.Domains;

namespace GrainMail.Grains.Domains;

[GenerateSerializer]
public sealed class DomainState
{
    [Id(0)] public bool Exists { get; set; }
    [Id(1)] public DomainSettings Settings { get; set; } = DomainSettings.Default("default");
    [Id(2)] public HashSet<string> Accounts { get; set; } = new(StringComparer.Ordinal);
    [Id(3)] public Dictionary<string, List<string>> Aliases { get; set; } = new(StringComparer.Ordinal);
    [Id(4)] public DateTimeOffset CreatedAt { get; set; }
}

[HomeRegionPlacement]
public sealed class DomainGrain(
    [PersistentState("domain", GrainStorage.Name)] IPersistentState<DomainState> state,
    DomainDirectory directory,
    GrainMail.Outbound.DkimKeyStore dkim,
    GrainMail.Outbound.MailDns dns,
    GrainMail.Outbound.OutboundOptions outbound,
    TimeProvider clock,
    HomeRegions regions,
    HomeRegionKeeper keeper) : Grain, IDomainGrain
{
    public Task<GrainMail.Contracts.Regions.GrainLocation> Locate() => Task.FromResult(keeper.Here());

    public override Task OnActivateAsync(CancellationToken cancellationToken)
    {
        keeper.Watch(this, Name);
        return Task.CompletedTask;
    }

    private DomainState S => state.State;

    private string Name => this.GetPrimaryKeyString();

    public Task<DomainInfo?> GetInfo() => Task.FromResult(S.Exists
        ? new DomainInfo(Name, S.Settings, S.Accounts.Count, S.Aliases.Count, S.CreatedAt)
        : null);

    public async Task<DomainOpStatus> Create(DomainSettings settings)
    {
        if (S.Exists)
        {
            // Repairs a directory row lost between the two writes of an interrupted create.
            await directory.UpsertAsync(Name, S.Settings.HomeRegion);
            regions.Set(Name, S.Settings.HomeRegion);
            return DomainOpStatus.AlreadyExists;
        }
        state.State = new DomainState { Exists = true, Settings = settings, CreatedAt = clock.GetUtcNow() };
        await state.WriteStateAsync();
        await directory.UpsertAsync(Name, settings.HomeRegion);
        regions.Set(Name, settings.HomeRegion);
        // Its DKIM keys exist from the start, so the DNS records can be published before the first mail leaves.
        await dkim.EnsureAsync(Name);
        return DomainOpStatus.Ok;
    }

    public async Task<DomainOpStatus> UpdateSettings(DomainSettings settings)
    {
        if (!S.Exists) return DomainOpStatus.NotFound;
        S.Settings = settings;
        await state.WriteStateAsync();
        await directory.UpsertAsync(Name, settings.HomeRegion);
        regions.Set(Name, settings.HomeRegion);
        return DomainOpStatus.Ok;
    }

    public async Task<IReadOnlyList<DnsRecord>?> GetDnsRecords()
    {
        if (!S.Exists) return null;
        await dkim.EnsureAsync(Name);
        var keys = await dkim.PublicKeysAsync(Name);
        var host = outbound.HostName;
        var records = new List<DnsRecord>
        {
            new("MX", Name, $"10 {host}.", "Mail for the domain comes to this cluster."),
            new("TXT", Name, "v=spf1 mx ~all", "SPF: the domain's MX hosts may send its mail; others are suspect."),
        };
        foreach (var k in keys.Where(k => k.Active))
            records.Add(new("TXT", $"{k.Selector}._domainkey.{Name}", k.Record, $"DKIM public key ({k.Algorithm}) that outgoing mail is signed with."));
        foreach (var k in keys.Where(k => !k.Active).Take(2))
            records.Add(new("TXT", $"{k.Selector}._domainkey.{Name}", k.Record, $"Retired DKIM key ({k.Algorithm}): keep it a few days after a rotation, then remove it."));
        records.Add(new("TXT", $"_dmarc.{Name}", $"v=DMARC1; p=quarantine; rua=mailto:postmaster@{Name}",
            "DMARC: receivers quarantine mail that fails SPF and DKIM alignment, and report to postmaster."));
        records.Add(new("TXT", $"_mta-sts.{Name}", $"v=STSv1; id={S.CreatedAt.ToUnixTimeSeconds()}",
            $"MTA-STS (RFC 8461): senders fetch the policy from https://mta-sts.{Name}/.well-known/mta-sts.txt and use TLS."));
        return records;
    }

    public async Task<IReadOnlyList<DnsRecordCheck>?> CheckDnsRecords()
    {
        var records = await GetDnsRecords();
        if (records is null) return null;
        var checks = new List<DnsRecordCheck>();
        foreach (var record in records)
        {
            IReadOnlyList<string> found;
            try
            {
                found = record.Type == "MX"
                    ? (await dns.MailHostsAsync(record.Name, CancellationToken.None)).Hosts?.Select(h => $"{h}.").ToList() ?? []
                    : await dns.TxtAsync(record.Name);
            }
            catch (Exception e) when (e is DnsClient.DnsResponseException or System.Net.Sockets.SocketException or TimeoutException)
            {
                checks.Add(new DnsRecordCheck(record, "lookup-failed", [e.Message]));
                continue;
            }
            checks.Add(new DnsRecordCheck(record, Judge(record, found), found));
        }
        return checks;
    }

    // Equal after whitespace is normalised; "different" when a record of the same kind exists with another value.
    private static string Judge(DnsRecord record, IReadOnlyList<string> found)
    {
        static string Norm(string s) => string.Join(' ', s.Split([' ', '\t'], StringSplitOptions.RemoveEmptyEntries)).Replace("; ", ";").TrimEnd('.', ';').ToLowerInvariant();
        if (record.Type == "MX")
        {
            var want = record.Value.Split(' ')[1].TrimEnd('.').ToLowerInvariant();
            return found.Any(f => f.TrimEnd('.').Equals(want, StringComparison.OrdinalIgnoreCase)) ? "ok" : found.Count > 0 ? "different" : "missing";
        }
        if (found.Any(f => Norm(f) == Norm(record.Value))) return "ok";
        var kind = record.Value.Split(';')[0].Trim();
        return found.Any(f => f.TrimStart().StartsWith(kind.Split(' ')[0], StringComparison.OrdinalIgnoreCase)) ? "different" : "missing";
    }

    public async Task<IReadOnlyList<DnsRecord>?> RotateDkim()
    {
        if (!S.Exists) return null;
        await dkim.RotateAsync(Name);
        return await GetDnsRecords();
    }

    public async Task<DomainOpStatus> Delete()
    {
        if (!S.Exists) return DomainOpStatus.NotFound;
        // Refused while accounts remain: deleting a domain must never silently destroy mailboxes.
        if (S.Accounts.Count > 0) return DomainOpStatus.NotEmpty;
        await directory.RemoveAsync(Name);
        regions.Remove(Name);
        await state.ClearStateAsync();
        state.State = new DomainState();
        return DomainOpStatus.Ok;
    }

    public async Task<DomainOpResult> CreateAccount(NewAccount account)
    {
        if (!S.Exists) return new DomainOpResult(DomainOpStatus.NotFound);
        var lp = MailAddress.NormalizeLocalPart(account.LocalPart);
        if (lp is null) return new DomainOpResult(DomainOpStatus.Invalid, "invalid local part");
        if (account.Password is null || account.Password.Length < 8)
            return new DomainOpResult(DomainOpStatus.Invalid, "password must have at least 8 characters");
        if (S.Accounts.Contains(lp) || S.Aliases.ContainsKey(lp)) return new DomainOpResult(DomainOpStatus.AlreadyExists);

        var address = $"{lp}@{Name}";
        var quota = account.QuotaBytes ?? S.Settings.DefaultQuotaBytes;
        var accountGrain = GrainFactory.GetGrain<IAccountGrain>(address);
        // An account left by an interrupted earlier attempt is reused with the new password.
        if (!await accountGrain.Create(account.Password, account.DisplayName, quota))
            await accountGrain.SetPassword(account.Password);
        await GrainFactory.GetGrain<IMailboxGrain>(address).Provision(quota);
        S.Accounts.Add(lp);
        await state.WriteStateAsync();
        return DomainOpResult.Ok;
    }

    public async Task<DomainOpStatus> DeleteAccount(string localPart)
    {
        var lp = MailAddress.NormalizeLocalPart(localPart);
        if (!S.Exists || lp is null || !S.Accounts.Contains(lp)) return DomainOpStatus.NotFound;
        var address = $"{lp}@{Name}";
        // Remove from the domain first, so no new mail is accepted for it while it is torn down.
        S.Accounts.Remove(lp);
        await state.WriteStateAsync();
        await GrainFactory.GetGrain<IAccountGrain>(address).Delete();
        await GrainFactory.GetGrain<IMailboxGrain>(address).Destroy();
        return DomainOpStatus.Ok;
    }

    public Task<IReadOnlyList<string>> ListAccounts() =>
        Task.FromResult<IReadOnlyList<string>>(S.Accounts.Order(StringComparer.Ordinal).Select(lp => $"{lp}@{Name}").ToList());

    public async Task<DomainOpStatus> SetAlias(string alias, IReadOnlyList<string> targets)
    {
        if (!S.Exists) return DomainOpStatus.NotFound;
        var lp = MailAddress.NormalizeLocalPart(alias);
        if (lp is null || targets.Count == 0 || targets.Count > AliasLimits.MaxTargets) return DomainOpStatus.Invalid;
        var normalized = new List<string>();
        foreach (var t in targets)
        {
            var n = MailAddress.Normalize(t);
            if (n is null) return DomainOpStatus.Invalid;
            if (!normalized.Contains(n)) normalized.Add(n);
        }
        if (S.Accounts.Contains(lp)) return DomainOpStatus.AlreadyExists;
        if (normalized.Contains($"{lp}@{Name}")) return DomainOpStatus.Invalid;
        S.Aliases[lp] = normalized;
        await state.WriteStateAsync();
        return DomainOpStatus.Ok;
    }

    public async Task<DomainOpStatus> DeleteAlias(string alias)
    {
        var lp = MailAddress.NormalizeLocalPart(alias);
        if (!S.Exists || lp is null || !S.Aliases.Remove(lp)) return DomainOpStatus.NotFound;
        await state.WriteStateAsync();
        return DomainOpStatus.Ok;
    }

    public Task<IReadOnlyList<AliasInfo>> ListAliases() =>
        Task.FromResult<IReadOnlyList<AliasInfo>>(S.Aliases.OrderBy(a => a.Key, StringComparer.Ordinal)
            .Select(a => new AliasInfo($"{a.Key}@{Name}", a.Value.ToList())).ToList());

    public Task<RecipientResolution> ResolveRecipient(string localPart)
    {
        if (!S.Exists) return Task.FromResult(RecipientResolution.NotFound);
        var lp = MailAddress.NormalizeLocalPart(localPart);
        var resolved = lp is null ? RecipientResolution.NotFound : Resolve(lp);
        // Sub-addressing: "user+tag" reaches "user" when no account or alias has the full name.
        if (!resolved.Found && lp?.IndexOf('+') is > 0 and var plus) resolved = Resolve(lp[..plus]);
        if (!resolved.Found && S.Settings.CatchAllTarget is { } catchAll && MailAddress.Normalize(catchAll) is { } target)
            resolved = Split([target]);
        // One call answers "hosted?", "who?" and "how large?": the SMTP gateway asks this per RCPT.
        return Task.FromResult(resolved with { Hosted = true, MaxMessageBytes = S.Settings.MaxMessageBytes });
    }

    private RecipientResolution Resolve(string lp)
    {
        if (S.Accounts.Contains(lp)) return new RecipientResolution(true, [$"{lp}@{Name}"], []);
        return S.Aliases.TryGetValue(lp, out var targets) ? Split(targets) : RecipientResolution.NotFound;
    }

    // Targets in this domain are checked here; targets elsewhere are left to the caller, which
    // resolves hosted ones through their own DomainGrain (a grain calling another domain's grain
    // could deadlock when two domains alias each other).
    private RecipientResolution Split(IEnumerable<string> targets)
    {
        var local = new List<string>();
        var other = new List<string>();
        foreach (var t in targets)
        {
            if (MailAddress.DomainOf(t) == Name)
            {
                var tlp = MailAddress.LocalPartOf(t);
                if (S.Accounts.Contains(tlp)) local.Add(t);
            }
            else
            {
                other.Add(t);
            }
        }
        return new RecipientResolution(local.Count + other.Count > 0, local, other);
    }
}

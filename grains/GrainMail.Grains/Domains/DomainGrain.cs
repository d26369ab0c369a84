using GrainMail.Contracts;
using GrainMail.Contracts.Accounts;
using GrainMail.Contracts.Domains;
using GrainMail.Contracts.Mailboxes;
using GrainMail.Grains.Regions;
using GrainMail.Storage.Domains;

namespace GrainMail.Grains.Domains;

[GenerateSerializer]
public sealed partial class DomainState
{
    [Id(0)] public bool Exists { get; set; }
    [Id(1)] public DomainSettings Settings { get; set; } = DomainSettings.Default("default");
    /// <summary>
    /// Accounts as older versions kept them (before directory_account): copied into the table at
    /// the grain's next activation, then emptied. Never written otherwise.
    /// </summary>
    [Id(2)] public HashSet<string> Accounts { get; set; } = new(StringComparer.Ordinal);
    [Id(3)] public Dictionary<string, List<string>> Aliases { get; set; } = new(StringComparer.Ordinal);
    [Id(4)] public DateTimeOffset CreatedAt { get; set; }

    /// <summary>Accounts turned off, as older versions kept them; copied to directory_account.enabled like <see cref="Accounts"/>.</summary>
    [Id(5)] public HashSet<string> Disabled { get; set; } = new(StringComparer.Ordinal);
}

/// <summary>Node-wide directory settings.</summary>
public sealed class DirectoryOptions
{
    /// <summary>
    /// The node's postmaster (RFC 5321 4.5.1): where <c>postmaster@</c> a hosted domain goes when
    /// the domain has no postmaster account, alias or setting of its own. Unset: the domain's
    /// first account in address order, so that such mail is never refused.
    /// </summary>
    public string? Postmaster { get; set; }

    /// <summary>A mailbox with less room than this reports its exact usage to its domain for RCPT checks.</summary>
    public long NearFullMargin { get; set; } = 64L * 1024 * 1024;
}

[HomeRegionPlacement]
[StepDownOnStorageFailure]
public sealed partial class DomainGrain(
    [PersistentState("domain", GrainStorage.Name)] IPersistentState<DomainState> state,
    DomainDirectory directory,
    GrainMail.Outbound.DkimKeyStore dkim,
    GrainMail.Dns.MailDns dns,
    GrainMail.Outbound.OutboundOptions outbound,
    TimeProvider clock,
    DirectoryOptions options,
    HomeRegions regions,
    HomeRegionKeeper keeper,
    GrainMail.Storage.Organization.DirectoryStore directoryStore,
    GrainMail.Storage.Mailboxes.MailboxStore mailboxStore) : Grain, IDomainGrain
{
    private readonly GrainMail.Storage.Organization.DirectoryStore _store = directoryStore;
    private readonly GrainMail.Storage.Mailboxes.MailboxStore _mailboxes = mailboxStore;

    public Task<GrainMail.Contracts.Regions.GrainLocation> Locate() => Task.FromResult(keeper.Here());

    public override async Task OnActivateAsync(CancellationToken cancellationToken)
    {
        keeper.Watch(this, Name);
        await StorageFailureFilter.Activating(async () =>
        {
            if (S.Exists) await LoadDirectoryAsync(cancellationToken);
            await LoadAliasIndexAsync(cancellationToken);
            if (S.Exists) await LoadProtocolRejectAsync(cancellationToken);
        });
    }

    private DomainState S => state.State;

    // Mailboxes near their quota, as they last reported (used, limit). In memory only: after a
    // reactivation a full mailbox is learnt again at its next delivery, which bounces with a DSN.
    private readonly Dictionary<string, (long Used, long Limit)> _nearFull = new(StringComparer.Ordinal);

    private string Name => this.GetPrimaryKeyString();

    public Task<DomainInfo?> GetInfo() => Task.FromResult(S.Exists
        ? new DomainInfo(Name, S.Settings, _accounts.Count, S.Aliases.Count, S.CreatedAt)
        : null);

    public async Task<DomainOpStatus> Create(DomainSettings settings)
    {
        if (S.AliasOf is not null) return DomainOpStatus.AlreadyExists;
        if (S.Exists)
        {
            // Repairs a directory row lost between the two writes of an interrupted create.
            await directory.UpsertAsync(Name, S.Settings.HomeRegion);
            regions.Set(Name, S.Settings.HomeRegion);
            await EnsureRootAsync();
            return DomainOpStatus.AlreadyExists;
        }
        state.State = new DomainState { Exists = true, Settings = settings, CreatedAt = clock.GetUtcNow() };
        await state.WriteStateAsync();
        await directory.UpsertAsync(Name, settings.HomeRegion);
        regions.Set(Name, settings.HomeRegion);
        await LoadDirectoryAsync(CancellationToken.None);
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
        records.AddRange(await DomainAliasDnsRecordsAsync());
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
        if (_accounts.Count > 0) return DomainOpStatus.NotEmpty;
        // Lists too (issue 15): a list left behind would keep its rows, members and held posts
        // (blob references) under a domain that no longer exists, and come back with the name.
        if ((await ListsAsync()).Count > 0) return DomainOpStatus.NotEmpty;
        await DropDomainAliasesAsync();
        await _store.DeleteDomainAsync(Name);
        _departments.Clear();
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
        if (_accounts.ContainsKey(lp) || S.Aliases.ContainsKey(lp) || IsAccountAlias(lp)) return new DomainOpResult(DomainOpStatus.AlreadyExists);
        if (await IsListNameAsync(lp)) return new DomainOpResult(DomainOpStatus.AlreadyExists, "a mailing list has that name");
        var attributes = account.Attributes ?? AccountAttributes.None;
        await LearnDepartmentsAsync(attributes.DepartmentId);
        if (CheckAttributes(attributes) is { } bad) return new DomainOpResult(DomainOpStatus.Invalid, bad);

        var address = $"{lp}@{Name}";
        var quota = account.QuotaBytes ?? attributes.QuotaBytes ?? S.Settings.DefaultQuotaBytes;
        var accountGrain = GrainFactory.GetGrain<IAccountGrain>(address);
        // An account left by an interrupted earlier attempt is reused with the new password.
        if (!await accountGrain.Create(account.Password, account.DisplayName, quota))
            await accountGrain.SetPassword(account.Password);
        if (attributes.Enabled == false) await accountGrain.SetEnabled(false);
        await GrainFactory.GetGrain<IMailboxGrain>(address).Provision(quota);
        // The row last: RCPT accepts the address once it is in the directory, and by then it can log in and receive.
        await InsertAccountRowAsync(lp, attributes with { DisplayName = account.DisplayName ?? attributes.DisplayName, QuotaBytes = quota });
        return DomainOpResult.Ok;
    }

    public async Task<DomainOpStatus> DeleteAccount(string localPart)
    {
        var lp = MailAddress.NormalizeLocalPart(localPart);
        if (!S.Exists || lp is null || !_accounts.ContainsKey(lp)) return DomainOpStatus.NotFound;
        var address = $"{lp}@{Name}";
        // Remove from the domain first, so no new mail is accepted for it while it is torn down.
        await _store.DeleteAccountAsync(Name, lp);
        _accounts.Remove(lp);
        _nearFull.Remove(lp);
        await DropAccountAliasesAsync(lp);
        await GrainFactory.GetGrain<IAccountGrain>(address).Delete();
        await GrainFactory.GetGrain<IMailboxGrain>(address).Destroy();
        // The account's JMAP records (RFC 8621 6, 7) go with it: a later account of the same name starts clean.
        await GrainFactory.GetGrain<GrainMail.Contracts.Jmap.IJmapIdentityGrain>(address).Forget();
        await GrainFactory.GetGrain<GrainMail.Contracts.Jmap.IEmailSubmissionGrain>(address).Forget();
        return DomainOpStatus.Ok;
    }

    public Task<IReadOnlyList<string>> ListAccounts() =>
        Task.FromResult<IReadOnlyList<string>>(_accounts.Keys.Order(StringComparer.Ordinal).Select(lp => $"{lp}@{Name}").ToList());

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
        if (_accounts.ContainsKey(lp) || IsAccountAlias(lp)) return DomainOpStatus.AlreadyExists;
        if (await IsListNameAsync(lp)) return DomainOpStatus.AlreadyExists;
        if (normalized.Contains($"{lp}@{Name}")) return DomainOpStatus.Invalid;
        // A message reaches at most one list through an alias (its verdict names one list stream).
        var lists = await ListsAsync();
        if (normalized.Count(t => MailAddress.DomainOf(t) == Name && lists.ContainsKey(MailAddress.LocalPartOf(t))) > 1) return DomainOpStatus.Invalid;
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

    public async Task<DomainOpStatus> SetAccountEnabled(string localPart, bool enabled)
    {
        var lp = MailAddress.NormalizeLocalPart(localPart);
        if (!S.Exists || lp is null || !_accounts.ContainsKey(lp)) return DomainOpStatus.NotFound;
        return (await UpdateAccount(lp, new AccountAttributes(Enabled: enabled))).Status;
    }

    public Task ReportUsage(string localPart, long usedBytes, long limitBytes)
    {
        if (limitBytes - usedBytes < options.NearFullMargin) _nearFull[localPart] = (usedBytes, limitBytes);
        else _nearFull.Remove(localPart);
        return Task.CompletedTask;
    }

    public Task<RecipientVerdict> Resolve(string localPart, long size) => ResolveAsync(localPart, size, hop: true);

    public Task<RecipientVerdict> ResolveWithin(string localPart, long size) => ResolveAsync(localPart, size, hop: false);

    /// <param name="hop">Whether targets in other hosted domains are asked (once); the asked domain does not ask further.</param>
    private async Task<RecipientVerdict> ResolveAsync(string localPart, long size, bool hop)
    {
        if (!S.Exists) return ResolveAsAlias(localPart, size, hop) is { } viaDomain ? await viaDomain : RecipientVerdict.NotHosted;
        var max = S.Settings.MaxMessageBytes;
        if (size > max) return new RecipientVerdict(RecipientStatus.TooLarge, [], [], max);
        var lp = MailAddress.NormalizeLocalPart(localPart);
        if (lp is null) return new RecipientVerdict(RecipientStatus.NoSuchUser, [], [], max);
        var targets = TargetsOf(lp);
        if (targets is null && await ListRouteAsync(lp, max) is { } list) { if (list.Verdict is { } toList) return toList; targets = list.Owner; }
        if (targets is null && await SrsVerdictAsync(lp, max) is { } srs) return srs;
        // Sub-addressing: "user+tag" reaches "user" when no account or alias has the full name.
        if (targets is null && lp.IndexOf('+') is > 0 and var plus) targets = TargetsOf(lp[..plus]);
        if (targets is null && lp == RecipientPolicy.Postmaster) targets = PostmasterTargets();
        if (targets is null && S.Settings.CatchAllTarget is { } catchAll && MailAddress.Normalize(catchAll) is { } all) targets = [all];
        if (targets is null) return new RecipientVerdict(RecipientStatus.NoSuchUser, [], [], max);

        var mailboxes = new List<string>();
        var external = new List<string>();
        List<string>? internalOnly = null;
        List<string>? flaggedElsewhere = null;
        var disabled = 0;
        var full = 0;
        var forwardingRefused = 0;
        // The domain's policy on automatic forwarding outside (issue 17) holds for alias and catch-all
        // targets as for Sieve redirects: a refused external target is dropped from the verdict.
        var forwarding = S.Settings.Forwarding ?? ForwardingPolicy.AllowAll;
        // An alias (or catch-all, or postmaster target) may name a mailing list: the message then
        // goes to the list's stream as a post to it, beside the alias's other targets. A verdict
        // carries one list; SetAlias refuses two lists of this domain, so a second can only be
        // another domain's (then the first wins).
        string? listTarget = null;
        foreach (var target in targets)
        {
            var domain = MailAddress.DomainOf(target);
            if (domain == Name)
            {
                var targetLp = MailAddress.LocalPartOf(target);
                if (!_accounts.ContainsKey(targetLp) && await IsListNameAsync(targetLp))
                {
                    listTarget ??= target;
                    continue;
                }
                switch (Check(targetLp, size))
                {
                    case RecipientStatus.Accepted:
                        mailboxes.Add(target);
                        if (!_accounts[MailAddress.LocalPartOf(target)].MayReceiveExternal) (internalOnly ??= []).Add(target);
                        break;
                    case RecipientStatus.Disabled: disabled++; break;
                    case RecipientStatus.MailboxFull: full++; break;
                }
                continue;
            }
            // One hop into another hosted domain, which answers from its own names only: alias chains stop there.
            if (!hop) continue;
            var other = await GrainFactory.GetGrain<IDomainGrain>(domain).ResolveWithin(MailAddress.LocalPartOf(target), size);
            if (!other.Hosted)
            {
                if (forwarding.Refusal(domain) is null) external.Add(target);
                else forwardingRefused++;
            }
            else if (other.Accepted && other.List is { } otherList)
            {
                listTarget ??= otherList;
                mailboxes.AddRange(other.Mailboxes);
            }
            else if (other.Accepted)
            {
                mailboxes.AddRange(other.Mailboxes); // its own mailboxes (a domain alias: its domain's)
                if (other.ProtocolReject is { Count: > 0 } pr) (flaggedElsewhere ??= []).AddRange(pr);
                if (other.InternalOnly is { Count: > 0 } io) (internalOnly ??= []).AddRange(io);
            }
            else if (other.Status == RecipientStatus.Disabled) disabled++;
            else if (other.Status == RecipientStatus.MailboxFull) full++;
        }
        if (mailboxes.Count + external.Count > 0 || listTarget is not null)
            return new RecipientVerdict(RecipientStatus.Accepted, mailboxes.Distinct(StringComparer.Ordinal).ToList(), external, max,
                internalOnly?.Distinct(StringComparer.Ordinal).ToList(), listTarget, ProtocolRejectOf(mailboxes, flaggedElsewhere));
        var status = full > 0 ? RecipientStatus.MailboxFull : disabled > 0 ? RecipientStatus.Disabled
            : forwardingRefused > 0 ? RecipientStatus.ForwardingRefused : RecipientStatus.NoSuchUser;
        return new RecipientVerdict(status, [], [], max);
    }

    /// <summary>An account's own answer: here, on, and with room for <paramref name="size"/> bytes.</summary>
    private RecipientStatus Check(string lp, long size)
    {
        if (!_accounts.TryGetValue(lp, out var flags)) return RecipientStatus.NoSuchUser;
        if (!flags.Enabled) return RecipientStatus.Disabled;
        if (_nearFull.TryGetValue(lp, out var usage) && usage.Used + Math.Max(size, 1) > usage.Limit) return RecipientStatus.MailboxFull;
        return RecipientStatus.Accepted;
    }

    /// <summary>An account's own address, a distribution alias's targets, or an account alias's owner; null when the name is none.</summary>
    private IReadOnlyList<string>? TargetsOf(string lp) =>
        _accounts.ContainsKey(lp) ? [$"{lp}@{Name}"] : S.Aliases.TryGetValue(lp, out var targets) ? targets : AccountAliasTargets(lp);

    /// <summary>The domain's setting, else the node's postmaster, else the first account: never nowhere.</summary>
    private IReadOnlyList<string>? PostmasterTargets()
    {
        if (MailAddress.Normalize(S.Settings.PostmasterTarget) is { } own) return [own];
        if (MailAddress.Normalize(options.Postmaster) is { } node) return [node];
        var first = _accounts.Where(a => a.Value.Enabled).Select(a => a.Key).Min(StringComparer.Ordinal);
        return first is null ? null : [$"{first}@{Name}"];
    }
}

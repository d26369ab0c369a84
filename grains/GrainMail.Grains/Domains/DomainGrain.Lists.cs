using GrainMail.Contracts;
using GrainMail.Contracts.Domains;
using GrainMail.Contracts.Lists;
using GrainMail.Storage.Lists;
using Microsoft.Extensions.DependencyInjection;

namespace GrainMail.Grains.Domains;

/// <summary>
/// The domain's mailing lists (admin backend 4.2.8). A list's name lives in the same namespace
/// as the domain's accounts and aliases, so only this grain creates, renames or deletes one; the
/// list's own grain (<c>MailingListGrain</c>) keeps its members, expands its posts and holds them
/// for moderators. The settings are rows (<c>mailing_list</c>), read into memory on first use.
/// </summary>
public sealed partial class DomainGrain
{
    /// <summary>
    /// A list name leaves room in the 64-octet local part (RFC 5321 4.5.3.1.1) for the moderation
    /// addresses: <c>name+approve-</c> and a 16-character token.
    /// </summary>
    public const int MaxListName = 64 - 1 - 8 - 16;

    /// <summary>Most addresses a list's named senders or moderators may hold.</summary>
    public const int MaxListAddresses = 1000;

    private Dictionary<string, StoredList>? _lists;

    private MailingListStore ListStore => ServiceProvider.GetRequiredService<MailingListStore>();

    private async Task<Dictionary<string, StoredList>> ListsAsync()
    {
        // Resolve interleaves: two first readers both load, and either result is the same.
        if (_lists is null)
        {
            var loaded = await ListStore.ListAsync(Name);
            _lists ??= loaded.ToDictionary(l => l.Settings.Name, StringComparer.Ordinal);
        }
        return _lists;
    }

    /// <summary>Whether <paramref name="lp"/> names a list (accounts and aliases must not take such a name).</summary>
    private async Task<bool> IsListNameAsync(string lp) => (await ListsAsync()).ContainsKey(lp);

    /// <summary>What a list answers at <paramref name="lp"/>: the list itself (a verdict), or its owner address (targets).</summary>
    private sealed record ListRoute(RecipientVerdict? Verdict, IReadOnlyList<string>? Owner);

    /// <summary>
    /// <c>name</c> and <c>name+tag</c> (a post, or a moderator's approve/reject reply) go to the list's
    /// stream; <c>name-owner</c> reaches its moderators, else the domain's postmaster. Null: not a list address.
    /// </summary>
    private async Task<ListRoute?> ListRouteAsync(string lp, long max)
    {
        var lists = await ListsAsync();
        if (lists.Count == 0) return null;
        var plus = lp.IndexOf('+');
        var name = plus > 0 ? lp[..plus] : lp;
        if (lists.ContainsKey(name))
            return new ListRoute(new RecipientVerdict(RecipientStatus.Accepted, [], [], max, List: $"{lp}@{Name}"), null);
        if (plus < 0 && lp.EndsWith(ListStreams.OwnerSuffix, StringComparison.Ordinal)
            && lists.TryGetValue(lp[..^ListStreams.OwnerSuffix.Length], out var owned))
        {
            return new ListRoute(null, owned.Settings.Moderators.Count > 0 ? owned.Settings.Moderators : PostmasterTargets());
        }
        return null;
    }

    public async Task<ListOpResult> CreateList(ListSettings settings)
    {
        if (!S.Exists) return new ListOpResult(ListOpStatus.NotFound, "no such domain");
        var lp = MailAddress.NormalizeLocalPart(settings.Name);
        if (lp is null || System.Text.Encoding.UTF8.GetByteCount(lp) > MaxListName || lp.Contains('+') || lp.EndsWith(ListStreams.OwnerSuffix, StringComparison.Ordinal) || lp == RecipientPolicy.Postmaster)
            return new ListOpResult(ListOpStatus.Invalid, $"invalid list name (at most {MaxListName} octets, no '+', not ending in -owner, not postmaster)");
        if (Validate(settings) is { } problem) return new ListOpResult(ListOpStatus.Invalid, problem);
        var lists = await ListsAsync();
        if (lists.ContainsKey(lp)) return new ListOpResult(ListOpStatus.AlreadyExists, "a list has that name");
        if (TargetsOf(lp) is not null) return new ListOpResult(ListOpStatus.AlreadyExists, "an account or alias has that name");
        var normalized = Normalize(settings with { Name = lp });
        await ListStore.UpsertAsync(Name, normalized);
        lists[lp] = (await ListStore.GetAsync(Name, lp))!;
        await GrainFactory.GetGrain<IMailingListGrain>($"{lp}@{Name}").Invalidate();
        return ListOpResult.Ok;
    }

    public async Task<ListOpResult> UpdateList(string name, ListPatch patch)
    {
        var lp = MailAddress.NormalizeLocalPart(name);
        var lists = await ListsAsync();
        if (!S.Exists || lp is null || !lists.TryGetValue(lp, out var current)) return new ListOpResult(ListOpStatus.NoSuchList);
        var s = current.Settings;
        var changed = new ListSettings(lp, patch.DisplayName ?? s.DisplayName, patch.PostPolicy ?? s.PostPolicy,
            patch.Senders ?? s.Senders, patch.Moderators ?? s.Moderators);
        if (Validate(changed) is { } problem) return new ListOpResult(ListOpStatus.Invalid, problem);
        await ListStore.UpsertAsync(Name, Normalize(changed));
        lists[lp] = (await ListStore.GetAsync(Name, lp))!;
        await GrainFactory.GetGrain<IMailingListGrain>($"{lp}@{Name}").Invalidate();
        return ListOpResult.Ok;
    }

    public async Task<ListOpResult> DeleteList(string name)
    {
        var lp = MailAddress.NormalizeLocalPart(name);
        var lists = await ListsAsync();
        if (!S.Exists || lp is null || !lists.ContainsKey(lp)) return new ListOpResult(ListOpStatus.NoSuchList);
        await ListStore.DeleteAsync(Name, lp);
        lists.Remove(lp);
        await GrainFactory.GetGrain<IMailingListGrain>($"{lp}@{Name}").Invalidate();
        return ListOpResult.Ok;
    }

    public async Task<IReadOnlyList<ListInfo>?> ListLists()
    {
        if (!S.Exists) return null;
        // Member counts change without this grain: read the rows again.
        var rows = await ListStore.ListAsync(Name);
        return rows.Select(Info).ToList();
    }

    public async Task<ListInfo?> GetList(string name)
    {
        var lp = MailAddress.NormalizeLocalPart(name);
        if (!S.Exists || lp is null) return null;
        return await ListStore.GetAsync(Name, lp) is { } row ? Info(row) : null;
    }

    private ListInfo Info(StoredList row) => new($"{row.Settings.Name}@{Name}", row.Settings, row.Members, row.CreatedAt);

    private static string? Validate(ListSettings s)
    {
        if (s.Senders.Count > MaxListAddresses || s.Moderators.Count > MaxListAddresses)
            return $"at most {MaxListAddresses} senders and {MaxListAddresses} moderators";
        var bad = s.Senders.Concat(s.Moderators).Where(a => MailAddress.Normalize(a) is null).ToList();
        if (bad.Count > 0) return "invalid address: " + string.Join(", ", bad);
        if (s.PostPolicy == ListPostPolicy.Moderated && s.Moderators.Count == 0) return "a moderated list needs at least one moderator";
        if (s.PostPolicy == ListPostPolicy.Senders && s.Senders.Count == 0) return "the senders policy needs at least one sender";
        if (s.DisplayName is { Length: > 200 }) return "display name longer than 200 characters";
        if (s.DisplayName?.Any(c => char.IsControl(c) || c is '<' or '>' or '"') == true) return "display name has control characters, quotes or angle brackets";
        return null;
    }

    private static ListSettings Normalize(ListSettings s) => s with
    {
        DisplayName = string.IsNullOrWhiteSpace(s.DisplayName) ? null : s.DisplayName.Trim(),
        Senders = s.Senders.Select(a => MailAddress.Normalize(a)!).Distinct(StringComparer.Ordinal).ToList(),
        Moderators = s.Moderators.Select(a => MailAddress.Normalize(a)!).Distinct(StringComparer.Ordinal).ToList(),
    };
}

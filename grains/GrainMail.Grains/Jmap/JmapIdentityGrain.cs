using System.Text.Json.Nodes;
using GrainMail.Contracts;
using GrainMail.Contracts.Accounts;
using GrainMail.Contracts.Domains;
using GrainMail.Contracts.Jmap;
using GrainMail.Storage.Jmap;

namespace GrainMail.Grains.Jmap;

/// <summary>
/// The single writer of one account's JMAP identities: it hands out the account's counter (one call
/// at a time) and makes, revives and retires the derived identities — one per address the account
/// has: its own and its account aliases (RFC 8621 6: the server decides which addresses may be used).
/// </summary>
[StepDownOnStorageFailure]
public sealed class JmapIdentityGrain(IdentityStore store) : Grain, IJmapIdentityGrain
{
    private string _account = "";
    private long _state;

    public override async Task OnActivateAsync(CancellationToken cancellationToken)
    {
        _account = this.GetPrimaryKeyString();
        await StorageFailureFilter.Activating(async () =>
        {
            var rows = await store.ReadAsync(_account, cancellationToken);
            _state = rows.Count == 0 ? 0 : rows.Max(r => r.Identity.UpdatedSeq);
        });
    }

    public async Task<IdentityLog> Read()
    {
        var rows = await store.ReadAsync(_account);
        if (await ReconcileAsync(rows))
        {
            rows = await store.ReadAsync(_account);
            await Pushed();
        }
        return new IdentityLog(_state, rows.Select(r => r.Identity).ToList());
    }

    /// <summary>Derived identities follow the account's addresses; all of one pass share one counter value. True when something changed.</summary>
    private async Task<bool> ReconcileAsync(List<IdentityStore.Row> rows)
    {
        var info = await GrainFactory.GetGrain<IAccountGrain>(_account).GetInfo();
        if (info is null) return false; // the account is gone (or not made yet): nothing to derive
        var aliases = await GrainFactory.GetGrain<IDomainGrain>(MailAddress.DomainOf(_account)).ListAccountAliases(MailAddress.LocalPartOf(_account)) ?? [];
        var wanted = new List<string> { _account };
        wanted.AddRange(aliases.Select(a => a.ToLowerInvariant()).Where(a => a != _account).Distinct().Order(StringComparer.Ordinal));
        var byId = rows.ToDictionary(r => r.Identity.Id, StringComparer.Ordinal);
        var next = _state + 1;
        var changed = false;
        foreach (var address in wanted)
        {
            var id = JmapIdentityIds.Derived(address);
            if (byId.TryGetValue(id, out var row) && (!row.Identity.Destroyed || row.UserDestroyed)) continue;
            // New, or its alias came back: the name starts as the account's display name, no signature.
            var json = row is null ? NewObject(info.DisplayName ?? "", address) : row.Identity.Json;
            await store.UpsertAsync(_account, id, address, derived: true, next, json);
            changed = true;
        }
        var gone = rows.Where(r => r.Identity.Derived && !r.Identity.Destroyed && !wanted.Contains(r.Identity.Email, StringComparer.OrdinalIgnoreCase))
            .Select(r => r.Identity.Id).ToList();
        if (gone.Count > 0 && await store.DestroyAsync(_account, gone, next, byUser: false) > 0) changed = true;
        if (changed) _state = next;
        return changed;
    }

    private static string NewObject(string name, string email) => new JsonObject
    {
        ["name"] = name,
        ["email"] = email,
        ["replyTo"] = null,
        ["bcc"] = null,
        ["textSignature"] = "",
        ["htmlSignature"] = "",
    }.ToJsonString();

    public Task<long> State() => Task.FromResult(_state);

    public async Task AddressesChanged()
    {
        if (await ReconcileAsync(await store.ReadAsync(_account))) await Pushed();
    }

    /// <summary>Every gateway's push connections of the account hear that the Identity state moved (RFC 8620 7.1).</summary>
    private Task Pushed() => GrainFactory.GetGrain<IJmapStateWatchGrain>(_account).Changed();

    public async Task<long> Create(string id, string email, string json)
    {
        var next = _state + 1;
        await store.UpsertAsync(_account, id, email, derived: false, next, json);
        _state = next;
        await Pushed();
        return _state;
    }

    public async Task<long?> Update(string id, string json)
    {
        var next = _state + 1;
        if (!await store.UpdateAsync(_account, id, next, json)) return null;
        _state = next;
        await Pushed();
        return _state;
    }

    public async Task<long?> Destroy(string id)
    {
        var next = _state + 1;
        if (await store.DestroyAsync(_account, [id], next, byUser: true) == 0) return null;
        _state = next;
        await Pushed();
        return _state;
    }

    public async Task Forget()
    {
        await store.DeleteAccountAsync(_account);
        DeactivateOnIdle();
    }
}

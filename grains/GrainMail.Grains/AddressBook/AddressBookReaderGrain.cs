using GrainMail.Contracts;
using GrainMail.Contracts.AddressBook;
using GrainMail.Storage.AddressBook;
using Orleans.Concurrency;

namespace GrainMail.Grains.AddressBook;

/// <summary>Reads of the address book on whichever silo the call lands (no state: PostgreSQL is the model).</summary>
[StatelessWorker, Reentrant]
public sealed class AddressBookReaderGrain(AddressBookStore store) : Grain, IAddressBookReaderGrain
{
    public async Task<IReadOnlyList<AddressBookEntry>> Search(string viewer, string query, int limit) =>
        MailAddress.TryParse(viewer, out var lp, out var domain) ? await store.SearchAsync(domain, lp, query, limit) : [];

    public async Task<IReadOnlyList<AddressBookEntry>> All(string viewer) =>
        MailAddress.TryParse(viewer, out var lp, out var domain) ? await store.AllAsync(domain, lp) : [];

    public Task SaveSyncState(string viewer, string ctag, Immutable<byte[]> cards) => store.SaveSyncStateAsync(viewer, ctag, cards.Value);

    public Task<byte[]?> SyncState(string viewer, string ctag) => store.SyncStateAsync(viewer, ctag);
}

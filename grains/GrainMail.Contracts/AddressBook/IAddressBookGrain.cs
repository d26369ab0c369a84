namespace GrainMail.Contracts.AddressBook;

/// <summary>
/// Reads of the address book, answered on a silo from PostgreSQL (the HTTP gateway has no
/// database). Every read, the search API's and CardDAV's alike, goes through one query that
/// applies the viewer's visibility rules at query time.
/// </summary>
public interface IAddressBookReaderGrain : IGrainWithIntegerKey
{
    /// <summary>Autocomplete: entries whose name, pinyin initials or address start with (or contain) <paramref name="query"/>.</summary>
    [Retryable]
    Task<IReadOnlyList<AddressBookEntry>> Search(string viewer, string query, int limit);

    /// <summary>Every entry the viewer may see (the CardDAV address book).</summary>
    [Retryable]
    Task<IReadOnlyList<AddressBookEntry>> All(string viewer);

    /// <summary>
    /// Keeps what a CardDAV sync token of the viewer stands for (RFC 6578): the state's cards, as the
    /// gateway encodes them. In PostgreSQL, so a token outlives the gateway that issued it and is
    /// understood by every other one.
    /// </summary>
    [Retryable]
    Task SaveSyncState(string viewer, string ctag, Orleans.Concurrency.Immutable<byte[]> cards);

    /// <summary>The state a sync token names, as saved; null when unknown (never issued, or trimmed).</summary>
    [Retryable]
    Task<byte[]?> SyncState(string viewer, string ctag);
}

/// <summary>
/// The administrator's side of one domain's address book (key: the domain's A-label): public
/// contacts and visibility rules. One activation per domain serialises their writes.
/// </summary>
public interface IAddressBookAdminGrain : IGrainWithStringKey
{
    Task<AddressBookOpResult<PublicContact>> AddContact(ContactFields fields);

    [Retryable]
    Task<AddressBookOpResult<IReadOnlyList<PublicContact>>> ListContacts();

    Task<AddressBookOpResult<PublicContact>> UpdateContact(long id, ContactFields fields);

    Task<AddressBookOpStatus> DeleteContact(long id);

    Task<AddressBookOpResult<VisibilityRule>> AddRule(NewVisibilityRule rule);

    [Retryable]
    Task<AddressBookOpResult<IReadOnlyList<VisibilityRule>>> ListRules();

    Task<AddressBookOpStatus> DeleteRule(long id);
}

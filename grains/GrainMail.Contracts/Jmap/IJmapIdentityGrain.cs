namespace GrainMail.Contracts.Jmap;

/// <summary>
/// One stored JMAP Identity: the object as JSON (name, email, replyTo, bcc, textSignature, htmlSignature),
/// whether it stands for an address the account has anyway (<paramref name="Derived"/>: its own address
/// or an account alias), and when it was made and last changed (the account's counter).
/// </summary>
[GenerateSerializer, Immutable]
public sealed record StoredIdentity(
    [property: Id(0)] string Id,
    [property: Id(1)] string Email,
    [property: Id(2)] bool Derived,
    [property: Id(3)] long CreatedSeq,
    [property: Id(4)] long UpdatedSeq,
    [property: Id(5)] bool Destroyed,
    [property: Id(6)] string Json);

/// <summary>An account's identities, tombstones included; <see cref="State"/> is the counter's current value.</summary>
[GenerateSerializer, Immutable]
public sealed record IdentityLog(
    [property: Id(0)] long State,
    [property: Id(1)] IReadOnlyList<StoredIdentity> Items);

/// <summary>
/// The JMAP Identity records of one account (key: the account address), kept on the silo so every
/// gateway and every restart sees the same names and signatures. The grain makes an identity for
/// each address the account has (its address and account aliases) the first time it sees it, and
/// retires it when the alias goes, so the counter alone tells Identity/changes what changed.
/// Whether an address may be used (the SMTP sender rule) is checked by the caller before Create.
/// </summary>
public interface IJmapIdentityGrain : IGrainWithStringKey
{
    /// <summary>The identities, after bringing the derived ones in line with the account's addresses.</summary>
    Task<IdentityLog> Read();

    /// <summary>The counter now (the Identity state), for push; no database read and no look at the aliases.</summary>
    [Orleans.Concurrency.AlwaysInterleave]
    Task<long> State();

    /// <summary>Stores a new identity made by the user; returns the new state.</summary>
    Task<long> Create(string id, string email, string json);

    /// <summary>Replaces a live identity's object; the new state, or null when there is no such live identity.</summary>
    Task<long?> Update(string id, string json);

    /// <summary>Destroys a live identity; the new state, or null when there is no such live identity.</summary>
    Task<long?> Destroy(string id);

    /// <summary>
    /// The account's aliases changed (an administrator added or removed one): the derived identities follow at
    /// once, and a moved state is pushed (IJmapStateWatchGrain), instead of waiting for the next Identity/get.
    /// One-way: the domain grain calls it from inside its own turn, and this grain asks the domain grain back.
    /// </summary>
    [Orleans.Concurrency.OneWay]
    Task AddressesChanged();

    /// <summary>The account was deleted: its rows go.</summary>
    Task Forget();
}

/// <summary>Identity ids: a derived identity's id comes from its address, so every gateway and the grain agree without a table.</summary>
public static class JmapIdentityIds
{
    public static string Derived(string address) =>
        "I" + Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(address.ToLowerInvariant())).AsSpan(0, 12));

    /// <summary>A new id for an identity the user creates (never the form of a derived one: those are 24 hex digits after "I").</summary>
    public static string New() => "I" + Guid.CreateVersion7().ToString("N")[..24] + "u";
}

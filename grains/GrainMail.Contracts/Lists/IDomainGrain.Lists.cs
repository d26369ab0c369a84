using GrainMail.Contracts.Lists;

namespace GrainMail.Contracts.Domains;

/// <summary>The domain's mailing lists: their names share the namespace of accounts and aliases, so the domain creates them.</summary>
public partial interface IDomainGrain
{
    /// <summary>Creates a list; <see cref="ListOpStatus.AlreadyExists"/> when an account, alias or list has the name.</summary>
    Task<ListOpResult> CreateList(ListSettings settings);

    Task<ListOpResult> UpdateList(string name, ListPatch patch);

    /// <summary>Deletes a list with its members; its held posts are discarded.</summary>
    Task<ListOpResult> DeleteList(string name);

    [Retryable]
    Task<IReadOnlyList<ListInfo>?> ListLists();

    [Retryable]
    Task<ListInfo?> GetList(string name);
}

using Orleans.Concurrency;

namespace GrainMail.Contracts.Lists;

/// <summary>Who may post to a list (admin backend 4.2.8).</summary>
public enum ListPostPolicy
{
    /// <summary>Everyone, from anywhere.</summary>
    Anyone,

    /// <summary>Authenticated senders of the list's own domain (see <see cref="ListPosting"/> for why MX mail never counts).</summary>
    Domain,

    /// <summary>The list's members: accounts, the accounts in its departments' subtrees, its external members.</summary>
    Members,

    /// <summary>The named senders only.</summary>
    Senders,

    /// <summary>Everyone, but each post waits for a moderator (by API or by replying to the notice mail).</summary>
    Moderated,
}

public static class ListPostPolicies
{
    public static string Name(ListPostPolicy p) => p.ToString().ToLowerInvariant();

    public static bool TryParse(string? s, out ListPostPolicy policy) =>
        Enum.TryParse(s, ignoreCase: true, out policy) && Enum.IsDefined(policy) && !int.TryParse(s, out _);
}

/// <summary>A list's settings as the domain keeps them.</summary>
[GenerateSerializer, Immutable]
public sealed record ListSettings(
    [property: Id(0)] string Name,
    [property: Id(1)] string? DisplayName,
    [property: Id(2)] ListPostPolicy PostPolicy,
    [property: Id(3)] IReadOnlyList<string> Senders,
    [property: Id(4)] IReadOnlyList<string> Moderators);

/// <summary>A change to a list's settings: null fields stay as they are.</summary>
[GenerateSerializer, Immutable]
public sealed record ListPatch(
    [property: Id(0)] string? DisplayName,
    [property: Id(1)] ListPostPolicy? PostPolicy,
    [property: Id(2)] IReadOnlyList<string>? Senders,
    [property: Id(3)] IReadOnlyList<string>? Moderators);

[GenerateSerializer, Immutable]
public sealed record ListInfo(
    [property: Id(0)] string Address,
    [property: Id(1)] ListSettings Settings,
    [property: Id(2)] int Members,
    [property: Id(3)] DateTimeOffset CreatedAt);

public enum ListMemberKind
{
    Account,
    Department,
    External,
}

/// <param name="Value">An address (account, external) or a department id.</param>
/// <param name="Label">For a department, its name; otherwise null.</param>
[GenerateSerializer, Immutable]
public sealed record ListMember(
    [property: Id(0)] ListMemberKind Kind,
    [property: Id(1)] string Value,
    [property: Id(2)] string? Label = null);

public enum ListOpStatus
{
    Ok,
    NoSuchList,
    AlreadyExists,
    Invalid,
    NotFound,
}

[GenerateSerializer, Immutable]
public sealed record ListOpResult(
    [property: Id(0)] ListOpStatus Status,
    [property: Id(1)] string? Detail = null)
{
    public static readonly ListOpResult Ok = new(ListOpStatus.Ok);
}

/// <summary>A post to a moderated list waiting for a moderator.</summary>
[GenerateSerializer, Immutable]
public sealed record HeldPost(
    [property: Id(0)] Guid Id,
    [property: Id(1)] string? Sender,
    [property: Id(2)] string? Subject,
    [property: Id(3)] long Size,
    [property: Id(4)] DateTimeOffset ReceivedAt,
    [property: Id(5)] DateTimeOffset HeldAt);

/// <summary>What RCPT hears from a list about one sender.</summary>
public enum PostVerdict
{
    Allowed,

    /// <summary>Outside the list's post policy: RCPT answers 550 5.7.1.</summary>
    Refused,

    /// <summary>No such list (deleted since the domain answered).</summary>
    NoSuchList,
}

/// <summary>Who is sending, as RCPT knows it.</summary>
/// <param name="Sender">MAIL FROM, normalised; null for the null reverse-path.</param>
/// <param name="User">The authenticated account (submission only; MAIL FROM is then one it owns).</param>
/// <param name="Mx">Arrived on the MX port: nothing about the sender is authenticated.</param>
/// <param name="Command">approve-TOKEN / reject-TOKEN: a moderator's reply, which only moderators may send.</param>
[GenerateSerializer, Immutable]
public sealed record PostAttempt(
    [property: Id(0)] string? Sender,
    [property: Id(1)] string? User,
    [property: Id(2)] bool Mx,
    [property: Id(3)] string? Command = null);

/// <summary>
/// One mailing list, keyed by its address (<c>name@domain</c>). It answers RCPT's "may this
/// sender post?", keeps its members and held posts, and consumes the list stream (implicit
/// subscription, namespace <see cref="ListStreams.Namespace"/>): each accepted post arrives
/// as ONE event, which the grain expands into member delivery events in batches.
/// </summary>
public interface IMailingListGrain : IGrainWithStringKey
{
    /// <summary>Whether this sender may post (RCPT TO): it only reads, so it is asked again across a silo failure.</summary>
    [Retryable, AlwaysInterleave, Orleans.ResponseTimeout(CallTimeouts.RcptRead)]
    Task<PostVerdict> MayPost(PostAttempt attempt);

    /// <summary>The domain changed the list's settings (or deleted it): read them again.</summary>
    [AlwaysInterleave]
    Task Invalidate();

    Task<ListOpResult> AddMember(ListMember member);

    Task<ListOpResult> RemoveMember(ListMember member);

    [AlwaysInterleave]
    Task<IReadOnlyList<ListMember>?> GetMembers();

    [AlwaysInterleave]
    Task<IReadOnlyList<HeldPost>?> GetHeld();

    /// <summary>Sends a held post on to the members; <see cref="ListOpStatus.NotFound"/> when it is not held (any more).</summary>
    Task<ListOpResult> Approve(Guid id);

    /// <summary>Discards a held post (its blob reference is released).</summary>
    Task<ListOpResult> Reject(Guid id);
}

/// <summary>The list stream and the addresses a list answers at.</summary>
public static class ListStreams
{
    /// <summary>Stream namespace of list deliveries; the key is the list address.</summary>
    public const string Namespace = "list";

    /// <summary>Where moderators' replies approve a held post: <c>name+approve-TOKEN@domain</c>.</summary>
    public const string ApproveTag = "approve-";

    /// <summary>Where moderators' replies reject a held post: <c>name+reject-TOKEN@domain</c>.</summary>
    public const string RejectTag = "reject-";

    /// <summary>The list's owner address (<c>name-owner@domain</c>): envelope sender of member copies, unsubscribe requests.</summary>
    public const string OwnerSuffix = "-owner";

    /// <summary>The list address and the command (approve-TOKEN, reject-TOKEN) of an address as accepted; null command for a post.</summary>
    public static (string List, string? Command) Split(string accepted)
    {
        var lp = MailAddress.LocalPartOf(accepted);
        var plus = lp.IndexOf('+');
        if (plus <= 0) return (accepted, null);
        var tag = lp[(plus + 1)..];
        var list = lp[..plus] + "@" + MailAddress.DomainOf(accepted);
        return tag.StartsWith(ApproveTag, StringComparison.Ordinal) || tag.StartsWith(RejectTag, StringComparison.Ordinal)
            ? (list, tag)
            : (list, null);
    }

    /// <summary>RFC 2919 list identifier: the list's local part (dots kept) and its domain.</summary>
    public static string ListId(string listAddress) =>
        MailAddress.LocalPartOf(listAddress) + "." + MailAddress.DomainOf(listAddress);
}

/// <summary>
/// Loop detection for lists. A copy a list sends carries its <c>List-Id</c> (RFC 2919) and an
/// <c>X-Loop</c> naming the list; a message that comes back to the same list with either has been
/// round a loop (a member that forwards to the list, two lists that contain each other).
/// </summary>
public static class ListLoop
{
    public const string LoopHeader = "X-Loop";

    /// <summary>Whether a header section (name, unfolded value) already carries <paramref name="listAddress"/>'s marks.</summary>
    public static bool Carries(IEnumerable<(string Name, string Value)> headers, string listAddress) => CarriedBy(headers, listAddress) is not null;

    /// <summary>The first field ("List-Id" or "X-Loop") that carries <paramref name="listAddress"/>'s marks; null when none does.</summary>
    public static string? CarriedBy(IEnumerable<(string Name, string Value)> headers, string listAddress)
    {
        var id = "<" + ListStreams.ListId(listAddress) + ">";
        foreach (var (name, value) in headers)
        {
            if (name.Equals("List-Id", StringComparison.OrdinalIgnoreCase) && value.Contains(id, StringComparison.OrdinalIgnoreCase)) return "List-Id";
            if (name.Equals(LoopHeader, StringComparison.OrdinalIgnoreCase) && value.Trim().Trim('<', '>').Equals(listAddress, StringComparison.OrdinalIgnoreCase)) return LoopHeader;
        }
        return null;
    }
}

/// <summary>
/// Why a message is refused as a mail loop before it is accepted (RFC 3463 5.4.6, "routing loop detected"):
/// the one check of SMTP DATA/BDAT (554 5.4.6) and JMAP EmailSubmission/set (invalidEmail), so both ways of
/// sending refuse the same messages. Refused, not accepted and dropped or bounced: the sender hears of it at
/// once, and no bounce of ours can join the loop.
/// </summary>
/// <param name="Field">The header field that shows the loop: "Received" (too many hops), "List-Id" or "X-Loop" (a list's marks).</param>
/// <param name="List">The list the message has already been through; null for too many hops.</param>
/// <param name="Description">What the refusal says, without a reply code.</param>
public sealed record MailLoop(string Field, string? List, string Description)
{
    /// <summary>
    /// The loop in a message's header section, if any: more than <paramref name="maxHops"/> Received fields (RFC 5321 6.3),
    /// or the marks of one of <paramref name="lists"/> (the list addresses its recipients were accepted as, commands such as
    /// <c>name+approve-TOKEN@</c> included), which show that the message has already been through that list.
    /// </summary>
    /// <param name="headers">The header fields as the client sent them (name, unfolded value), before this server adds its own.</param>
    public static MailLoop? Find(IReadOnlyCollection<(string Name, string Value)> headers, IEnumerable<string> lists, int maxHops)
    {
        if (headers.Count(h => h.Name.Equals("Received", StringComparison.OrdinalIgnoreCase)) > maxHops)
            return new("Received", null, $"Too many hops ({maxHops} Received: fields): a mail loop");
        foreach (var accepted in lists)
        {
            var list = ListStreams.Split(accepted).List;
            if (ListLoop.CarriedBy(headers, list) is { } field)
                return new(field, list, $"Mail loop: the message has already been through the list {list}");
        }
        return null;
    }
}

using Orleans.Concurrency;

namespace GrainMail.Contracts.Governance;

/// <summary>Who asked for a governance change, for the audit log (an address, <c>super</c>, <c>system</c>).</summary>
[GenerateSerializer, Immutable]
public sealed record GovernanceActor(
    [property: Id(0)] string Actor,
    [property: Id(1)] string Role,
    [property: Id(2)] string ClientIp)
{
    public static readonly GovernanceActor System = new("system", "system", "");
}

/// <summary>
/// An outbound approval rule (4.2.14). A message matches when every condition that is set holds:
/// whose (<see cref="Senders"/> or a department subtree of <see cref="Departments"/>; none = anyone),
/// to whom (<see cref="OutsideDomain"/>: a recipient outside the sender's domain; <see cref="ToDomains"/>:
/// a recipient in one of them), what (attachments, size, a keyword or a pattern in subject or body).
/// </summary>
[GenerateSerializer, Immutable]
public sealed record ApprovalRule(
    [property: Id(0)] long Id,
    [property: Id(1)] string Name,
    [property: Id(2)] IReadOnlyList<string> Senders,
    [property: Id(3)] IReadOnlyList<long> Departments,
    [property: Id(4)] bool OutsideDomain,
    [property: Id(5)] IReadOnlyList<string> ToDomains,
    [property: Id(6)] bool HasAttachments,
    [property: Id(7)] long? SizeOver,
    [property: Id(8)] IReadOnlyList<string> Keywords,
    [property: Id(9)] IReadOnlyList<string> Patterns,
    [property: Id(10)] string Reviewer,
    [property: Id(11)] TimeSpan ExpireAfter,
    [property: Id(12)] string ExpiryReason);

/// <summary>A domain's governance settings; <see cref="Retention"/> maps a folder name ('*': every other) to days, 0 = keep.</summary>
[GenerateSerializer, Immutable]
public sealed record GovernanceSettings(
    [property: Id(0)] bool MonitoringEnabled,
    [property: Id(1)] string? MonitoringReviewer,
    [property: Id(2)] int RecallDays,
    [property: Id(3)] IReadOnlyDictionary<string, int> Retention)
{
    public const int DefaultRecallDays = 15;

    public static readonly GovernanceSettings Default = new(false, null, DefaultRecallDays, new Dictionary<string, int>());
}

[GenerateSerializer, Immutable]
public sealed record MonitoringRelation(
    [property: Id(0)] string Monitored,
    [property: Id(1)] string Master,
    [property: Id(2)] DateTimeOffset CreatedAt);

/// <summary>What the submit path needs of a domain: its approval rules, and monitored → master when monitoring is enabled.</summary>
[GenerateSerializer, Immutable]
public sealed record GovernancePolicy(
    [property: Id(0)] string Domain,
    [property: Id(1)] IReadOnlyList<ApprovalRule> Rules,
    [property: Id(2)] IReadOnlyDictionary<string, string> Masters)
{
    public bool IsEmpty => Rules.Count == 0 && Masters.Count == 0;
}

public enum MonitoringStatus
{
    Ok,
    NotAuthorised,
    SelfMonitoring,
    AlreadyHasMaster,
    Cycle,
    NotInDomain,
    NoSuchAccount,
    NotFound,
}

[GenerateSerializer, Immutable]
public sealed record HeldMessage(
    [property: Id(0)] Guid Id,
    [property: Id(1)] string Domain,
    [property: Id(2)] string RuleName,
    [property: Id(3)] string Reviewer,
    [property: Id(4)] string Account,
    [property: Id(5)] string? Sender,
    [property: Id(6)] IReadOnlyList<string> Recipients,
    [property: Id(7)] string Subject,
    [property: Id(8)] long Size,
    [property: Id(9)] DateTimeOffset HeldAt,
    [property: Id(10)] DateTimeOffset ExpiresAt);

public enum ApprovalDecisionStatus
{
    Done,
    NotFound,
}

public enum RecallOutcome
{
    Recalled,
    AlreadyRead,
    OutsideDomain,
    NotInMailbox,
}

[GenerateSerializer, Immutable]
public sealed record RecallResult(
    [property: Id(0)] string Recipient,
    [property: Id(1)] RecallOutcome Outcome);

public enum RecallStatus
{
    Done,
    NotFound,
    TooLate,
}

[GenerateSerializer, Immutable]
public sealed record RecallReport(
    [property: Id(0)] RecallStatus Status,
    [property: Id(1)] Guid? SentId,
    [property: Id(2)] IReadOnlyList<RecallResult> Results);

[GenerateSerializer, Immutable]
public sealed record SentMessage(
    [property: Id(0)] Guid Id,
    [property: Id(1)] string? MessageId,
    [property: Id(2)] string Subject,
    [property: Id(3)] DateTimeOffset SentAt,
    [property: Id(4)] IReadOnlyList<string> LocalRecipients,
    [property: Id(5)] IReadOnlyList<string> External,
    [property: Id(6)] IReadOnlyList<Guid> OutboundIds);

/// <summary>
/// A domain's governance configuration, one activation per domain, the single writer of its rows:
/// settings, approval rules and monitoring relations (checked here: never oneself, one master,
/// no cycle through any chain). The submit path asks <see cref="Policy"/> for every submission.
/// </summary>
public interface IGovernanceGrain : IGrainWithStringKey
{
    [Retryable, AlwaysInterleave]
    Task<GovernancePolicy> Policy();

    [Retryable, AlwaysInterleave]
    Task<GovernanceSettings> GetSettings();

    Task SetMonitoring(bool enabled, string? reviewer, GovernanceActor actor);

    Task SetRecallDays(int days, GovernanceActor actor);

    Task SetRetention(IReadOnlyDictionary<string, int> folders, GovernanceActor actor);

    [Retryable, AlwaysInterleave]
    Task<IReadOnlyList<ApprovalRule>> ListRules();

    Task<ApprovalRule> AddRule(ApprovalRule rule, GovernanceActor actor);

    Task<bool> RemoveRule(long id, GovernanceActor actor);

    [Retryable, AlwaysInterleave]
    Task<IReadOnlyList<MonitoringRelation>> ListMonitoring();

    Task<MonitoringStatus> AddMonitoring(string monitored, string master, GovernanceActor actor);

    Task<MonitoringStatus> RemoveMonitoring(string monitored, GovernanceActor actor);
}

/// <summary>
/// Held outbound mail of one domain: the reviewer's notice, approve (delivery from the held copy),
/// reject (a DSN to the sender with the reason) and expiry, driven by a reminder so that a held
/// message expires even when its domain's silos all restarted in between.
/// </summary>
public interface IApprovalGrain : IGrainWithStringKey
{
    /// <summary>A message was held (called after the submit committed): the reviewer's notice, the expiry reminder.</summary>
    Task Held(Guid id);

    [Retryable, AlwaysInterleave]
    Task<IReadOnlyList<HeldMessage>> List();

    Task<ApprovalDecisionStatus> Approve(Guid id, GovernanceActor actor);

    Task<ApprovalDecisionStatus> Reject(Guid id, string reason, GovernanceActor actor);

    /// <summary>Rejects every held message whose time is up (the reminder calls this; tests call it after moving the clock).</summary>
    Task<int> ExpireDue();
}

/// <summary>Applies a domain's retention in the background, through the mailbox grains (reminder-driven).</summary>
public interface IRetentionGrain : IGrainWithStringKey
{
    /// <summary>Makes sure the reminder runs (after a policy change).</summary>
    Task Start();

    /// <summary>One sweep now; returns the number of messages removed.</summary>
    Task<int> Sweep();
}

/// <summary>A sender's own view of what it sent, and recall (4.1.5). Stateless; the mailboxes do the removing.</summary>
public interface IRecallGrain : IGrainWithIntegerKey
{
    [Retryable]
    Task<IReadOnlyList<SentMessage>> Sent(string sender, int limit);

    /// <summary><paramref name="id"/>: the submission id ("queued as"), a sent-log message id, or a Message-ID.</summary>
    Task<RecallReport> Recall(string sender, string id, GovernanceActor actor);
}

/// <summary>The mailbox grain's governance side: recall one delivery, apply retention.</summary>
public interface IMailboxGovernance : IGrainWithStringKey
{
    /// <summary>Removes the copy of <paramref name="deliveryId"/> if nobody has read it (open sessions see EXPUNGE).</summary>
    Task<RecallOutcome> Recall(Guid deliveryId);

    /// <summary>Removes messages that have been in a folder longer than the folder's days allow; returns how many.</summary>
    Task<int> ApplyRetention(IReadOnlyDictionary<string, int> folders, DateTimeOffset now);
}

/// <summary>Reads for the API: a held message by id (whatever its domain), and a reviewer's queue.</summary>
public interface IGovernanceViewGrain : IGrainWithIntegerKey
{
    [Retryable]
    Task<HeldMessage?> FindHeld(Guid id);

    [Retryable]
    Task<IReadOnlyList<HeldMessage>> HeldForReviewer(string reviewer);
}

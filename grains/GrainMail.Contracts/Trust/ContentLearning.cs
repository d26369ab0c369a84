namespace GrainMail.Contracts.Trust;

/// <summary>A message to learn from: the blob a mailbox copy refers to (its hash is the message's key).</summary>
[GenerateSerializer, Immutable]
public sealed record LearnItem(
    [property: Id(0)] string BlobDomain,
    [property: Id(1)] byte[] BlobHash);

/// <summary>
/// Learning from a user's verdicts, one grain per mailbox (key: the address): a move into \Junk learns the
/// messages as spam for that mailbox's model, a move out of it as ham. The mailbox commits each verdict into
/// the durable learning queue (table learn_queue) with the move itself and then calls <see cref="Drain"/>
/// one-way, so the IMAP MOVE does not wait for the tokens to be written and a silo that stops before they are
/// loses nothing: the queue is applied by the next learner (docs/architecture.md, "Learning").
/// </summary>
public interface IContentLearnerGrain : IGrainWithStringKey
{
    /// <summary>Applies the mailbox's queued verdicts in order and deletes them; fire and forget.</summary>
    [Orleans.Concurrency.OneWay]
    Task Drain();

    /// <summary>The same, waited for: how many queued verdicts changed the model (tests and tools).</summary>
    Task<int> DrainNow();

    /// <summary>Learns without the queue (nothing durable): for tools that hold the messages' verdicts themselves.</summary>
    [Orleans.Concurrency.OneWay]
    Task Learn(IReadOnlyList<LearnItem> items, bool spam);

    /// <summary>Learns and waits: for tests and tools that need to know it is done.</summary>
    Task<int> LearnNow(IReadOnlyList<LearnItem> items, bool spam);
}

/// <summary>The classifier's answer for a message, for the admin API.</summary>
[GenerateSerializer, Immutable]
public sealed record ContentClassification(
    [property: Id(0)] double Probability,
    [property: Id(1)] int Clues,
    [property: Id(2)] int Tokens,
    [property: Id(3)] string? Symbol,
    [property: Id(4)] double Weight,
    [property: Id(5)] double ElapsedMicroseconds);

/// <summary>What a model has learned.</summary>
[GenerateSerializer, Immutable]
public sealed record ContentModelSize(
    [property: Id(0)] int SpamMessages,
    [property: Id(1)] int HamMessages);

/// <summary>Who asked for a change, for the audit log: the account or "admin", their role, their address.</summary>
[GenerateSerializer, Immutable]
public sealed record SpamActor(
    [property: Id(0)] string Actor,
    [property: Id(1)] string Role,
    [property: Id(2)] string ClientIp);

/// <summary>An allow or block entry as the API shows it.</summary>
[GenerateSerializer, Immutable]
public sealed record SenderListItem(
    [property: Id(0)] string Entry,
    [property: Id(1)] bool Allow,
    [property: Id(2)] DateTimeOffset CreatedAt);

/// <summary>
/// The classifier and the sender lists for the APIs (silo side: the gateways have no database):
/// training the global model with the operator's messages, classifying a message, and each scope's
/// (a mailbox address or a domain name) allow and block entries.
/// </summary>
public interface IContentAdminGrain : IGrainWithIntegerKey
{
    /// <summary>Learns one RFC 5322 message (an mbox "From " first line is skipped) for the global model.
    /// Returns "learned", "relearned" or "already-learned".</summary>
    Task<string> Train(byte[] message, bool spam, SpamActor actor);

    /// <summary>Forgets everything the global model learned (audited); returns what it had learned.</summary>
    Task<ContentModelSize> ResetGlobal(SpamActor actor);

    [Retryable]
    Task<ContentClassification> Classify(byte[] message, string? mailbox);

    [Retryable]
    Task<ContentModelSize> ModelSize(string? mailbox);

    [Retryable]
    Task<IReadOnlyList<SenderListItem>> Lists(string scope);

    /// <summary>False when the entry was there already.</summary>
    Task<bool> AddToList(string scope, bool allow, string entry, SpamActor actor);

    /// <summary>False when there was no such entry.</summary>
    Task<bool> RemoveFromList(string scope, bool allow, string entry, SpamActor actor);

    /// <summary>A mailbox's own held message: released to its INBOX (true), or false when the mailbox holds no such message.</summary>
    Task<bool> ReleaseOwn(string mailbox, Guid id, SpamActor actor);

    /// <summary>A mailbox's own held message deleted; false when the mailbox holds no such message.</summary>
    Task<bool> DeleteOwn(string mailbox, Guid id, SpamActor actor);
}

/// <summary>A domain's quarantine digest settings.</summary>
[GenerateSerializer, Immutable]
public sealed record DigestSettings(
    [property: Id(0)] TimeSpan Interval,
    [property: Id(1)] DateTimeOffset? LastRun);

/// <summary>
/// The quarantine digest of one domain (key: the domain name): on a reminder (daily by default, the
/// domain may set another interval) every mailbox with messages held since its last digest is sent one
/// mail listing them, through the internal submission path into its INBOX.
/// </summary>
public interface IQuarantineDigestGrain : IGrainWithStringKey
{
    /// <summary>Makes sure the reminder runs (called when mail is held; idempotent).</summary>
    [Orleans.Concurrency.OneWay]
    Task Ensure();

    [Retryable]
    Task<DigestSettings> Get();

    Task<DigestSettings> SetInterval(TimeSpan interval);

    /// <summary>Sends the digests that are due now; returns how many mails were sent.</summary>
    Task<int> SendNow();
}

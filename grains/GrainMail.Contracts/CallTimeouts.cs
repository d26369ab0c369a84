namespace GrainMail.Contracts;

/// <summary>
/// Per-method grain call timeouts (Orleans' <c>[ResponseTimeout]</c>), shorter than the cluster's 8 s
/// (GrainMailSettings.GrainCallTimeout) for a few calls that answer in milliseconds and are safe to ask
/// twice. Why: a call in flight to a silo that is killed — the activation's silo, or the gateway silo
/// the client's connection went through — is never answered; Orleans fails it only at its timeout
/// (the silo's death, declared seconds later, fails only calls that silo itself sent). The failover
/// drill's IMAP LOGIN spent 5.7–9.4 s in such waits. A shorter timeout ends the wait sooner, and
/// <see cref="RetryableAttribute">the retry</see> then finds the grain's new activation once membership has
/// declared the silo dead.
/// Only for calls where a timeout cuts nothing that should have been allowed to finish: cheap reads
/// and settle questions that are asked again anyway, whose first try may still complete on the silo
/// (its answer is then simply unused). Not for submissions, logins' password checks (CPU-bound and
/// queued, one hash per core: seconds in a login storm, which is what follows a failover), the send
/// budget (it counts), or anything that writes.
/// </summary>
public static class CallTimeouts
{
    /// <summary>A read on the login path (the domain's alias, its policy, the mailbox's existence) and the open-session
    /// report: milliseconds when the grain is active, a few database reads when it activates. 3 s is well above
    /// both on a loaded machine, and well below the 8 s that a call to a dead silo waited before.</summary>
    public const string LoginRead = "00:00:03";

    /// <summary>The reads an SMTP session makes at MAIL FROM and RCPT TO: the recipient policy
    /// (<see cref="Domains.IDomainGrain.Resolve"/>, and <see cref="Domains.IDomainGrain.ResolveWithin"/> for an alias's
    /// hop into another domain), the account's border policy (<see cref="Domains.IDomainGrain.GetAccountPolicy"/>) and a
    /// mailing list's post policy (<see cref="Lists.IMailingListGrain.MayPost"/>). Each answers from the grain's memory
    /// or a query or two; a RCPT in flight when a silo was killed waited the full 8 s before its retry.</summary>
    public const string RcptRead = "00:00:03";

    /// <summary><see cref="Intake.IMessageIntakeGrain.Settle"/>: the gateway asks every 0.25–1 s for up to 60 s, so
    /// a question that went to a killed silo should not hold the next one back for 8 s.</summary>
    public const string Settle = "00:00:03";

    /// <summary>
    /// Longer, not shorter: <see cref="Intake.IMessageUploadGrain.Commit"/>, the commit of a message over 1 MiB (a
    /// smaller one goes in one <c>Submit</c>, which keeps 8 s). Its time grows with the size: virus scanning, checks
    /// and storing every chunk (measured 1.6 s for 45 MiB on an idle 2-core machine with a one-signature clamd; a full
    /// signature set and a loaded machine take several times that). With 8 s a commit that takes longer is fenced by
    /// the gateway's first settle question and answered 451, every time the sender tries again: a message that can
    /// never arrive. 30 s is the gateway's commit window (<see cref="Intake.SubmissionEnvelope.CommitWithin"/>): a
    /// submission that has not begun its transaction by then stores nothing anyway. The cost: a large message's
    /// commit in flight on a silo that is killed waits up to 30 s, not 8, before the gateway settles it.
    /// </summary>
    public const string UploadCommit = "00:00:30";

    /// <summary><see cref="Settle"/> as a time span, for the silo's own wait inside it.</summary>
    public static readonly TimeSpan SettleTimeout = TimeSpan.Parse(Settle, System.Globalization.CultureInfo.InvariantCulture);
}

namespace GrainMail.Trust.Spf;

/// <summary>The seven results of check_host() (RFC 7208 2.6).</summary>
public enum SpfResult { None, Neutral, Pass, Fail, SoftFail, TempError, PermError }

/// <summary>A check_host() verdict: the result, the explanation on fail (the domain's exp= text, RFC 7208 6.2),
/// and why (the matching mechanism or the error), for logs and the Authentication-Results comment.</summary>
public sealed record SpfVerdict(SpfResult Result, string? Explanation, string Reason);

/// <summary>Which identity was checked (RFC 7208 2.3 and 2.4).</summary>
public enum SpfIdentity { MailFrom, Helo }

/// <summary>A check_host() outcome for one identity: what was checked and what it gave.</summary>
public sealed record SpfCheck(SpfIdentity Identity, string Domain, string Sender, SpfVerdict Verdict);

namespace GrainMail.Contracts.Sieve;

/// <summary>
/// The Sieve script that holds an account's JMAP VacationResponse (RFC 8621 8). It is an ordinary
/// script in the account's store (ManageSieve lists it, /api/v1/me/sieve shows it), written by the
/// JMAP gateway through <see cref="ISieveGrain.Put"/>; delivery runs it before the active script,
/// whichever that is, and takes only its vacation action.
/// </summary>
public static class JmapVacationScript
{
    public const string Name = "jmap-vacation";
}

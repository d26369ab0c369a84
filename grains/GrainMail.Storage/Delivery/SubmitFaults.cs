using System.Diagnostics;

namespace GrainMail.Storage.Delivery;

/// <summary>
/// Failure tests of real processes: <c>GRAINMAIL_FAULT_SUBMIT</c> makes a silo end itself (SIGKILL, as a
/// machine that dies) in the middle of a gateway's submission, so a test can show what the sender hears
/// when the process that ran the commit never answers. Unset in every deployment; only submissions that
/// carry a gateway's idempotency key trigger it, so the silos' own notices and reports pass.
///   <c>die-before-commit</c>: the transaction is written but never committed (PostgreSQL rolls it back);
///   <c>die-after-commit</c>: the commit took effect, the answer never leaves the silo.
/// </summary>
public static class SubmitFaults
{
    public const string Variable = "GRAINMAIL_FAULT_SUBMIT";

    public static void Apply(MessageSubmitter submitter, string? fault)
    {
        var stage = fault switch
        {
            null or "" => (MessageSubmitter.CommitStage?)null,
            "die-before-commit" => MessageSubmitter.CommitStage.BeforeCommit,
            "die-after-commit" => MessageSubmitter.CommitStage.AfterCommit,
            _ => throw new ArgumentException($"{Variable}: die-before-commit or die-after-commit, not '{fault}'"),
        };
        if (stage is null) return;
        submitter.FaultInjection = (at, _, submissions) =>
        {
            if (at == stage && submissions.Any(s => s.IdempotencyKey is not null))
            {
                Console.Error.WriteLine($"{Variable}: ending the process {at}");
                Process.GetCurrentProcess().Kill();
            }
            return Task.CompletedTask;
        };
    }
}

using System.Diagnostics;
using System.Text;
using System.Text.Json;

namespace GrainMail.Tests.Infrastructure;

/// <summary>What one run of <c>./grainmail</c> gave: exit code, standard output and error (trimmed).</summary>
public sealed record CliResult(int ExitCode, string Out, string Err)
{
    /// <summary>Standard output read as the JSON the verbs print.</summary>
    public JsonElement Json => JsonDocument.Parse(Out).RootElement;
}

/// <summary>
/// Runs the operator script <c>./grainmail</c> as a person would, in its own bash process, against a
/// test host. One place for the process plumbing that the CLI tests of every issue share.
/// </summary>
public static class GrainmailCli
{
    /// <summary>As the operator: the admin API at <paramref name="baseUrl"/> with the bootstrap token.</summary>
    public static Task<CliResult> AsOperator(string baseUrl, params string[] args) =>
        Run(new Dictionary<string, string>
        {
            ["GRAINMAIL_HTTP"] = baseUrl,
            ["GRAINMAIL_ADMIN_TOKEN"] = HostProcess.Token,
        }, args);

    /// <summary>Runs the script with <paramref name="environment"/> added to this process's own.</summary>
    public static async Task<CliResult> Run(IReadOnlyDictionary<string, string> environment, IEnumerable<string> args)
    {
        var psi = new ProcessStartInfo("bash")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            StandardOutputEncoding = Encoding.UTF8,
            StandardErrorEncoding = Encoding.UTF8,
        };
        psi.ArgumentList.Add(RepoFiles.PathOf("grainmail"));
        foreach (var a in args) psi.ArgumentList.Add(a);
        foreach (var (name, value) in environment) psi.Environment[name] = value;
        using var p = Process.Start(psi)!;
        // Both pipes are drained at once so a verb that writes much to one cannot block on the other.
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await p.WaitForExitAsync(cts.Token);
        return new CliResult(p.ExitCode, (await stdout).Trim(), (await stderr).Trim());
    }
}

using System.ComponentModel;
using System.Diagnostics;

namespace GrainMail.TestSupport;

/// <summary>
/// Runs a command-line tool that a Debian package provides (python3-dkim's dknewkey, clamav's sigtool,
/// python3 scripts), waits for it and returns what it wrote to standard output. One source file,
/// linked into both test projects, so that every interop test fails the same way: a missing tool
/// names the package to install, a failing one its exit code and standard error.
/// </summary>
internal static class DebianTool
{
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(30);

    /// <param name="package">The Debian package that provides <paramref name="tool"/> (tests/run-tests.sh installs it).</param>
    /// <exception cref="InvalidOperationException">The tool is missing or exited non-zero.</exception>
    /// <exception cref="TimeoutException">The tool did not finish within 30 seconds.</exception>
    public static string Run(string tool, string args, string package, string? workingDirectory = null, string? stdin = null)
    {
        var start = new ProcessStartInfo(tool, args)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = workingDirectory ?? "",
        };
        Process process;
        try
        {
            process = Process.Start(start)!;
        }
        catch (Win32Exception e)
        {
            throw new InvalidOperationException($"{tool} is missing ({e.Message}): install Debian's {package} (tests/run-tests.sh does)", e);
        }
        using (process)
        {
            if (stdin is not null) process.StandardInput.Write(stdin);
            process.StandardInput.Close();
            // Both pipes are drained at once: a tool that fills one while we wait on the other would hang.
            var stdout = process.StandardOutput.ReadToEndAsync();
            var stderr = process.StandardError.ReadToEnd();
            if (!process.WaitForExit(Limit))
            {
                process.Kill(entireProcessTree: true);
                throw new TimeoutException($"{tool} did not finish within {Limit.TotalSeconds} s");
            }
            if (process.ExitCode != 0) throw new InvalidOperationException($"{tool} {args} exited {process.ExitCode}: {stderr}");
            return stdout.Result;
        }
    }
}

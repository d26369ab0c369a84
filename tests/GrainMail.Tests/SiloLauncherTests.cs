using System.Diagnostics;
using System.Text.RegularExpressions;
using GrainMail.Tests.Infrastructure;

namespace GrainMail.Tests;

/// <summary>
/// The host's launcher (silos/GrainMail.Silo/grainmail-silo, beside the dll in the build and the published output), through
/// which `./grainmail run`, the container image and the benchmarks start the host: it gives the runtime the settings that
/// only the environment can carry (the call counting from a method's first call, docs/benchmarks.md "session 17"), leaves
/// an operator's own value alone, and hands every argument to the dll beside it. Run here with a stand-in `dotnet` first
/// on PATH that writes down what it was given.
/// </summary>
public sealed partial class SiloLauncherTests
{
    [GeneratedRegex("""^exec dotnet "\$\(dirname "\$0"\)/([^"/]+\.dll)" "\$@"$""", RegexOptions.Multiline)]
    private static partial Regex ExecLine();

    /// <summary>The dll a launcher's text starts (also read by ContainerImageTests for the published one).</summary>
    public static string DllOf(string launcherText)
    {
        var m = ExecLine().Match(launcherText);
        Assert.True(m.Success, "the launcher's exec line: " + launcherText);
        return m.Groups[1].Value;
    }

    private static string Launcher() => Path.Combine(Path.GetDirectoryName(HostProcess.SiloDll())!, "grainmail-silo");

    [Fact]
    public async Task The_launcher_starts_the_dll_beside_it_with_call_counting_from_the_first_call_and_every_argument()
    {
        var seen = await RunAsync(operatorValue: null, "--role", "two words");
        Assert.Equal("delay=0", seen[0]);
        Assert.Equal(["arg=" + HostProcess.SiloDll(), "arg=--role", "arg=two words"], seen[1..]);
        Assert.Equal("GrainMail.Silo.dll", DllOf(await File.ReadAllTextAsync(Launcher(), TestContext.Current.CancellationToken)));
    }

    [Fact]
    public async Task A_value_the_operator_set_wins_over_the_launchers()
    {
        var seen = await RunAsync(operatorValue: "100");
        Assert.Equal("delay=100", seen[0]);
    }

    private static async Task<string[]> RunAsync(string? operatorValue, params string[] args)
    {
        var dir = Directory.CreateTempSubdirectory("grainmail-launcher-").FullName;
        try
        {
            var record = Path.Combine(dir, "seen");
            var fake = Path.Combine(dir, "dotnet");
            await File.WriteAllTextAsync(fake,
                """
                #!/bin/sh
                { echo "delay=${DOTNET_TC_CallCountingDelayMs-unset}"; for a in "$@"; do echo "arg=$a"; done; } > "$SEEN"
                """, TestContext.Current.CancellationToken);
            File.SetUnixFileMode(fake, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);

            var psi = new ProcessStartInfo("sh") { RedirectStandardError = true };
            psi.ArgumentList.Add(Launcher());
            foreach (var a in args) psi.ArgumentList.Add(a);
            psi.Environment["PATH"] = dir + ":" + Environment.GetEnvironmentVariable("PATH");
            psi.Environment["SEEN"] = record;
            psi.Environment.Remove("DOTNET_TC_CallCountingDelayMs");
            if (operatorValue is not null) psi.Environment["DOTNET_TC_CallCountingDelayMs"] = operatorValue;
            using var p = Process.Start(psi)!;
            var stderr = await p.StandardError.ReadToEndAsync(TestContext.Current.CancellationToken);
            await p.WaitForExitAsync(TestContext.Current.CancellationToken);
            Assert.True(p.ExitCode == 0, stderr);
            return await File.ReadAllLinesAsync(record, TestContext.Current.CancellationToken);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}

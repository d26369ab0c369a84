using System.Diagnostics;
using System.Text.Json;
using System.Text.RegularExpressions;
using GrainMail.Tests.Infrastructure;

namespace GrainMail.Tests;

/// <summary>
/// The Dockerfile without Docker: its publish step (eng/publish.sh, run here with --no-build on
/// the test run's own build) yields the layout its ENTRYPOINT and the k8s manifests rely on, and
/// the image runs as the manifests' non-root user with their ports and data directory.
/// </summary>
public sealed class ContainerImageTests
{
    private static readonly string Dockerfile = File.ReadAllText(RepoFiles.PathOf("Dockerfile"));

    private static IEnumerable<string> Instructions(string name) =>
        Regex.Matches(Dockerfile, $@"^{name}\s+(.+?)\s*$", RegexOptions.Multiline).Select(m => m.Groups[1].Value);

    private static string K8sBase() => string.Join("\n", Directory.GetFiles(RepoFiles.PathOf("k8s", "base"), "*.yaml").Select(File.ReadAllText));

    [Fact]
    public void The_image_builds_on_the_SDK_runs_on_ASPNET_as_the_manifests_non_root_user()
    {
        var from = Instructions("FROM").ToList();
        Assert.Equal(3, from.Count);
        // The webmail is built on plain Debian 12 by its own script (Debian's nodejs 18), and the
        // runtime stage puts it where WebmailFiles.Locate looks first, so /mail/ is served, not 503.
        Assert.Matches(@"^debian:bookworm(-slim)? AS webmail$", from[0]);
        Assert.Contains(Instructions("RUN"), r => r.StartsWith("bash build.sh", StringComparison.Ordinal));
        Assert.Contains("COPY --from=webmail /src/webmail/dist/ ./webmail/", Dockerfile);
        Assert.Matches(@"/dotnet/sdk:10\.0 AS build$", from[1]);
        Assert.Matches(@"/dotnet/aspnet:10\.0\b", from[2]);

        var user = Instructions("USER").Last().Split(':')[0];
        Assert.Matches("^[0-9]+$", user); // numeric, so that runAsNonRoot can verify it
        Assert.NotEqual("0", user);
        var runAs = Regex.Matches(K8sBase(), @"runAsUser:\s*(\d+)").Select(m => m.Groups[1].Value).Distinct().ToList();
        Assert.Equal([user], runAs);

        // Every port a container declares is one the image exposes.
        var exposed = Instructions("EXPOSE").SelectMany(e => e.Split(' ', StringSplitOptions.RemoveEmptyEntries)).ToHashSet();
        var declared = Regex.Matches(K8sBase(), @"containerPort:\s*(\d+)").Select(m => m.Groups[1].Value).Distinct().ToList();
        Assert.NotEmpty(declared);
        Assert.All(declared, p => Assert.Contains(p, exposed));

        // The data directory is where the manifests mount the writable volume and point GRAINMAIL_DATA.
        var dataDir = Regex.Match(K8sBase(), @"GRAINMAIL_DATA:\s*(\S+)").Groups[1].Value;
        Assert.Contains($"GRAINMAIL_DATA={dataDir}", Dockerfile);
        Assert.Contains($"mountPath: {dataDir}", K8sBase());
        Assert.Contains($"chown {user}:{user} {dataDir}", Dockerfile);

        // DMARC's organisational domain needs the public suffix list in the image (TrustOptions.PublicSuffixList).
        Assert.Contains(Instructions("RUN"), r => r.Contains("apt-get install", StringComparison.Ordinal) && r.Contains("publicsuffix", StringComparison.Ordinal));

        var ignore = File.ReadAllLines(RepoFiles.PathOf(".dockerignore"));
        foreach (var excluded in new[] { "**/bin/", "**/obj/", "data/", ".git/", "webmail/node_modules/" }) Assert.Contains(excluded, ignore);
    }

    [Fact]
    public async Task The_publish_step_yields_the_entry_point_and_everything_it_loads()
    {
        // The build stage's publish line, and the directory the runtime stage copies from it.
        var run = Assert.Single(Instructions("RUN"), r => r.Contains("eng/publish.sh", StringComparison.Ordinal));
        var published = Regex.Match(run, @"^bash eng/publish\.sh (\S+)$");
        Assert.True(published.Success, run);
        Assert.Contains($"COPY --from=build {published.Groups[1].Value}/ ./", Dockerfile);
        var entry = JsonSerializer.Deserialize<string[]>(Assert.Single(Instructions("ENTRYPOINT")))!;
        Assert.Equal("dotnet", entry[0]);

        var output = Path.Combine(Path.GetTempPath(), $"grainmail-publish-{Guid.NewGuid():N}");
        try
        {
            var psi = new ProcessStartInfo("bash") { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = RepoFiles.Root() };
            foreach (var a in new[] { "eng/publish.sh", output, "--no-build" }) psi.ArgumentList.Add(a);
            using var p = Process.Start(psi)!;
            var stdout = p.StandardOutput.ReadToEndAsync(TestContext.Current.CancellationToken);
            var stderr = p.StandardError.ReadToEndAsync(TestContext.Current.CancellationToken);
            await p.WaitForExitAsync(TestContext.Current.CancellationToken);
            Assert.True(p.ExitCode == 0, await stdout + await stderr);

            var dll = entry[1];
            Assert.True(File.Exists(Path.Combine(output, dll)), $"{dll} not published");
            var name = Path.GetFileNameWithoutExtension(dll);
            Assert.True(File.Exists(Path.Combine(output, name + ".deps.json")));
            // Framework-dependent on the ASP.NET Core runtime the image carries, and no app host.
            using var config = JsonDocument.Parse(File.ReadAllText(Path.Combine(output, name + ".runtimeconfig.json")));
            var frameworks = config.RootElement.GetProperty("runtimeOptions").GetProperty("frameworks").EnumerateArray()
                .Select(f => f.GetProperty("name").GetString()).ToList();
            Assert.Contains("Microsoft.AspNetCore.App", frameworks);
            // The JIT counts a method's calls from its first call (GrainMail.Silo.csproj; docs/benchmarks.md, session 17),
            // in the published host too, whatever starts it.
            var properties = config.RootElement.GetProperty("runtimeOptions").GetProperty("configProperties");
            Assert.Equal(0, properties.GetProperty("System.Runtime.TieredCompilation.CallCountingDelayMs").GetInt32());
            Assert.False(File.Exists(Path.Combine(output, name)), "a native app host was published");
            Assert.False(File.Exists(Path.Combine(output, "libcoreclr.so")), "self-contained publish");
            // Every assembly of the host is there, migrations embedded in the storage one.
            foreach (var project in new[] { "Contracts", "Storage", "Grains", "Outbound", "Operations", "Gateways.Http", "Gateways.Smtp", "Gateways.Imap", "Gateways.Common" })
            {
                Assert.True(File.Exists(Path.Combine(output, $"GrainMail.{project}.dll")), $"GrainMail.{project}.dll not published");
            }
            foreach (var dependency in new[] { "Orleans.Runtime.dll", "Orleans.Dashboard.dll", "Npgsql.dll", "MimeKit.dll", "Microsoft.AspNetCore.OpenApi.dll" })
            {
                Assert.True(File.Exists(Path.Combine(output, dependency)), $"{dependency} not published");
            }
        }
        finally
        {
            if (Directory.Exists(output)) Directory.Delete(output, recursive: true);
        }
    }
}

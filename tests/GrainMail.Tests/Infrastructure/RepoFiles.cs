namespace GrainMail.Tests.Infrastructure;

/// <summary>Files of the repository the tests check (manifests, dashboards), found from the test binary upwards.</summary>
public static class RepoFiles
{
    public static string Root()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Cluster.sln"))) dir = dir.Parent;
        return dir?.FullName ?? throw new InvalidOperationException("Cluster.sln not found above " + AppContext.BaseDirectory);
    }

    public static string PathOf(params string[] parts) => Path.Combine([Root(), .. parts]);
}

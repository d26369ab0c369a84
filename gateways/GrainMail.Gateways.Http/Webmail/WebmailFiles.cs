namespace GrainMail.Gateways.Http.Webmail;

/// <summary>Where the built webmail is, and which file a request path names (never one outside it).</summary>
public static class WebmailFiles
{
    /// <summary>
    /// The folder holding index.html: the configured one (GRAINMAIL_WEBMAIL) when given; else
    /// "webmail" beside the host's binaries (a published image copies it there); else webmail/dist
    /// of the source tree above the binaries (./grainmail run and the tests). Null when none is built.
    /// </summary>
    public static string? Locate(string? configured, string baseDirectory)
    {
        if (!string.IsNullOrWhiteSpace(configured))
            return File.Exists(Path.Combine(configured, "index.html")) ? Path.GetFullPath(configured) : null;
        var beside = Path.Combine(baseDirectory, "webmail");
        if (File.Exists(Path.Combine(beside, "index.html"))) return Path.GetFullPath(beside);
        for (var dir = new DirectoryInfo(baseDirectory); dir is not null; dir = dir.Parent)
        {
            var dist = Path.Combine(dir.FullName, "webmail", "dist");
            if (File.Exists(Path.Combine(dist, "index.html"))) return dist;
        }
        return null;
    }

    /// <summary>The file for a path below /mail/, or null when there is none or the path leaves the root.</summary>
    public static string? Resolve(string root, string path)
    {
        if (path.Length == 0 || path.Contains('\\') || path.Contains('\0')) return null;
        var full = Path.GetFullPath(Path.Combine(root, path));
        var rootWithSlash = Path.TrimEndingDirectorySeparator(Path.GetFullPath(root)) + Path.DirectorySeparatorChar;
        if (!full.StartsWith(rootWithSlash, StringComparison.Ordinal)) return null;
        return File.Exists(full) ? full : null;
    }
}

namespace GrainMail.Operations;

/// <summary>Secrets kept in the data directory (master key, admin token, database password): mode 0600 from creation.</summary>
public static class SecretFile
{
    private const UnixFileMode OwnerOnly = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    /// <summary>The trimmed content of <paramref name="path"/>; on first start, <paramref name="generate"/>'s value, written there.</summary>
    public static string ReadOrCreate(string path, Func<string> generate)
    {
        if (File.Exists(path)) return File.ReadAllText(path).Trim();
        var value = generate();
        Write(path, value, FileMode.CreateNew);
        return value;
    }

    /// <summary>Writes a secret, replacing any earlier file, never readable by others even for a moment.</summary>
    public static void Write(string path, string value, FileMode mode = FileMode.Create)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        using (var fs = new FileStream(path, new FileStreamOptions { Mode = mode, Access = FileAccess.Write, UnixCreateMode = OwnerOnly }))
        using (var w = new StreamWriter(fs))
        {
            w.WriteLine(value);
        }
        // A file that existed before keeps its mode on open: set it in every case.
        File.SetUnixFileMode(path, OwnerOnly);
    }
}

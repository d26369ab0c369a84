namespace GrainMail.TestSupport;

/// <summary>
/// python3-dkim's arc_verify (the library behind Debian's arcverify) over a message, with the DKIM key
/// records served by a DNS function instead of a resolver: an ARC verifier independent of MimeKit's.
/// Linked into both test projects.
/// </summary>
internal static class ArcVerifier
{
    /// <summary>The chain's cv result ("pass", "fail", "none") as python3-dkim judges it.</summary>
    /// <param name="keys">Key records by owner name (<c>sel._domainkey.example.com</c>).</param>
    public static string Verify(string message, IEnumerable<(string Name, string Record)> keys)
    {
        var dir = Directory.CreateTempSubdirectory("grainmail-arcverify-").FullName;
        try
        {
            File.WriteAllText(Path.Combine(dir, "msg.eml"), message);
            File.WriteAllText(Path.Combine(dir, "zone.txt"), string.Join("\n", keys.Select(k => k.Name.TrimEnd('.') + ".\t" + k.Record)));
            const string script = """
                import sys, dkim
                zone = dict(line.split('\t', 1) for line in open('zone.txt').read().splitlines())
                def dns(name, timeout=5):
                    n = name.decode() if isinstance(name, bytes) else name
                    v = zone.get(n) or zone.get(n + '.')
                    return v.encode() if v else None
                cv, results, comment = dkim.arc_verify(open('msg.eml', 'rb').read(), dnsfunc=dns)
                print(cv.decode() if isinstance(cv, bytes) else cv)
                """;
            File.WriteAllText(Path.Combine(dir, "verify.py"), script);
            return DebianTool.Run("/usr/bin/python3", "verify.py", "python3-dkim", dir).Trim().ToLowerInvariant();
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }
}

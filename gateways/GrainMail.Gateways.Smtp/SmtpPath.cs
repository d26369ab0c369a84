namespace GrainMail.Gateways.Smtp;

/// <summary>Parsing of MAIL FROM / RCPT TO arguments: a path in angle brackets and ESMTP parameters.</summary>
internal static class SmtpPath
{
    /// <summary>Parses <c>FROM:&lt;path&gt; KEY=VALUE …</c>; the path is returned without brackets ("" for &lt;&gt;).</summary>
    public static bool TryParse(string args, string prefix, out string path, out List<(string Key, string? Value)> parameters)
    {
        path = "";
        parameters = [];
        if (!args.StartsWith(prefix, StringComparison.OrdinalIgnoreCase)) return false;
        var rest = args[prefix.Length..].TrimStart();
        if (rest.Length == 0 || rest[0] != '<') return false;
        var close = FindClose(rest);
        if (close < 0) return false;
        path = rest[1..close];
        // A source route (@a,@b:user@c) is obsolete; its final mailbox is what counts (RFC 5321 C).
        if (path.StartsWith('@') && path.IndexOf(':') is > 0 and var colon) path = path[(colon + 1)..];
        foreach (var p in rest[(close + 1)..].Split(' ', StringSplitOptions.RemoveEmptyEntries))
        {
            var eq = p.IndexOf('=');
            var key = (eq < 0 ? p : p[..eq]).ToUpperInvariant();
            if (key.Length == 0) return false;
            parameters.Add((key, eq < 0 ? null : p[(eq + 1)..]));
        }
        return true;
    }

    // The closing bracket, skipping quoted local parts such as <"a>b"@example.com>.
    private static int FindClose(string s)
    {
        var quoted = false;
        for (var i = 1; i < s.Length; i++)
        {
            if (s[i] == '\\' && quoted) i++;
            else if (s[i] == '"') quoted = !quoted;
            else if (s[i] == '>' && !quoted) return i;
        }
        return -1;
    }

    public static bool IsAscii(string s) => s.All(c => c < 0x80);

    /// <summary>A sender address as seen on the internet: local part kept (case matters to others), domain lower-cased.</summary>
    public static string? NormalizeMailbox(string path)
    {
        if (path.Length > 254 || path.Any(c => char.IsControl(c) || c == ' ')) return null;
        var at = path.LastIndexOf('@');
        if (at <= 0 || at == path.Length - 1) return null;
        var domain = GrainMail.Contracts.MailAddress.NormalizeDomain(path[(at + 1)..]);
        return domain is null ? null : path[..at] + "@" + domain;
    }
}

namespace GrainMail.Trust.Dmarc;

/// <summary>The public suffix list (Debian's publicsuffix file by default): rules, wildcards and
/// exceptions of both the ICANN and the private section, for the organisational domain (RFC 7489 3.2).</summary>
public sealed class PublicSuffixList
{
    public const string DefaultPath = "/usr/share/publicsuffix/public_suffix_list.dat";

    private readonly HashSet<string> _rules = new(StringComparer.OrdinalIgnoreCase);
    private readonly HashSet<string> _exceptions = new(StringComparer.OrdinalIgnoreCase);

    public PublicSuffixList(IEnumerable<string> lines)
    {
        foreach (var raw in lines)
        {
            // A rule is the line up to the first whitespace; "//" lines are comments (and section markers).
            var line = raw.Trim();
            if (line.Length == 0 || line.StartsWith("//", StringComparison.Ordinal)) continue;
            var rule = line.Split(' ', '\t')[0].ToLowerInvariant();
            if (rule.StartsWith('!')) _exceptions.Add(rule[1..]);
            else _rules.Add(rule);
        }
    }

    public static PublicSuffixList Load(string path = DefaultPath) => new(File.ReadLines(path));

    /// <summary>The organisational domain: the public suffix plus one label (RFC 7489 3.2); null when the
    /// name is itself a public suffix.</summary>
    public string? OrganizationalDomain(string domain)
    {
        // The list never changes once loaded: a name's answer is kept (DMARC asks for the From domain and every aligned
        // domain of every message, the URI lists for every linked host). Many names seen once: start over, not grow.
        if (_known.TryGetValue(domain, out var known)) return known;
        var found = Compute(domain);
        if (_known.Count > 10_000) _known.Clear();
        _known[domain] = found;
        return found;
    }

    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, string?> _known = new(StringComparer.Ordinal);

    private string? Compute(string domain)
    {
        var labels = domain.TrimEnd('.').ToLowerInvariant().Split('.');
        var suffixLength = 1; // the implicit rule "*" (PSL algorithm)
        for (var i = 0; i < labels.Length; i++)
        {
            var candidate = string.Join('.', labels[i..]);
            if (_exceptions.Contains(candidate)) { suffixLength = Math.Max(suffixLength, labels.Length - i - 1); break; }
            var wildcard = i + 1 < labels.Length ? "*." + string.Join('.', labels[(i + 1)..]) : null;
            if (_rules.Contains(candidate) || (wildcard is not null && _rules.Contains(wildcard)))
            {
                suffixLength = Math.Max(suffixLength, labels.Length - i);
                break;
            }
        }
        return labels.Length > suffixLength ? string.Join('.', labels[(labels.Length - suffixLength - 1)..]) : null;
    }
}

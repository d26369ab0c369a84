using GrainMail.Trust.Scoring;

namespace GrainMail.Trust.Content;

/// <summary>
/// The classifier's symbols and their default weights (a domain's policy may reweigh them). The bands
/// follow the chi-square result's shape: it is near 0 or near 1 for most mail, and in between only when
/// the clues disagree. BAYES_99 alone reaches Junk (5 by default); BAYES_90 needs other evidence.
/// </summary>
public static class ContentSymbols
{
    public static readonly IReadOnlyDictionary<string, double> Defaults = new Dictionary<string, double>(StringComparer.Ordinal)
    {
        ["BAYES_00"] = -2.5,
        ["BAYES_05"] = -1,
        ["BAYES_50"] = 0,
        ["BAYES_90"] = 3,
        ["BAYES_99"] = 6,
    };

    /// <summary>The symbol for a verdict; none when no token was known (an untrained model says nothing).</summary>
    public static Symbol? For(ContentVerdict verdict)
    {
        if (verdict.Clues == 0) return null;
        var p = verdict.Probability;
        var name = p >= 0.99 ? "BAYES_99" : p >= 0.9 ? "BAYES_90" : p > 0.05 ? (p <= 0.1 ? "BAYES_05" : "BAYES_50") : "BAYES_00";
        return new Symbol(name, Defaults[name], $"p={p:0.000} clues={verdict.Clues}");
    }
}

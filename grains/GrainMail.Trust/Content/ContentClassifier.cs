using System.Text;
using MimeKit;

namespace GrainMail.Trust.Content;

/// <summary>How often a token was seen in learned spam and ham of one model.</summary>
public readonly record struct TokenCounts(int Spam, int Ham);

/// <summary>One model's counts for the tokens of a message, and how many messages it learned of each class.</summary>
public sealed record ModelCounts(int SpamMessages, int HamMessages, IReadOnlyDictionary<long, TokenCounts> Tokens)
{
    public static ModelCounts Empty { get; } = new(0, 0, new Dictionary<long, TokenCounts>());
}

/// <summary>The classifier's answer: the spam probability (0..1, 0.5 when nothing was known), how many
/// tokens decided it, and the combiner's raw score (the log-odds sum, or the probability itself for χ²).</summary>
public sealed record ContentVerdict(double Probability, int Clues, double Score = ContentClassifier.UnknownProbability);

/// <summary>How the clues' probabilities become one verdict.</summary>
public enum Combiner
{
    /// <summary>Fisher's χ² test of "spam clues" against "ham clues" (SpamBayes).</summary>
    ChiSquare,

    /// <summary>The sum of the clues' log-odds ln(f / (1 − f)) (naive Bayes over the clues), mapped to a probability
    /// by the logistic of z · ln 99 / <see cref="ClassifierSettings.JunkScore"/>: the sum JunkScore is p = 0.99, 0 is 0.5.</summary>
    LogOdds,
}

/// <summary>The combiner's parameters: Robinson's strength s (how many messages' worth of weight the 0.5 prior
/// has against a token's own evidence), the minimum distance from 0.5 for a token to count as a clue, and how
/// many of the strongest clues are combined.</summary>
public sealed record ClassifierSettings(double Strength, double MinimumStrength, int MaxClues, double Prior = ContentClassifier.UnknownProbability,
    Combiner Combiner = Combiner.LogOdds, double JunkScore = ContentClassifier.JunkScore, int MinimumCount = 1,
    double StructureWeight = ContentClassifier.StructureWeight)
{
    /// <summary>Validation only (the node leaves it null): a weight per token hash that replaces the default (1, or
    /// <see cref="StructureWeight"/> for a structural token), so that a harness can weigh a whole family up or down.</summary>
    public IReadOnlyDictionary<long, double>? Weights { get; init; }

    /// <summary>Validation only: the largest |ln(f / (1 − f))| one clue may add (the default clamp of f at 10⁻⁴ is 9.21).</summary>
    public double MaxLogOdds { get; init; } = double.PositiveInfinity;

    /// <summary>Validation only: with more than <see cref="DampFrom"/> clues, the sum of the clues of weight 1 is scaled by
    /// (DampFrom / clues)^Damp, a discount for hundreds of correlated word clues (0: no discount).</summary>
    public double Damp { get; init; }

    public int DampFrom { get; init; } = 100;

    public static ClassifierSettings Default { get; } = new(ContentClassifier.Strength, ContentClassifier.MinimumStrength, ContentClassifier.MaxClues);
}

/// <summary>
/// A statistical content classifier after Gary Robinson: each token's spam probability f(w) is the
/// share of spam among the learned messages that contained it, smoothed towards 0.5 by the strength
/// s = 0.35 for rare tokens; every clue (|f − 0.5| ≥ 0.1) adds its log-odds ln(f / (1 − f)), and the sum decides
/// (<see cref="Combiner.LogOdds"/>; from <see cref="JunkScore"/> on it is BAYES_99); a structural clue (how the message was
/// made and carried, <see cref="MessageTokenizer.Structure"/>) counts <see cref="StructureWeight"/> times. Session 7's Fisher χ² combiner
/// (SpamBayes') stays selectable: it answers 0.5 whenever strong spam and ham clues meet, which is where most
/// of the spam it missed sat, while the sum weighs them against each other (cross-validation, docs/benchmarks.md).
/// Two models are combined per token: the global one (trained by the operator) and the user's own
/// (learned from their moves in and out of Junk); where the user has counts for a token they weigh at
/// least <see cref="UserWeight"/> messages each and at least twice the global counts, so that a user's own
/// judgement overrides the global model for the tokens they taught it.
/// </summary>
public static class ContentClassifier
{
    /// <summary>Robinson's s, chosen on 5-fold cross-validation over the training corpus (session 9: 0.35 catches 94.0 % of
    /// the validated spam at the 0.2 % ham budget, 0.5 catches 93.0 %; docs/benchmarks.md).</summary>
    public const double Strength = 0.35;
    public const double UnknownProbability = 0.5;
    public const double MinimumStrength = 0.1;
    public const int MaxClues = 100_000;

    /// <summary>The log-odds sum from which a message is BAYES_99 (Junk by itself): chosen on 5-fold cross-validation over
    /// the training corpus as the lowest sum at which at most 5 of its 2,500 ham (0.2 %) would be Junk, with s = 0.35 and
    /// the structural clues at <see cref="StructureWeight"/> 10 (the sixth-highest validated ham scores 55.740 once the
    /// legacy CJK charsets are decoded in validation as on the node; session 9, without them: 47.34; docs/benchmarks.md).</summary>
    public const double JunkScore = 55.75;
    public const double UserWeight = 10;

    /// <summary>How many times a structural clue (<see cref="MessageTokenizer.StructureTokens"/>: how the message was made
    /// and carried) counts in the log-odds sum. A message has a handful of them against hundreds of word clues, so at weight 1
    /// they are drowned by the words. 10 was chosen by forward-chaining validation on the training corpus (train on the earlier
    /// mail, validate on the later; weights 1, 3, 5, 7, 10, 14, 20 compared; docs/benchmarks.md, session 10).</summary>
    public const double StructureWeight = 10;

    /// <summary>The hashes of the structural tokens: a closed vocabulary, so a set lookup tells them apart.</summary>
    public static readonly IReadOnlySet<long> StructureHashes = MessageTokenizer.StructureTokens.Select(Hash).ToHashSet();

    /// <summary>The counter every model keeps its message totals under (no token hashes to 0).</summary>
    public const long TotalsToken = 0;

    public static ContentVerdict Classify(IReadOnlyCollection<long> tokens, ModelCounts global, ModelCounts? user, ClassifierSettings? settings = null)
    {
        settings ??= ClassifierSettings.Default;
        var clues = new List<double>(tokens.Count);
        double structure = 0;
        foreach (var t in tokens)
        {
            // Structural clues speak from the global model only: most mail shares them (a named relay, a sane Date), so one
            // message a user moves into Junk must not teach "every message carried like this is spam" at ten times a word's weight.
            var structural = StructureHashes.Contains(t);
            var (f, count) = Probability(t, global, structural ? null : user, settings.Strength, settings.Prior);
            if (count < settings.MinimumCount || Math.Abs(f - UnknownProbability) < settings.MinimumStrength) continue;
            // A structural clue's extra weight (beyond its one count among the clues) is added to the sum apart.
            var weight = settings.Weights is { } w && w.TryGetValue(t, out var given) ? given : structural ? settings.StructureWeight : 1;
            if (weight != 1 && settings.Combiner == Combiner.LogOdds) structure += (weight - 1) * LogOdds(f, settings.MaxLogOdds);
            clues.Add(f);
        }
        if (clues.Count == 0) return new ContentVerdict(UnknownProbability, 0);
        if (clues.Count > settings.MaxClues) clues = clues.OrderByDescending(f => Math.Abs(f - UnknownProbability)).Take(settings.MaxClues).ToList();
        if (settings.Combiner == Combiner.LogOdds)
        {
            double z;
            if (settings.Damp > 0 && clues.Count > settings.DampFrom)
            {
                var words = 0.0;
                foreach (var f in clues) words += LogOdds(f, settings.MaxLogOdds);
                z = structure + words * Math.Pow(settings.DampFrom / (double)clues.Count, settings.Damp);
            }
            else
            {
                z = structure;
                foreach (var f in clues) z += LogOdds(f, settings.MaxLogOdds);
            }
            // ln 99 = 4.595: the logistic of z · ln 99 / JunkScore is 0.99 exactly at z = JunkScore (BAYES_99, Junk by
            // itself), 0.9 at 0.48 · JunkScore (BAYES_90) and 0.5 at 0 (the clues balance).
            var probability = 1 / (1 + Math.Exp(-z * Math.Log(99) / settings.JunkScore));
            return new ContentVerdict(probability, clues.Count, z);
        }
        double lnSpam = 0, lnHam = 0;
        foreach (var f in clues)
        {
            var p = Math.Clamp(f, 1e-6, 1 - 1e-6);
            lnHam += Math.Log(p);
            lnSpam += Math.Log(1 - p);
        }
        var n = clues.Count;
        var s = 1 - ChiSquareSurvival(-2 * lnSpam, 2 * n);
        var h = 1 - ChiSquareSurvival(-2 * lnHam, 2 * n);
        var chi = (s - h + 1) / 2;
        return new ContentVerdict(chi, n, chi);
    }

    private static double LogOdds(double f, double max = double.PositiveInfinity)
    {
        var p = Math.Clamp(f, 1e-4, 1 - 1e-4);
        return Math.Clamp(Math.Log(p / (1 - p)), -max, max);
    }

    /// <summary>Robinson's f(w) over the global counts and the user's (which override the global ones where present).</summary>
    public static double TokenProbability(long token, ModelCounts global, ModelCounts? user, double strength = Strength, double prior = UnknownProbability) =>
        Probability(token, global, user, strength, prior).F;

    /// <summary>f(w) and the number of messages (global and the user's) it rests on.</summary>
    private static (double F, double N) Probability(long token, ModelCounts global, ModelCounts? user, double strength, double prior)
    {
        var (pGlobal, nGlobal) = Evidence(token, global);
        var (pUser, nUser) = user is null ? (0.0, 0.0) : Evidence(token, user);
        // Where the user taught this token, their counts weigh at least UserWeight global messages each and
        // at least twice the global evidence together: the user's judgement overrides the global model.
        var userWeight = nUser > 0 ? Math.Max(UserWeight * nUser, 2 * nGlobal) : 0;
        return ((strength * prior + nGlobal * pGlobal + userWeight * pUser) / (strength + nGlobal + userWeight), nGlobal + nUser);
    }

    /// <summary>A model's spam share for a token (class ratios normalised by its message counts) and how many messages had it.</summary>
    private static (double P, double N) Evidence(long token, ModelCounts model)
    {
        if (!model.Tokens.TryGetValue(token, out var c) || c.Spam + c.Ham <= 0) return (0.0, 0.0);
        var spamRatio = model.SpamMessages > 0 ? Math.Min(1, (double)c.Spam / model.SpamMessages) : 0;
        var hamRatio = model.HamMessages > 0 ? Math.Min(1, (double)c.Ham / model.HamMessages) : 0;
        return spamRatio + hamRatio <= 0 ? (0.0, 0.0) : (spamRatio / (spamRatio + hamRatio), (double)(c.Spam + c.Ham));
    }

    /// <summary>P(χ² ≥ x) for an even number of degrees of freedom: the finite series e^(−m) Σ m^i / i! (m = x/2,
    /// i &lt; dof/2), summed in log space. Plain doubles underflow once m passes ~708 (e^(−m) = 0), which with
    /// hundreds of clues happens while the true value is still near 1.</summary>
    public static double ChiSquareSurvival(double x, int degreesOfFreedom)
    {
        if (x <= 0) return 1;
        var m = x / 2;
        var logM = Math.Log(m);
        var logTerm = -m;
        var logSum = logTerm;
        for (var i = 1; i < degreesOfFreedom / 2; i++)
        {
            logTerm += logM - Math.Log(i);
            logSum = logSum >= logTerm ? logSum + Math.Log(1 + Math.Exp(logTerm - logSum)) : logTerm + Math.Log(1 + Math.Exp(logSum - logTerm));
        }
        return Math.Min(Math.Exp(logSum), 1);
    }

    /// <summary>A token's 64-bit key: FNV-1a over its UTF-8 bytes (stable across processes and versions), never 0.</summary>
    public static long Hash(string token)
    {
        const ulong offset = 14695981039346656037, prime = 1099511628211;
        var h = offset;
        Span<byte> buffer = stackalloc byte[256];
        var bytes = Encoding.UTF8.GetByteCount(token) <= buffer.Length ? buffer[..Encoding.UTF8.GetBytes(token, buffer)] : Encoding.UTF8.GetBytes(token);
        foreach (var b in bytes)
        {
            h ^= b;
            h *= prime;
        }
        return h == 0 ? 1 : unchecked((long)h);
    }

    /// <summary>The same key for a token given as characters: <see cref="Hash(string)"/> of the string they spell, computed
    /// without the string or its bytes (<see cref="TokenHash"/>).</summary>
    public static long Hash(ReadOnlySpan<char> token)
    {
        var h = TokenHash.Start();
        h.Append(token);
        return h.Finish();
    }

    /// <summary>The hashed, distinct tokens of a message, sorted (a stable order keeps concurrent learners from deadlocking).</summary>
    public static long[] HashedTokens(MimeMessage message) => HashedTokens(message, null);

    /// <summary>The same, with the message's text parts already decoded (<see cref="DecodedTexts.Of"/>). The tokenizer hands
    /// each token's characters to a hashing sink: no token becomes a string (session 15); the hashes are those of
    /// <see cref="MessageTokenizer.Tokenize(MimeMessage, DecodedTexts?)"/>'s strings.</summary>
    public static long[] HashedTokens(MimeMessage message, DecodedTexts? decoded) => MessageTokenizer.HashedTokens(message, decoded);
}

/// <summary>
/// <see cref="ContentClassifier.Hash(string)"/> computed incrementally over the characters of a token, in as many pieces as it
/// was composed of (prefix, word, ...): FNV-1a 64 over the UTF-8 that <see cref="Encoding.UTF8"/> would write for the whole
/// token. ASCII characters are their own byte, others are encoded as one to three bytes, a surrogate pair as the four bytes
/// of its code point (also when the pair is split between two pieces), and an unpaired surrogate as U+FFFD (EF BF BD), the
/// replacement <see cref="Encoding.UTF8"/> writes for it. Every model's rows are keyed by these values: the protocol tests
/// compare this with <see cref="ContentClassifier.Hash(string)"/> on every kind of character.
/// </summary>
public struct TokenHash
{
    private const ulong Offset = 14695981039346656037, Prime = 1099511628211;
    private ulong _h;
    private char _high;

    public static TokenHash Start() => new() { _h = Offset };

    public void Append(ReadOnlySpan<char> chars)
    {
        var h = _h;
        foreach (var c in chars)
        {
            if (c < 0x80 && _high == 0)
            {
                h = (h ^ c) * Prime;
                continue;
            }
            if (_high != 0)
            {
                var high = _high;
                _high = '\0';
                if (char.IsLowSurrogate(c))
                {
                    var cp = char.ConvertToUtf32(high, c);
                    h = (h ^ (uint)(0xF0 | (cp >> 18))) * Prime;
                    h = (h ^ (uint)(0x80 | ((cp >> 12) & 0x3F))) * Prime;
                    h = (h ^ (uint)(0x80 | ((cp >> 6) & 0x3F))) * Prime;
                    h = (h ^ (uint)(0x80 | (cp & 0x3F))) * Prime;
                    continue;
                }
                h = Replacement(h);
            }
            if (c < 0x80) h = (h ^ c) * Prime;
            else if (c < 0x800)
            {
                h = (h ^ (uint)(0xC0 | (c >> 6))) * Prime;
                h = (h ^ (uint)(0x80 | (c & 0x3F))) * Prime;
            }
            else if (char.IsHighSurrogate(c)) _high = c;
            else if (char.IsLowSurrogate(c)) h = Replacement(h);
            else
            {
                h = (h ^ (uint)(0xE0 | (c >> 12))) * Prime;
                h = (h ^ (uint)(0x80 | ((c >> 6) & 0x3F))) * Prime;
                h = (h ^ (uint)(0x80 | (c & 0x3F))) * Prime;
            }
        }
        _h = h;
    }

    /// <summary>The key; like <see cref="ContentClassifier.Hash(string)"/>, never 0 (the models' totals row).</summary>
    public readonly long Finish()
    {
        var h = _high != 0 ? Replacement(_h) : _h;
        return h == 0 ? 1 : unchecked((long)h);
    }

    /// <summary>U+FFFD in UTF-8, for an unpaired surrogate.</summary>
    private static ulong Replacement(ulong h)
    {
        h = (h ^ 0xEF) * Prime;
        h = (h ^ 0xBF) * Prime;
        return (h ^ 0xBD) * Prime;
    }
}

using System.Diagnostics;
using System.Globalization;
using GrainMail.Contracts.Trust;
using GrainMail.Trust.Content;
using MimeKit;

/// <summary>
/// The content classifier's accuracy in memory (no database, no node): the same tokenizer, counts and
/// combiner as the silo's, so that a tuning round takes seconds instead of the ten minutes of
/// tests/bench/spam-accuracy.sh (which measures the shipped path through the API and stays the figure of record).
///   accuracy --train spam:DIR --train ham:DIR [--test NAME=spam|ham:DIR ...] [--holdout PERCENT] [--folds K] [--explain N]
///            [--variant LABEL:-PREFIX;s=1;x=0.5;mindev=0.1;clues=150;cut=0.9 ...]
/// A variant leaves out the token families with the given prefixes and sets the combiner's parameters; the
/// messages are tokenized once for all variants.
/// --folds K cross-validates on the training sets alone: each class's files in time order are cut into K
/// contiguous folds, each fold is classified by a model of the other folds, and the sums are printed.
/// --holdout keeps the last PERCENT % of each training directory (by file name, which is the corpus's time
/// order) out of training and reports it as a validation set: parameters are chosen on that, never on a test set.
/// --explain prints, per misjudged message of each set, the file, its probability and its strongest clues.
/// </summary>
internal static class SpamAccuracy
{
    private sealed record Sample(string File, bool Spam, string[] Tokens);

    public static int Run(string[] args)
    {
        var train = new List<(bool Spam, string Dir)>();
        var tests = new List<(string Name, bool Spam, string Dir)>();
        var holdout = 0;
        var explain = 0;
        var folds = 0;
        var variants = new List<string>();
        for (var i = 1; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--train":
                    var (kind, dir) = Split(args[++i], ':');
                    train.Add((kind == "spam", dir));
                    break;
                case "--test":
                    var (name, rest) = Split(args[++i], '=');
                    var (k, d) = Split(rest, ':');
                    tests.Add((name, k == "spam", d));
                    break;
                case "--holdout":
                    holdout = int.Parse(args[++i], CultureInfo.InvariantCulture);
                    break;
                case "--variant":
                    variants.Add(args[++i]);
                    break;
                case "--folds":
                    folds = int.Parse(args[++i], CultureInfo.InvariantCulture);
                    break;
                case "--explain":
                    explain = int.Parse(args[++i], CultureInfo.InvariantCulture);
                    break;
                default:
                    Console.Error.WriteLine($"unknown argument {args[i]}");
                    return 2;
            }
        }

        var watch = Stopwatch.StartNew();
        var training = new List<Sample>();
        var sets = new List<(string Name, bool Spam, List<Sample> Samples)>();
        foreach (var (spam, dir) in train)
        {
            var files = Messages(dir);
            var keep = files.Count - files.Count * holdout / 100;
            training.AddRange(files.Take(keep).Select(f => Load(f, spam)));
            if (keep < files.Count)
                sets.Add((Path.GetFileName(dir.TrimEnd('/')) + "-holdout", spam, files.Skip(keep).Select(f => Load(f, spam)).ToList()));
        }
        sets.AddRange(tests.Select(t => (t.Name, t.Spam, Messages(t.Dir).Select(f => Load(f, t.Spam)).ToList())));
        Console.WriteLine($"tokenized {training.Count + sets.Sum(s => s.Samples.Count)} messages in {watch.Elapsed.TotalSeconds:F1} s");
        if (variants.Count == 0) variants.Add("default:");
        foreach (var variant in variants)
        {
            var (label, spec) = Split(variant, ':');
            var excluded = new List<string>();
            var settings = ClassifierSettings.Default;
            var cut = 0.0;
            var budget = -1;
            foreach (var o in spec.Split(';', StringSplitOptions.RemoveEmptyEntries))
            {
                if (o.StartsWith('-')) excluded.Add(o[1..]);
                else if (o.StartsWith("s=", StringComparison.Ordinal)) settings = settings with { Strength = double.Parse(o[2..], CultureInfo.InvariantCulture) };
                else if (o.StartsWith("x=", StringComparison.Ordinal)) settings = settings with { Prior = double.Parse(o[2..], CultureInfo.InvariantCulture) };
                else if (o.StartsWith("mindev=", StringComparison.Ordinal)) settings = settings with { MinimumStrength = double.Parse(o[7..], CultureInfo.InvariantCulture) };
                else if (o.StartsWith("clues=", StringComparison.Ordinal)) settings = settings with { MaxClues = int.Parse(o[6..], CultureInfo.InvariantCulture) };
                else if (o.StartsWith("cut=", StringComparison.Ordinal)) cut = double.Parse(o[4..], CultureInfo.InvariantCulture);
                else if (o == "comb=llr") settings = settings with { Combiner = Combiner.LogOdds };
                else if (o == "comb=chi") settings = settings with { Combiner = Combiner.ChiSquare };
                else if (o.StartsWith("junk=", StringComparison.Ordinal)) settings = settings with { JunkScore = double.Parse(o[5..], CultureInfo.InvariantCulture) };
                else if (o.StartsWith("minn=", StringComparison.Ordinal)) settings = settings with { MinimumCount = int.Parse(o[5..], CultureInfo.InvariantCulture) };
                else if (o.StartsWith("auto=", StringComparison.Ordinal)) budget = int.Parse(o[5..], CultureInfo.InvariantCulture);
            }
            var hashed = new Dictionary<Sample, long[]>(ReferenceEqualityComparer.Instance);
            long[] Hashed(Sample s)
            {
                if (!hashed.TryGetValue(s, out var h))
                    hashed[s] = h = s.Tokens.Where(t => !excluded.Any(x => t.StartsWith(x, StringComparison.Ordinal))).Select(ContentClassifier.Hash).Distinct().ToArray();
                return h;
            }
            // "Caught" is what the default policy does with the content symbol alone (no network checks):
            // its weight reaches junkAt. With cut= a plain probability cut is counted instead (exploration).
            // With auto=K the Junk threshold on the combiner's raw score is chosen on the cross-validation scores
            // alone: the lowest score at which at most K of the validated ham would be Junk.
            var threshold = double.NaN;
            bool Junk(ContentVerdict v) => !double.IsNaN(threshold) ? v.Score >= threshold : cut > 0 ? v.Probability >= cut : (ContentSymbols.For(v)?.Weight ?? 0) >= SpamPolicy.Default.JunkAt;
            Console.WriteLine($"== {label} ({spec}) {settings} {(cut > 0 ? $"cut p>={cut}" : "junk = content symbol weight >= junkAt")}");
            if (folds > 1)
            {
                // Contiguous folds in time order: fold i of each class is validated on a model of the other folds.
                int spamN = 0, spamCaught = 0, hamN = 0, hamJunk = 0;
                var cvSpam = new List<double>();
                var cvHam = new List<double>();
                var spamSamples = training.Where(t => t.Spam).ToList();
                var hamSamples = training.Where(t => !t.Spam).ToList();
                for (var i = 0; i < folds; i++)
                {
                    bool InFold(List<Sample> list, int index) => index * folds / list.Count == i;
                    var validate = spamSamples.Where((_, k) => InFold(spamSamples, k)).Concat(hamSamples.Where((_, k) => InFold(hamSamples, k))).ToList();
                    var rest = spamSamples.Where((_, k) => !InFold(spamSamples, k)).Concat(hamSamples.Where((_, k) => !InFold(hamSamples, k)));
                    var m = Train(rest, Hashed);
                    foreach (var v in validate)
                    {
                        var verdict = ContentClassifier.Classify(Hashed(v), m, null, settings);
                        (v.Spam ? cvSpam : cvHam).Add(verdict.Score);
                        var junk = Junk(verdict);
                        if (v.Spam) { spamN++; if (junk) spamCaught++; }
                        else { hamN++; if (junk) hamJunk++; }
                    }
                }
                Console.WriteLine($"cv {folds}-fold (time order): spam caught {spamCaught}/{spamN} = {(double)spamCaught / spamN:P2}, ham misfiled {hamJunk}/{hamN} = {(double)hamJunk / hamN:P2}");
                cvHam.Sort((a, b) => b.CompareTo(a));
                double ThresholdFor(int k) => k < cvHam.Count ? Math.BitIncrement(cvHam[k]) : double.NegativeInfinity;
                Console.WriteLine("cv by ham budget (ham misfiled <= k: threshold, spam caught): " + string.Join("  ", Enumerable.Range(0, 9).Select(k =>
                    $"k={k}: {ThresholdFor(k):0.####} {(double)cvSpam.Count(x => x >= ThresholdFor(k)) / cvSpam.Count:P1}")));
                if (budget >= 0)
                {
                    threshold = ThresholdFor(budget);
                    Console.WriteLine($"chosen on cv: Junk at score >= {threshold:0.######} (ham budget {budget}): cv spam caught {(double)cvSpam.Count(x => x >= threshold) / cvSpam.Count:P2}, ham {(double)cvHam.Count(x => x >= threshold) / cvHam.Count:P2}");
                }
            }
            var model = Train(training, Hashed);
            Console.WriteLine($"trained on {model.SpamMessages} spam and {model.HamMessages} ham, {model.Tokens.Count} distinct tokens, "
                + $"{training.Average(t => Hashed(t).Length):F0} tokens per message on average");
            Console.WriteLine($"{"set",-20} {"class",-5} {"n",5} {"Junk",9} {"BAYES_99",9} {"BAYES_90",9} {">= 90",8} {">= 95",8} {"BAYES_00/05",12}");
            foreach (var (name, spam, samples) in sets)
            {
                var counts = new Dictionary<string, int>(StringComparer.Ordinal);
                var wrong = new List<(Sample S, ContentVerdict V)>();
                int over95 = 0, over90 = 0, junk = 0;
                foreach (var s in samples)
                {
                    var verdict = ContentClassifier.Classify(Hashed(s), model, null, settings);
                    var symbol = ContentSymbols.For(verdict)?.Name ?? "none";
                    counts[symbol] = counts.GetValueOrDefault(symbol) + 1;
                    if (verdict.Probability >= 0.95) over95++;
                    if (verdict.Probability >= 0.9) over90++;
                    var isJunk = Junk(verdict);
                    if (isJunk) junk++;
                    if (spam != isJunk) wrong.Add((s, verdict));
                }
                double n = samples.Count;
                int b99 = counts.GetValueOrDefault("BAYES_99"), b90 = counts.GetValueOrDefault("BAYES_90");
                var hammy = counts.GetValueOrDefault("BAYES_00") + counts.GetValueOrDefault("BAYES_05");
                Console.WriteLine($"{name,-20} {(spam ? "spam" : "ham"),-5} {samples.Count,5} {junk / n,9:P2} {b99 / n,9:P2} {b90 / n,9:P2} {over90 / n,8:P2} {over95 / n,8:P2} {hammy / n,12:P2}");
                foreach (var (s, v) in wrong.OrderBy(w => spam ? w.V.Probability : -w.V.Probability).Take(explain))
                {
                    var clues = s.Tokens.Where(t => !excluded.Any(x => t.StartsWith(x, StringComparison.Ordinal)))
                        .Select(t => (t, f: ContentClassifier.TokenProbability(ContentClassifier.Hash(t), model, null, settings.Strength, settings.Prior)))
                        .Where(c => Math.Abs(c.f - 0.5) >= settings.MinimumStrength)
                        .OrderByDescending(c => spam ? 0.5 - c.f : c.f - 0.5).Take(12)
                        .Select(c => $"{c.t}={c.f:0.00}");
                    Console.WriteLine($"    {Path.GetFileName(s.File)} p={v.Probability:0.000} clues={v.Clues}: {string.Join(' ', clues)}");
                }
            }
        }
        return 0;
    }

    private static ModelCounts Train(IEnumerable<Sample> samples, Func<Sample, long[]> hashed)
    {
        var tokenCounts = new Dictionary<long, TokenCounts>();
        int spamMessages = 0, hamMessages = 0;
        foreach (var sample in samples)
        {
            foreach (var t in hashed(sample))
            {
                var c = tokenCounts.GetValueOrDefault(t);
                tokenCounts[t] = sample.Spam ? c with { Spam = c.Spam + 1 } : c with { Ham = c.Ham + 1 };
            }
            if (sample.Spam) spamMessages++;
            else hamMessages++;
        }
        return new ModelCounts(spamMessages, hamMessages, tokenCounts);
    }

    private static (string, string) Split(string s, char c)
    {
        var at = s.IndexOf(c);
        return at < 0 ? (s, "") : (s[..at], s[(at + 1)..]);
    }

    private static List<string> Messages(string dir) =>
        Directory.GetFiles(dir, "*.txt").Order(StringComparer.Ordinal).ToList();

    private static Sample Load(string file, bool spam)
    {
        var raw = File.ReadAllBytes(file);
        // An mbox "From " separator line is not part of the message (RFC 4155), as on the train endpoint.
        if (raw.AsSpan().StartsWith("From "u8)) raw = raw[(Array.IndexOf(raw, (byte)'\n') + 1)..];
        using var stream = new MemoryStream(raw, writable: false);
        var tokens = MessageTokenizer.Tokenize(MimeMessage.Load(stream)).ToArray();
        return new Sample(file, spam, tokens);
    }
}

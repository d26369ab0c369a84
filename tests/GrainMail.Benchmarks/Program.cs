using System.Diagnostics;
using GrainMail.Contracts.Domains;
using GrainMail.Contracts.Mailboxes;
using GrainMail.Storage.Delivery;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Npgsql;

// GrainMail benchmarks on this machine: a real PostgreSQL (fsync on) and one in-process silo.
//   dotnet run -c Release --project tests/GrainMail.Benchmarks -- delivery [messages] [mailboxes]
//   dotnet run -c Release --project tests/GrainMail.Benchmarks -- mailbox [messages]
//   dotnet run -c Release --project tests/GrainMail.Benchmarks -- links [seeds] [messages]
//   dotnet run -c Release --project tests/GrainMail.Benchmarks -- trust [messages] [concurrency] [--clamd ENDPOINT]  (tests/bench/trust-throughput.sh)
//   dotnet run -c Release --project tests/GrainMail.Benchmarks -- decide [messages] [--model DIR] [--dump FILE]  (the MX filtering path in process, DecideCost.cs)
//   dotnet run -c Release --project tests/GrainMail.Benchmarks -- accuracy --train spam:DIR --train ham:DIR --test NAME=spam:DIR [--holdout 20]  (content classifier in memory)
// Before any mode parses a message, as the silo's Program does: MimeKit looks its charsets up once, and a message parsed
// before the legacy code pages (GB2312, Big5, EUC-KR, ISO-2022-JP) were registered left them undecoded for the whole run.
// That was the accuracy harness's gap to the node's API in sessions 8 and 9, and it made the trust mode's corpus cheaper
// than the node's (docs/benchmarks.md, session 10).
System.Text.Encoding.RegisterProvider(System.Text.CodePagesEncodingProvider.Instance);
var mode = args.Length > 0 ? args[0] : "delivery";
if (mode == "trust") return await TrustThroughput.RunAsync(args);
if (mode == "dns") return await TrustThroughput.ServeDnsAsync(args);
if (mode == "decide") return await DecideCost.RunAsync(args);
if (mode == "accuracy") return SpamAccuracy.Run(args);
if (mode == "tokenize") return TokenizerBench.Run(args);
if (mode == "links")
{
    // Pure simulation of outbound link selection: no database, no silo.
    LinkSimulation.Run(args);
    return 0;
}
await using (var bench = await BenchSilo.StartAsync("bench"))
{
    var cs = bench.ConnectionString;
    var host = bench.Host;
    var grains = bench.Grains;
    var domain = grains.GetGrain<IDomainGrain>("bench.test");
    await domain.Create(DomainSettings.Default("local") with { DefaultQuotaBytes = long.MaxValue / 4 });

    if (mode == "delivery")
    {
        var messages = args.Length > 1 ? int.Parse(args[1]) : 20_000;
        var mailboxCount = args.Length > 2 ? int.Parse(args[2]) : 100;
        var senders = args.Length > 3 ? int.Parse(args[3]) : 16;
        var boxes = Enumerable.Range(0, mailboxCount).Select(i => $"b{i}@bench.test").ToList();
        foreach (var b in boxes) await domain.CreateAccount(new NewAccount(b.Split('@')[0], "password1", null, null));
        var submitter = host.Services.GetRequiredService<MessageSubmitter>();
        var payloads = Enumerable.Range(0, messages).Select(i => Body(i, 4096)).ToList();
        var sw = Stopwatch.StartNew();
        await Parallel.ForEachAsync(Enumerable.Range(0, messages), new ParallelOptions { MaxDegreeOfParallelism = senders }, async (i, ct) =>
            await submitter.SubmitAsync(new Submission("s@else.where", [boxes[i % boxes.Count]], payloads[i]), ct));
        var accepted = sw.Elapsed;
        long delivered;
        do
        {
            await Task.Delay(100);
            delivered = 0;
            foreach (var b in boxes) delivered += (await grains.GetGrain<IMailboxGrain>(b).GetQuota()).Messages;
        }
        while (delivered < messages);
        var total = sw.Elapsed;
        Console.WriteLine($"delivery: {messages} x 4 KiB messages to {mailboxCount} mailboxes, {senders} concurrent senders, fsync on");
        Console.WriteLine($"  accepted (durably committed): {messages / accepted.TotalSeconds:F0}/s ({accepted.TotalSeconds:F1} s)");
        Console.WriteLine($"  delivered into mailboxes:     {messages / total.TotalSeconds:F0}/s ({total.TotalSeconds:F1} s end to end)");
        Console.WriteLine($"  peak working set: {Process.GetCurrentProcess().PeakWorkingSet64 / 1048576} MiB");
    }
    else if (mode == "drain")
    {
        // Delivery alone: queue a backlog while no silo runs, then start one and time the drain.
        var messages = args.Length > 1 ? int.Parse(args[1]) : 20_000;
        var mailboxCount = args.Length > 2 ? int.Parse(args[2]) : 100;
        var boxes = Enumerable.Range(0, mailboxCount).Select(i => $"b{i}@bench.test").ToList();
        foreach (var b in boxes) await domain.CreateAccount(new NewAccount(b.Split('@')[0], "password1", null, null));
        await host.StopAsync();
        var submitter = host.Services.GetRequiredService<MessageSubmitter>();
        await Parallel.ForEachAsync(Enumerable.Range(0, messages), new ParallelOptions { MaxDegreeOfParallelism = 32 }, async (i, ct) =>
            await submitter.SubmitAsync(new Submission("s@else.where", [boxes[i % boxes.Count]], Body(i, 4096)), ct));
        using var second = bench.NewSilo();
        var sw = Stopwatch.StartNew();
        await second.StartAsync();
        var g2 = second.Services.GetRequiredService<IGrainFactory>();
        long delivered;
        do
        {
            await Task.Delay(100);
            delivered = 0;
            foreach (var b in boxes) delivered += (await g2.GetGrain<IMailboxGrain>(b).GetQuota()).Messages;
        }
        while (delivered < messages);
        Console.WriteLine($"drain: {messages} queued events into {mailboxCount} mailboxes in {sw.Elapsed.TotalSeconds:F1} s (silo start included): {messages / sw.Elapsed.TotalSeconds:F0}/s");
        await second.StopAsync();
        await bench.StopDatabaseAsync();
        return 0;
    }
    else if (mode == "submit")
    {
        // The submit path alone: the silo is stopped first, so nothing consumes the queues.
        var messages = args.Length > 1 ? int.Parse(args[1]) : 20_000;
        var senders = args.Length > 2 ? int.Parse(args[2]) : 16;
        await domain.CreateAccount(new NewAccount("b0", "password1", null, null));
        await host.StopAsync();
        var submitter = host.Services.GetRequiredService<MessageSubmitter>();
        var payloads = Enumerable.Range(0, messages).Select(i => Body(i, 4096)).ToList();
        var sw = Stopwatch.StartNew();
        await Parallel.ForEachAsync(Enumerable.Range(0, messages), new ParallelOptions { MaxDegreeOfParallelism = senders }, async (i, ct) =>
            await submitter.SubmitAsync(new Submission("s@else.where", ["b0@bench.test"], payloads[i]), ct));
        Console.WriteLine($"submit only: {messages / sw.Elapsed.TotalSeconds:F0}/s with {senders} senders");
        await bench.StopDatabaseAsync();
        return 0;
    }
    else if (mode == "mailbox")
    {
        var count = args.Length > 1 ? int.Parse(args[1]) : 100_000;
        await domain.CreateAccount(new NewAccount("big", "password1", null, null));
        var box = grains.GetGrain<IMailboxGrain>("big@bench.test");
        // Fill the index directly (one blob shared by every row): the benchmark is about the index, not the blobs.
        await box.Append("INBOX", Body(0, 4096), MessageFlags.None, [], null);
        await using (var ds = NpgsqlDataSource.Create(cs))
        await using (var cmd = ds.CreateCommand(
            """
            INSERT INTO mailbox_message (mailbox, folder_id, uid, blob_domain, blob_hash, size, internal_date, flags, modseq)
            SELECT m.mailbox, m.folder_id, g, m.blob_domain, m.blob_hash, m.size, now(), (g % 3 = 0)::int, g
            FROM mailbox_message m, generate_series(2, @n) g WHERE m.mailbox = 'big@bench.test';
            UPDATE mailbox_folder SET uidnext = @n + 1, highest_modseq = @n + 1 WHERE mailbox = 'big@bench.test' AND name = 'INBOX';
            UPDATE blob SET refcount = @n;
            UPDATE mailbox SET messages = @n, used_bytes = @n * 4200::bigint WHERE address = 'big@bench.test';
            """))
        {
            cmd.CommandTimeout = 600;
            cmd.Parameters.AddWithValue("n", (long)count);
            await cmd.ExecuteNonQueryAsync();
        }
        // Deactivate everything idle, so the next call activates the mailbox from the database.
        await grains.GetGrain<IManagementGrain>(0).ForceActivationCollection(TimeSpan.Zero);
        await Task.Delay(1000);
        var sw = Stopwatch.StartNew();
        await box.GetQuota();
        var activation = sw.Elapsed;
        sw.Restart();
        var all = await box.GetMessages("INBOX", 1, long.MaxValue);
        var index = sw.Elapsed;
        var latencies = new List<double>();
        for (var i = 0; i < 2000; i++)
        {
            var raw = Body(i + 1, 4096);
            sw.Restart();
            await box.Append("INBOX", raw, MessageFlags.None, [], null);
            latencies.Add(sw.Elapsed.TotalMilliseconds);
        }
        latencies.Sort();
        Console.WriteLine($"mailbox: {all.Count} messages in INBOX");
        Console.WriteLine($"  activation (folders and counters): {activation.TotalMilliseconds:F0} ms");
        Console.WriteLine($"  first full index load (all {all.Count} UIDs, flags): {index.TotalMilliseconds:F0} ms");
        Console.WriteLine($"  append 4 KiB x {latencies.Count}: p50 {latencies[latencies.Count / 2]:F2} ms, p99 {latencies[(int)(latencies.Count * 0.99)]:F2} ms");
    }
    await host.StopAsync();
}
return 0;

static byte[] Body(int seed, int size)
{
    var rnd = new Random(seed);
    var sb = new System.Text.StringBuilder($"From: s@else.where\r\nTo: b@bench.test\r\nSubject: bench {seed}\r\n\r\n");
    while (sb.Length < size)
    {
        for (var i = 0; i < 76; i++) sb.Append((char)('a' + rnd.Next(26)));
        sb.Append("\r\n");
    }
    return System.Text.Encoding.ASCII.GetBytes(sb.ToString());
}

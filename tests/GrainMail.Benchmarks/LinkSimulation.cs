using GrainMail.Outbound;

/// <summary>
/// A deterministic network model for outbound link selection (no sockets, no time passing):
/// overseas destinations whose direct path has disrupted windows of varying length, relays that
/// are slower than a working direct path and each go dark for a while, connection failures that
/// cost a timeout. Each strategy delivers the same message stream over the same seeds; reported:
/// the share delivered within one minute of acceptance and the mean delivery latency.
/// </summary>
public static class LinkSimulation
{
    private const int Destinations = 60;
    private static readonly TimeSpan Horizon = TimeSpan.FromHours(12);
    private static readonly TimeSpan ConnectTimeout = TimeSpan.FromSeconds(20);
    private static readonly TimeSpan[] Retry = [TimeSpan.FromMinutes(1), TimeSpan.FromMinutes(5), TimeSpan.FromMinutes(15), TimeSpan.FromMinutes(30)];

    private sealed record Window(double From, double To);

    /// <summary>One seed's world: per (destination, link) failure chances over time and latencies.</summary>
    private sealed class World
    {
        public required Dictionary<int, List<Window>> DirectBad { get; init; }
        public required Dictionary<string, List<Window>> RelayDown { get; init; }
        public required Dictionary<(int, string), double> Latency { get; init; }

        public double FailChance(int destination, EgressLink link, double t)
        {
            if (link.Kind == LinkKind.Direct)
                return DirectBad[destination].Any(w => t >= w.From && t < w.To) ? 0.92 : 0.03;
            return RelayDown[link.Name].Any(w => t >= w.From && t < w.To) ? 1.0 : 0.04;
        }
    }

    private static readonly EgressLink[] Links =
    [
        new() { Name = "direct", Kind = LinkKind.Direct, Region = "beijing" },
        new() { Name = "tokyo", Kind = LinkKind.Relay, Region = "tokyo" },
        new() { Name = "frankfurt", Kind = LinkKind.Relay, Region = "frankfurt" },
        new() { Name = "siliconvalley", Kind = LinkKind.Relay, Region = "siliconvalley" },
    ];

    private static World MakeWorld(int seed)
    {
        var rnd = new Random(seed);
        var hours = Horizon.TotalSeconds;
        var directBad = new Dictionary<int, List<Window>>();
        var latency = new Dictionary<(int, string), double>();
        for (var d = 0; d < Destinations; d++)
        {
            // Each destination's direct path has a few disrupted windows of 10 minutes to 2 hours.
            var windows = new List<Window>();
            for (var i = rnd.Next(1, 5); i > 0; i--)
            {
                var from = rnd.NextDouble() * hours;
                windows.Add(new Window(from, from + 600 + rnd.NextDouble() * 6600));
            }
            directBad[d] = windows;
            latency[(d, "direct")] = 1.5 + rnd.NextDouble() * 4;
            foreach (var l in Links.Skip(1)) latency[(d, l.Name)] = 3 + rnd.NextDouble() * 6; // relay hop plus its own delivery
        }
        var relayDown = Links.Skip(1).ToDictionary(l => l.Name, _ =>
        {
            var from = rnd.NextDouble() * hours;
            return new List<Window> { new(from, from + 1800 + rnd.NextDouble() * 3600) };
        });
        return new World { DirectBad = directBad, RelayDown = relayDown, Latency = latency };
    }

    private interface IStrategy
    {
        IReadOnlyList<EgressLink> Order(int destination, double t);
        void Observe(int destination, EgressLink link, bool ok, double seconds, double t);
    }

    /// <summary>GrainMail's: the route's LinkSelector plus shared relay health (LinkHealthGrain's rule).</summary>
    private sealed class Learning : IStrategy
    {
        private readonly Dictionary<int, LinkSelector> _routes = [];
        private readonly Dictionary<string, (int Failures, double DownUntil)> _health = [];
        private static readonly DateTimeOffset Epoch = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);

        private LinkSelector Route(int d) => _routes.TryGetValue(d, out var s) ? s : _routes[d] = new LinkSelector(Links, TimeSpan.FromMinutes(5));

        public IReadOnlyList<EgressLink> Order(int d, double t) =>
            Route(d).Order(false, name => _health.TryGetValue(name, out var h) && h.DownUntil > t, Epoch.AddSeconds(t));

        public void Observe(int d, EgressLink link, bool ok, double seconds, double t)
        {
            Route(d).Estimates[link.Name].Record(ok, seconds, Epoch.AddSeconds(t));
            if (link.Kind != LinkKind.Relay) return;
            var h = _health.GetValueOrDefault(link.Name);
            _health[link.Name] = ok ? (0, 0) : (h.Failures + 1, h.Failures + 1 >= 3 ? t + 60 : h.DownUntil);
        }
    }

    private sealed class Static(params string[] order) : IStrategy
    {
        private readonly IReadOnlyList<EgressLink> _order = order.Select(n => Links.Single(l => l.Name == n)).ToList();

        public IReadOnlyList<EgressLink> Order(int destination, double t) => _order;

        public void Observe(int destination, EgressLink link, bool ok, double seconds, double t)
        {
        }
    }

    private sealed class RandomChoice(int seed) : IStrategy
    {
        private readonly Random _rnd = new(seed);

        public IReadOnlyList<EgressLink> Order(int destination, double t) => [Links[_rnd.Next(Links.Length)]];

        public void Observe(int destination, EgressLink link, bool ok, double seconds, double t)
        {
        }
    }

    private static (double WithinMinute, double MeanLatency, double Undelivered) Simulate(World world, IStrategy strategy, int seed, int messages)
    {
        var rnd = new Random(seed * 7919);
        var arrivals = Enumerable.Range(0, messages).Select(_ => (T: rnd.NextDouble() * Horizon.TotalSeconds, D: rnd.Next(Destinations)))
            .OrderBy(a => a.T).ToList();
        // Events in time order: (time, message index, attempt number).
        var queue = new PriorityQueue<(int Message, int Attempt), double>();
        for (var i = 0; i < arrivals.Count; i++) queue.Enqueue((i, 0), arrivals[i].T);
        var delivered = new double[messages];
        Array.Fill(delivered, double.NaN);
        while (queue.TryDequeue(out var item, out var t))
        {
            var (m, attempt) = item;
            var d = arrivals[m].D;
            var now = t;
            var done = false;
            foreach (var link in strategy.Order(d, now))
            {
                var ok = rnd.NextDouble() >= world.FailChance(d, link, now);
                var seconds = ok ? world.Latency[(d, link.Name)] : ConnectTimeout.TotalSeconds;
                strategy.Observe(d, link, ok, seconds, now + seconds);
                now += seconds;
                if (!ok) continue;
                delivered[m] = now;
                done = true;
                break;
            }
            if (!done && attempt < 12) queue.Enqueue((m, attempt + 1), now + Retry[Math.Min(attempt, Retry.Length - 1)].TotalSeconds);
        }
        var latencies = delivered.Select((at, i) => at - arrivals[i].T).ToList();
        var ok1 = latencies.Count(l => !double.IsNaN(l) && l <= 60) / (double)messages;
        var done2 = latencies.Where(l => !double.IsNaN(l)).ToList();
        return (ok1, done2.Count == 0 ? double.NaN : done2.Average(), 1 - done2.Count / (double)messages);
    }

    public static void Run(string[] args)
    {
        var seeds = args.Length > 1 ? int.Parse(args[1]) : 5;
        var messages = args.Length > 2 ? int.Parse(args[2]) : 20000;
        var strategies = new (string Name, Func<int, IStrategy> Make)[]
        {
            ("GrainMail selection", _ => new Learning()),
            ("always direct", _ => new Static("direct")),
            ("direct, then tokyo relay", _ => new Static("direct", "tokyo")),
            ("random link", s => new RandomChoice(s)),
        };
        Console.WriteLine($"link simulation: {Destinations} overseas destinations, {Links.Length} links, {Horizon.TotalHours} h, {messages} messages, seeds 1..{seeds}");
        Console.WriteLine($"{"strategy",-26} {"within 1 min",13} {"mean latency",13} {"undelivered",12}");
        foreach (var (name, make) in strategies)
        {
            var runs = Enumerable.Range(1, seeds).Select(s => Simulate(MakeWorld(s), make(s), s, messages)).ToList();
            Console.WriteLine($"{name,-26} {runs.Average(r => r.WithinMinute),12:P1} {runs.Average(r => r.MeanLatency),11:F1} s {runs.Average(r => r.Undelivered),11:P2}");
        }
    }
}

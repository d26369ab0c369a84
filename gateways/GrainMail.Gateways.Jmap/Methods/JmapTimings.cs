using System.Diagnostics;
using System.Globalization;
using System.Text;

namespace GrainMail.Gateways.Jmap.Methods;

/// <summary>
/// Where one API request's server time went, sent back as a Server-Timing header (W3C Server Timing):
/// the benchmark (tests/bench/jmap_query.py) splits its slow requests by these parts instead of guessing
/// (issue 18: the Email/query + Email/get tail). Parts add up across calls; thread-safe because a page's
/// content loads in parallel. Durations are milliseconds; counts are given as "dur" too, named so.
/// </summary>
public sealed class JmapTimings
{
    private readonly object _gate = new();
    private readonly List<(string Name, double Value)> _parts = [];

    public void Add(string name, double value)
    {
        lock (_gate)
        {
            for (var i = 0; i < _parts.Count; i++)
            {
                if (_parts[i].Name != name) continue;
                _parts[i] = (name, _parts[i].Value + value);
                return;
            }
            _parts.Add((name, value));
        }
    }

    /// <summary>Adds the milliseconds since <paramref name="startTimestamp"/> (a <see cref="Stopwatch"/> timestamp) to <paramref name="name"/>.</summary>
    public void Since(string name, long startTimestamp) => Add(name, Stopwatch.GetElapsedTime(startTimestamp).TotalMilliseconds);

    public string Header()
    {
        var b = new StringBuilder();
        lock (_gate)
        {
            foreach (var (name, value) in _parts)
            {
                if (b.Length > 0) b.Append(", ");
                b.Append(name).Append(";dur=").Append(value.ToString("0.###", CultureInfo.InvariantCulture));
            }
        }
        return b.ToString();
    }
}

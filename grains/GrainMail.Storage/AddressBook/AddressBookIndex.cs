using System.Collections.Concurrent;
using System.Data;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using GrainMail.Contracts.AddressBook;
using GrainMail.Contracts.Names;
using Npgsql;

namespace GrainMail.Storage.AddressBook;

/// <summary>
/// A per-silo, in-memory copy of each searched domain's address book (accounts, departments, rules, public
/// contacts, lists) that answers autocomplete in microseconds instead of a SQL statement per keystroke
/// (issue 15, session 10: at 200 req/s the statement and its round trip were most of PostgreSQL's CPU and a
/// third of the node's). It applies exactly the rules of <see cref="AddressBookStore.VisibleSql"/> and returns
/// exactly what <see cref="AddressBookStore.SearchSqlAsync"/> returns (AddressBookIndexTests compares the two
/// after every kind of directory change).
/// <para>Freshness: before every search the domain's number in <c>address_book_version</c> (migration 0044,
/// moved by triggers in the transaction of every change) is read; a copy with another number is never used.
/// The search then goes to SQL while one new copy loads in the background, so a change committed before a
/// search began is always in its answer, on every silo, whoever made it.</para>
/// </summary>
public sealed class AddressBookIndex(NpgsqlDataSource dataSource)
{
    private static readonly Meter Meter = new("GrainMail.Storage");
    private static readonly Counter<long> Searches = Meter.CreateCounter<long>("grainmail.addressbook.searches",
        description: "Autocomplete searches, by how they were answered: index (the silo's copy) or sql (copy stale or loading)");
    private static readonly Histogram<double> Loads = Meter.CreateHistogram<double>("grainmail.addressbook.index.load", unit: "ms",
        description: "Time to load one domain's address book into a silo's memory");

    /// <summary>How long a search waits for a copy being loaded before it is answered by SQL instead (a small domain loads within it).</summary>
    public TimeSpan LoadWait { get; init; } = TimeSpan.FromMilliseconds(50);

    /// <summary>
    /// A domain whose last copy had more entries than this is not waited for: its load takes longer than <see cref="LoadWait"/>
    /// (100,000 accounts: about 1.2 s), and every search during it would pay the wait before going to SQL anyway.
    /// </summary>
    public int QuickLoadEntries { get; init; } = 20_000;

    /// <summary>
    /// A large domain (above <see cref="QuickLoadEntries"/>) is reloaded only once its number has stayed the same this long;
    /// until then SQL answers. A whole-domain reload costs about a second of CPU at 100,000 accounts: reloading after every
    /// change of a burst (an import, a sync pushing a change every few seconds) cost more than the SQL it saves
    /// (docs/benchmarks.md, session 10: a change every 2 s took the p99 at 200 req/s to 97 ms with a reload per change).
    /// </summary>
    public TimeSpan Settle { get; init; } = TimeSpan.FromSeconds(3);

    private readonly ConcurrentDictionary<string, Holder> _domains = new(StringComparer.Ordinal);

    private sealed class Holder
    {
        public volatile Snapshot? Current;
        public Task<Snapshot>? Loading;
        public readonly Lock Gate = new();

        /// <summary>The last number a search read, and when it first read it (a large domain waits for <see cref="Settle"/>).</summary>
        public long? SeenVersion;
        public long SeenAt;
    }

    /// <summary>
    /// Autocomplete from the copy of <paramref name="domain"/> when it is current; null when it is not (stale, or
    /// still loading after <see cref="LoadWait"/>): the caller then asks SQL.
    /// </summary>
    public async Task<List<AddressBookEntry>?> TrySearchAsync(string domain, string viewer, string query, int limit, CancellationToken ct = default)
    {
        var snapshot = await CurrentAsync(domain, LoadWait, ct);
        Searches.Add(1, new KeyValuePair<string, object?>("path", snapshot is null ? "sql" : "index"));
        return snapshot?.Search(viewer, query, limit);
    }

    /// <summary>The current copy of <paramref name="domain"/>, waiting for a load at most <paramref name="wait"/>; null when none is current by then.</summary>
    public async Task<Snapshot?> CurrentAsync(string domain, TimeSpan wait, CancellationToken ct = default)
    {
        var version = await VersionAsync(domain, ct);
        var holder = _domains.GetOrAdd(domain, _ => new Holder());
        var current = holder.Current;
        if (current is not null && version is { } v && current.Version == v) return current;
        var large = current is not null && current.EntryCount > QuickLoadEntries;
        Task<Snapshot> loading;
        lock (holder.Gate)
        {
            if (large)
            {
                if (holder.SeenVersion != version)
                {
                    holder.SeenVersion = version;
                    holder.SeenAt = Stopwatch.GetTimestamp();
                }
                // Still changing (or changed a moment ago): SQL answers, no reload yet.
                if (Stopwatch.GetElapsedTime(holder.SeenAt) < Settle) return null;
            }
            if (holder.Loading is null || holder.Loading.IsCompleted)
            {
                // One load per domain at a time; a load that finishes with an older number than a later search saw
                // is simply not used by that search, and the next search starts another.
                holder.Loading = Task.Run(() => LoadAsync(domain, holder), CancellationToken.None);
            }
            loading = holder.Loading;
        }
        if (wait > TimeSpan.Zero && !large)
        {
            try
            {
                var fresh = await loading.WaitAsync(wait, ct);
                if (version is null || fresh.Version >= version) return fresh;
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                // Still loading (TimeoutException), or the load failed: SQL answers this one; the next search tries again.
            }
        }
        return null;
    }

    private async Task<long?> VersionAsync(string domain, CancellationToken ct)
    {
        await using var connection = await dataSource.OpenConnectionAsync(ct);
        await using var cmd = new NpgsqlCommand("SELECT version FROM address_book_version WHERE domain = $1", connection);
        cmd.Parameters.Add(new NpgsqlParameter { Value = domain });
        await cmd.PrepareAsync(ct);
        return await cmd.ExecuteScalarAsync(ct) is long v ? v : null;
    }

    private async Task<Snapshot> LoadAsync(string domain, Holder holder)
    {
        var t0 = Stopwatch.GetTimestamp();
        await using var connection = await dataSource.OpenConnectionAsync();
        // A domain no statement has changed since migration 0044 has no number yet: give it one, so that the
        // copy below has a number that its next change will move.
        await using (var init = new NpgsqlCommand(
            "INSERT INTO address_book_version (domain, version) VALUES ($1, nextval('address_book_version_seq')) ON CONFLICT (domain) DO NOTHING", connection))
        {
            init.Parameters.Add(new NpgsqlParameter { Value = domain });
            await init.ExecuteNonQueryAsync();
        }
        // The number and the rows from one snapshot of the database: the copy is exactly the state that number names.
        await using var tx = await connection.BeginTransactionAsync(IsolationLevel.RepeatableRead);
        await using var cmd = new NpgsqlCommand("""
            SELECT version FROM address_book_version WHERE domain = @d;
            SELECT id, name, depth, path FROM directory_department WHERE domain = @d;
            SELECT local_part, display_name, title, phone, department_id, enabled, in_address_book FROM directory_account WHERE domain = @d;
            SELECT id, address, display_name, title, phone, organization FROM address_book_contact WHERE domain = @d;
            SELECT name, display_name FROM mailing_list WHERE domain = @d;
            SELECT applies_to_departments, applies_to_accounts, visible_departments FROM address_book_rule WHERE domain = @d;
            """, connection, tx);
        cmd.Parameters.AddWithValue("d", domain);
        var data = new SnapshotData(domain);
        await using (var r = await cmd.ExecuteReaderAsync())
        {
            if (await r.ReadAsync()) data.Version = r.GetInt64(0);
            await r.NextResultAsync();
            while (await r.ReadAsync())
                data.Departments.Add(new Department(r.GetInt64(0), r.GetString(1), r.GetInt32(2), r.GetFieldValue<long[]>(3)));
            await r.NextResultAsync();
            while (await r.ReadAsync())
            {
                data.Accounts.Add(new AccountRow(r.GetString(0), r.IsDBNull(1) ? null : r.GetString(1), r.IsDBNull(2) ? null : r.GetString(2),
                    r.IsDBNull(3) ? null : r.GetString(3), r.GetInt64(4), r.GetBoolean(5), r.GetBoolean(6)));
            }
            await r.NextResultAsync();
            while (await r.ReadAsync())
            {
                data.Contacts.Add(new ContactRow(r.GetInt64(0), r.GetString(1), r.GetString(2), r.IsDBNull(3) ? null : r.GetString(3),
                    r.IsDBNull(4) ? null : r.GetString(4), r.IsDBNull(5) ? null : r.GetString(5)));
            }
            await r.NextResultAsync();
            while (await r.ReadAsync()) data.Lists.Add((r.GetString(0), r.IsDBNull(1) ? null : r.GetString(1)));
            await r.NextResultAsync();
            while (await r.ReadAsync())
                data.Rules.Add(new Rule(r.GetFieldValue<long[]>(0), r.GetFieldValue<string[]>(1), r.GetFieldValue<long[]>(2)));
        }
        await tx.CommitAsync();
        var snapshot = new Snapshot(data);
        lock (holder.Gate)
        {
            if (holder.Current is null || holder.Current.Version < snapshot.Version) holder.Current = snapshot;
        }
        Loads.Record(Stopwatch.GetElapsedTime(t0).TotalMilliseconds);
        return snapshot;
    }

    /// <summary>Rows as loaded, before the copy's indexes are built.</summary>
    public sealed class SnapshotData(string domain)
    {
        public string Domain { get; } = domain;
        public long Version { get; set; }
        public List<Department> Departments { get; } = [];
        public List<AccountRow> Accounts { get; } = [];
        public List<ContactRow> Contacts { get; } = [];
        public List<(string Name, string? DisplayName)> Lists { get; } = [];
        public List<Rule> Rules { get; } = [];
    }

    public sealed record Department(long Id, string Name, int Depth, long[] Path);

    public sealed record AccountRow(string LocalPart, string? DisplayName, string? Title, string? Phone, long DepartmentId, bool Enabled, bool InAddressBook);

    public sealed record ContactRow(long Id, string Address, string DisplayName, string? Title, string? Phone, string? Organization);

    public sealed record Rule(long[] AppliesToDepartments, string[] AppliesToAccounts, long[] VisibleDepartments);

    /// <summary>One entry as the search sees it; <see cref="Result"/> is what it returns (built once).</summary>
    private sealed class Entry(AddressBookEntry result, string key, int department)
    {
        public readonly AddressBookEntry Result = result;
        public readonly string Key = key;

        /// <summary>PostgreSQL's lower() in the C locale: ASCII letters only.</summary>
        public readonly string? NameLower = result.DisplayName is null ? null : AsciiLower(result.DisplayName);

        public readonly string? Initials = result.DisplayName is null ? null : InitialsAsInSql(result.DisplayName);

        /// <summary>Dense index of the account's department; -1 for shared entries (contacts, lists: visible to all).</summary>
        public readonly int Department = department;
    }

    /// <summary>One domain's address book at one version; immutable, shared by every search on the silo.</summary>
    public sealed class Snapshot
    {
        public long Version { get; }

        public int EntryCount => _entries.Length;

        // Every visible-if-allowed entry (enabled accounts in the book, contacts, lists), in the final order of
        // the SQL (display name, then address; no name last), so that a posting list is in that order too.
        private readonly Entry[] _entries;
        private readonly int[] _byName, _byInitials, _byKey, _shared;
        private readonly Dictionary<string, int> _viewerDepartment = new(StringComparer.Ordinal);
        private readonly long[][] _departmentPaths;
        private readonly Rule[] _rules;
        private readonly Dictionary<long, int> _departmentIndex = [];
        private readonly Dictionary<int, int[]> _nameBigrams, _keyBigrams;
        private readonly ConcurrentDictionary<string, bool[]> _scopes = new(StringComparer.Ordinal);

        public Snapshot(SnapshotData data)
        {
            Version = data.Version;
            _rules = [.. data.Rules];
            var departments = data.Departments;
            _departmentPaths = new long[departments.Count][];
            for (var i = 0; i < departments.Count; i++)
            {
                _departmentIndex[departments[i].Id] = i;
                _departmentPaths[i] = departments[i].Path;
            }
            var byId = departments.ToDictionary(d => d.Id);
            var pathNames = new IReadOnlyList<string>[departments.Count];
            for (var i = 0; i < departments.Count; i++)
            {
                // The department's names from the root down (array_agg ORDER BY depth over the ids of its path).
                var names = departments[i].Path.Where(byId.ContainsKey).Select(id => byId[id]).OrderBy(d => d.Depth).Select(d => d.Name).ToArray();
                pathNames[i] = names;
            }

            var entries = new List<Entry>(data.Accounts.Count + data.Contacts.Count + data.Lists.Count);
            foreach (var a in data.Accounts)
            {
                var dept = _departmentIndex.TryGetValue(a.DepartmentId, out var di) ? di : -2;
                if (dept >= 0) _viewerDepartment[a.LocalPart] = dept;
                if (!a.Enabled || !a.InAddressBook) continue;
                entries.Add(new Entry(new AddressBookEntry(AddressBookEntryKind.Account, a.LocalPart + "@" + data.Domain, a.DisplayName, a.Title, a.Phone,
                    dept >= 0 ? pathNames[dept] : [], null, null), a.LocalPart, dept));
            }
            foreach (var c in data.Contacts)
                entries.Add(new Entry(new AddressBookEntry(AddressBookEntryKind.Contact, c.Address, c.DisplayName, c.Title, c.Phone, [], c.Organization, c.Id), c.Address, -1));
            foreach (var (name, displayName) in data.Lists)
                entries.Add(new Entry(new AddressBookEntry(AddressBookEntryKind.List, name + "@" + data.Domain, displayName, null, null, [], null, null), name, -1));
            entries.Sort(CompareFinal);
            _entries = [.. entries];

            var accounts = Enumerable.Range(0, _entries.Length).Where(i => _entries[i].Department != -1).ToArray();
            _shared = [.. Enumerable.Range(0, _entries.Length).Where(i => _entries[i].Department == -1)];
            _byName = [.. accounts.Where(i => _entries[i].NameLower is not null)];
            Array.Sort(_byName, (x, y) => Cmp(_entries[x].NameLower, _entries[y].NameLower) is var c and not 0 ? c : Cmp(_entries[x].Result.Address, _entries[y].Result.Address));
            _byInitials = [.. accounts.Where(i => _entries[i].Initials is not null)];
            Array.Sort(_byInitials, (x, y) => Cmp(_entries[x].Initials, _entries[y].Initials) is var c and not 0 ? c : x.CompareTo(y));
            _byKey = accounts;
            Array.Sort(_byKey, (x, y) => Cmp(_entries[x].Key, _entries[y].Key));
            _nameBigrams = Bigrams(i => _entries[i].NameLower);
            _keyBigrams = Bigrams(i => _entries[i].Key);
        }

        private Dictionary<int, int[]> Bigrams(Func<int, string?> text)
        {
            var lists = new Dictionary<int, List<int>>();
            var seen = new HashSet<int>();
            for (var i = 0; i < _entries.Length; i++)
            {
                var s = text(i);
                if (s is null) continue;
                seen.Clear();
                for (var j = 0; j + 1 < s.Length; j++)
                {
                    var g = s[j] << 16 | s[j + 1];
                    if (!seen.Add(g)) continue;
                    if (!lists.TryGetValue(g, out var list)) lists[g] = list = [];
                    list.Add(i);
                }
            }
            return lists.ToDictionary(p => p.Key, p => p.Value.ToArray());
        }

        /// <summary>What <see cref="AddressBookStore.SearchSqlAsync"/> answers, from memory.</summary>
        public List<AddressBookEntry> Search(string viewer, string query, int limit)
        {
            limit = Math.Clamp(limit, 1, AddressBookLimits.MaxSearchResults);
            var q = query.Trim();
            var ql = q.ToLowerInvariant();
            var qName = AsciiLower(q);
            var scope = Scope(viewer);
            var at = ql.IndexOf('@');
            if (at >= 0) return AddressSearch(scope, ql, ql[..at], limit);

            // The prefix arms: each the first `limit` visible accounts in its own index order; the shared entries
            // by name; merged without duplicates, then ordered by name and address.
            var found = new List<int>(limit * 4);
            Arm(_byName, e => e.NameLower!, qName, scope, limit, found);
            Arm(_byInitials, e => e.Initials!, ql, scope, limit, found);
            Arm(_byKey, e => e.Key, ql, scope, limit, found);
            var shared = 0;
            foreach (var i in _shared)
            {
                if (shared == limit) break;
                var e = _entries[i];
                if ((e.NameLower is { } n && n.StartsWith(qName, StringComparison.Ordinal))
                    || (e.Initials is { } s && s.StartsWith(ql, StringComparison.Ordinal))
                    || e.Key.StartsWith(ql, StringComparison.Ordinal))
                {
                    found.Add(i);
                    shared++;
                }
            }
            // Entry indexes are in the final order: sorting them sorts by name and address.
            found.Sort();
            var prefix = new List<int>(limit);
            foreach (var i in found)
            {
                if (prefix.Count == limit) break;
                if (prefix.Count == 0 || prefix[^1] != i) prefix.Add(i);
            }

            var result = new List<AddressBookEntry>(limit);
            foreach (var i in prefix) result.Add(_entries[i].Result);
            if (q.Length < 2 || prefix.Count >= limit) return result;

            // The substring stage: names (ASCII-lowered) containing q, local parts containing q lowered, not found
            // above; the first `limit` in name order (the SQL takes the GIN's first `limit`, in no stated order).
            var taken = new HashSet<int>(prefix);
            var more = new List<int>(limit);
            var byName = Candidates(_nameBigrams, qName);
            var byKey = Candidates(_keyBigrams, ql);
            int a = 0, b = 0;
            while (more.Count < limit && (a < byName.Length || b < byKey.Length))
            {
                int i;
                if (b >= byKey.Length || (a < byName.Length && byName[a] <= byKey[b]))
                {
                    i = byName[a++];
                    if (b < byKey.Length && byKey[b] == i) b++;
                }
                else i = byKey[b++];
                var e = _entries[i];
                if (!Visible(e, scope) || taken.Contains(i)) continue;
                if ((e.NameLower is { } n && n.Contains(qName, StringComparison.Ordinal)) || e.Key.Contains(ql, StringComparison.Ordinal)) more.Add(i);
            }
            foreach (var i in more)
            {
                if (result.Count == limit) break;
                result.Add(_entries[i].Result);
            }
            return result;
        }

        private List<AddressBookEntry> AddressSearch(bool[]? scope, string ql, string lp, int limit)
        {
            var found = new List<int>();
            var start = LowerBound(_byKey, e => e.Key, lp);
            for (var k = start; k < _byKey.Length; k++)
            {
                var e = _entries[_byKey[k]];
                if (!e.Key.StartsWith(lp, StringComparison.Ordinal)) break;
                if (Visible(e, scope) && e.Result.Address.StartsWith(ql, StringComparison.Ordinal)) found.Add(_byKey[k]);
            }
            foreach (var i in _shared)
            {
                var e = _entries[i];
                if (e.Key.StartsWith(lp, StringComparison.Ordinal) && e.Result.Address.StartsWith(ql, StringComparison.Ordinal)) found.Add(i);
            }
            found.Sort();
            return [.. found.Take(limit).Select(i => _entries[i].Result)];
        }

        private int[] Candidates(Dictionary<int, int[]> bigrams, string q)
        {
            // The rarest two-character window of q: every entry containing q holds it.
            int[]? best = null;
            for (var j = 0; j + 1 < q.Length; j++)
            {
                if (!bigrams.TryGetValue(q[j] << 16 | q[j + 1], out var list)) return [];
                if (best is null || list.Length < best.Length) best = list;
            }
            return best ?? [];
        }

        private void Arm(int[] order, Func<Entry, string> key, string prefix, bool[]? scope, int limit, List<int> found)
        {
            var taken = 0;
            for (var k = LowerBound(order, key, prefix); k < order.Length && taken < limit; k++)
            {
                var e = _entries[order[k]];
                if (!key(e).StartsWith(prefix, StringComparison.Ordinal)) break;
                if (!Visible(e, scope)) continue;
                found.Add(order[k]);
                taken++;
            }
        }

        private int LowerBound(int[] order, Func<Entry, string> key, string value)
        {
            int lo = 0, hi = order.Length;
            while (lo < hi)
            {
                var mid = (lo + hi) >>> 1;
                if (Cmp(key(_entries[order[mid]]), value) < 0) lo = mid + 1;
                else hi = mid;
            }
            return lo;
        }

        private static bool Visible(Entry e, bool[]? scope) => e.Department == -1 || scope is null || (e.Department >= 0 && scope[e.Department]);

        /// <summary>
        /// The departments whose accounts <paramref name="viewer"/> sees (null: the whole domain). A rule applies when it names the
        /// viewer or a department on the path of the viewer's department; the viewer sees the subtrees of what the applying rules
        /// make visible; no rule, the whole domain.
        /// </summary>
        private bool[]? Scope(string viewer)
        {
            var path = _viewerDepartment.TryGetValue(viewer, out var d) ? _departmentPaths[d] : [];
            List<int>? applying = null;
            for (var r = 0; r < _rules.Length; r++)
            {
                var rule = _rules[r];
                if (Array.IndexOf(rule.AppliesToAccounts, viewer) >= 0 || rule.AppliesToDepartments.Any(id => Array.IndexOf(path, id) >= 0)) (applying ??= []).Add(r);
            }
            if (applying is null) return null;
            List<int> chosen = applying;
            return _scopes.GetOrAdd(string.Join(',', chosen), _ =>
            {
                var visible = chosen.SelectMany(r => _rules[r].VisibleDepartments).ToHashSet();
                var scope = new bool[_departmentPaths.Length];
                for (var i = 0; i < scope.Length; i++) scope[i] = _departmentPaths[i].Any(visible.Contains);
                return scope;
            });
        }

        // ORDER BY display_name, address: PostgreSQL's C collation compares code points; NULL names last.
        private static int CompareFinal(Entry x, Entry y)
        {
            var (a, b) = (x.Result.DisplayName, y.Result.DisplayName);
            if (a is null != b is null) return a is null ? 1 : -1;
            var c = a is null ? 0 : Cmp(a, b);
            return c != 0 ? c : Cmp(x.Result.Address, y.Result.Address);
        }
    }

    /// <summary>Code-point order (what PostgreSQL's C collation gives UTF-8 text): UTF-16 order but for surrogates above U+E000-U+FFFF.</summary>
    public static int Cmp(string? a, string? b)
    {
        if (ReferenceEquals(a, b)) return 0;
        if (a is null) return 1;
        if (b is null) return -1;
        var n = Math.Min(a.Length, b.Length);
        for (var i = 0; i < n; i++)
        {
            int x = a[i], y = b[i];
            if (x == y) continue;
            if (x >= 0xD800 && y >= 0xD800)
            {
                x = x >= 0xE000 ? x - 0x800 : x + 0x2000;
                y = y >= 0xE000 ? y - 0x800 : y + 0x2000;
            }
            return x - y;
        }
        return a.Length - b.Length;
    }

    /// <summary>PostgreSQL's lower() under the C locale, which the database uses: A-Z only.</summary>
    public static string AsciiLower(string s)
    {
        foreach (var c in s)
        {
            if (char.IsAsciiLetterUpper(c)) return string.Create(s.Length, s, (span, src) =>
            {
                for (var i = 0; i < src.Length; i++) span[i] = char.IsAsciiLetterUpper(src[i]) ? (char)(src[i] | 0x20) : src[i];
            });
        }
        return s;
    }

    /// <summary>
    /// address_book_initials(name) of migration 0016, computed here: a Latin word gives its first letter, a hanzi of known initial
    /// its initial (<see cref="PinyinInitials"/>), a full-width capital Ａ-Ｚ its letter (the SQL keeps those), anything else nothing.
    /// </summary>
    public static string InitialsAsInSql(string name)
    {
        var sb = new System.Text.StringBuilder(name.Length);
        var inLatinWord = false;
        foreach (var c in name)
        {
            if (char.IsAsciiLetter(c))
            {
                if (!inLatinWord) sb.Append((char)(c | 0x20));
                inLatinWord = true;
                continue;
            }
            inLatinWord = false;
            if (PinyinInitials.Of(c) is { } initial) sb.Append(initial);
            else if (c is >= 'Ａ' and <= 'Ｚ') sb.Append((char)('a' + (c - 'Ａ')));
        }
        return sb.ToString();
    }
}

using GrainMail.Contracts.AddressBook;
using Npgsql;
using NpgsqlTypes;

namespace GrainMail.Storage.AddressBook;

/// <summary>
/// The address book as a read model over the directory tables (migration 0012, written by
/// DomainGrain), public contacts and visibility rules (migration 0016). Every read goes through
/// <see cref="VisibleSql"/>: the search API and CardDAV cannot disagree about what a user sees.
/// </summary>
public sealed class AddressBookStore(NpgsqlDataSource dataSource, AddressBookIndex? index = null)
{
    /// <summary>The silo's in-memory copy that answers autocomplete when current (null: every search is SQL).</summary>
    public AddressBookIndex? Index => index;

    /// <summary>
    /// The ONE query of what <c>@viewer</c> (a local part of <c>@domain</c>) may see, as the CTE
    /// <c>book</c>. Visibility, decided at query time:
    /// a rule applies to the viewer when it names the viewer's local part or a department whose
    /// subtree holds the viewer's department; the viewer sees the union of the subtrees every
    /// applying rule makes visible (rules only grant); when no rule applies, the whole domain.
    /// Accounts appear only when enabled and in_address_book (CTE <c>accounts</c>). Public contacts are
    /// shared with the whole domain by the administrator and are visible to every user, rules or not;
    /// so are mailing lists (migration 0014, kind 2, key = the list's local part): together <c>shared</c>.
    /// <c>book</c> is both; autocomplete reads <c>accounts</c> by index and <c>shared</c> (small) apart.
    /// </summary>
    public const string VisibleSql = """
        WITH viewer AS (
            SELECT d.path FROM directory_account a JOIN directory_department d ON d.id = a.department_id
            WHERE a.domain = @domain AND a.local_part = @viewer
        ), applicable AS (
            SELECT r.visible_departments FROM address_book_rule r
            WHERE r.domain = @domain
              AND (@viewer = ANY (r.applies_to_accounts)
                   OR r.applies_to_departments && coalesce((SELECT path FROM viewer), '{}'::bigint[]))
        ), scope AS MATERIALIZED (
            -- Judged once per query: the departments of every visible subtree as one array, so that an
            -- account is kept by its department id alone (no join per row, and an index scan in name
            -- order can stop at the limit instead of collecting every match first).
            SELECT NOT EXISTS (SELECT FROM applicable) AS whole_domain,
                   coalesce((SELECT array_agg(d.id) FROM directory_department d
                             WHERE d.domain = @domain
                               AND d.path && (SELECT array_agg(DISTINCT v) FROM applicable, unnest(applicable.visible_departments) v)),
                            '{}'::bigint[]) AS departments
        ), accounts AS NOT MATERIALIZED (
            SELECT 0 AS kind, a.local_part AS key, a.local_part || '@' || a.domain AS address, a.display_name,
                   a.title, a.phone, a.department_id, NULL::text AS organization, NULL::bigint AS contact_id
            FROM directory_account a
            WHERE a.domain = @domain AND a.enabled AND a.in_address_book
              AND ((SELECT whole_domain FROM scope) OR a.department_id = ANY ((SELECT departments FROM scope)::bigint[]))
        ), shared AS NOT MATERIALIZED (
            SELECT 1 AS kind, c.address AS key, c.address, c.display_name, c.title, c.phone, NULL::bigint AS department_id,
                   c.organization, c.id AS contact_id
            FROM address_book_contact c
            WHERE c.domain = @domain
            UNION ALL
            -- Mailing lists are public inside their domain, like the shared contacts.
            SELECT 2, l.name, l.name || '@' || l.domain, l.display_name, NULL, NULL, NULL::bigint, NULL, NULL::bigint
            FROM mailing_list l
            WHERE l.domain = @domain
        ), book AS NOT MATERIALIZED (
            SELECT * FROM accounts
            UNION ALL
            SELECT * FROM shared
        )
        """;

    // Department names from the root down, for the entries that survived the match and the limit.
    private const string Columns = """
        m.kind, m.address, m.display_name, m.title, m.phone, m.organization, m.contact_id,
        (SELECT array_agg(x.name ORDER BY x.depth) FROM directory_department p JOIN directory_department x ON x.id = ANY (p.path) WHERE p.id = m.department_id)
        """;

    // Prefix matches: one arm per kind of match over the accounts (name, pinyin initials, local
    // part), each a range on its own index, read in that index's order and cut at the limit, and one
    // over the shared entries (a few rows); merged, then sorted by name. An arm stops after `limit`
    // visible rows because visibility is a test of the row's department id (`scope`); the single OR of
    // the three ranges (the default until session 7) collected and sorted every match of a common
    // prefix ("user": 10,000 rows) to keep ten. Within an arm the ten kept are the first of that
    // kind of match in the index's order. The initials arm orders by the index expression alone: a
    // tie-breaker would make PostgreSQL compute the (costly) function for every row of an equal
    // group ("zw": 200 rows) instead of for the ten returned. Measured in docs/benchmarks.md (session 7).
    private static readonly string[] PrefixArms =
    [
        "accounts WHERE lower(display_name) >= lower(@q) AND lower(display_name) < (lower(@q) || chr(1114111)) ORDER BY lower(display_name), address",
        "accounts WHERE address_book_initials(display_name) >= @ql AND address_book_initials(display_name) < (@ql || chr(1114111)) ORDER BY address_book_initials(display_name)",
        "accounts WHERE key >= @ql AND key < (@ql || chr(1114111)) ORDER BY key",
        """
        shared WHERE (lower(display_name) >= lower(@q) AND lower(display_name) < (lower(@q) || chr(1114111)))
            OR (address_book_initials(display_name) >= @ql AND address_book_initials(display_name) < (@ql || chr(1114111)))
            OR (key >= @ql AND key < (@ql || chr(1114111)))
        ORDER BY display_name, address
        """,
    ];

    private static readonly string PrefixArmsUnion = string.Join(" UNION ", PrefixArms.Select(a => $"(SELECT * FROM {a} LIMIT @limit)"));

    // A whole address being typed: the local part's range, then the rest.
    private const string AddressMatch = "key >= @lp AND key < (@lp || chr(1114111)) AND starts_with(address, @ql)";

    // Anywhere in the name or the local part, asked only when prefixes found too few: the GIN
    // indexes of 1-4 character substrings find candidates holding EVERY four-character window of q
    // (q itself when shorter), then strpos confirms. Only the first window is far too loose when a
    // name pattern is common ("user 12" → every "User N" row), and the rules then filter thousands.
    private const string SubstringMatch = """
        (address_book_grams(display_name) @> (SELECT coalesce(array_agg(substr(lower(@q), i, 4)), ARRAY[lower(@q)]) FROM generate_series(1, char_length(@q) - 3) i)
            AND strpos(lower(display_name), lower(@q)) > 0)
        OR (address_book_grams(key) @> (SELECT coalesce(array_agg(substr(@ql, i, 4)), ARRAY[@ql]) FROM generate_series(1, char_length(@ql) - 3) i)
            AND strpos(key, @ql) > 0)
        """;

    // The substring stage, in the same statement as the prefixes: the first `limit` candidates as the
    // GIN bitmap yields them (not the alphabetically first: sorting all candidates of a common character,
    // "伟": 4,000 rows, cost 50 ms), skipping those the prefixes found, then sorted by name. It runs only
    // when the prefixes found fewer than `limit` and q may be a substring (@substr): a condition on
    // parameters and the prefix count alone, which PostgreSQL checks once (a one-time filter) before it
    // touches the GIN index at all.
    private static readonly string SubstringStage = $"""
        (SELECT * FROM book b
         WHERE @substr AND (SELECT count(*) FROM prefix) < @limit AND ({SubstringMatch})
           AND NOT EXISTS (SELECT FROM prefix p WHERE p.kind = b.kind AND p.address = b.address)
         LIMIT @limit)
        """;

    // The whole autocomplete as ONE statement (session 9): the viewer's scope is judged once, one round
    // trip, one bind. Until session 8 the substring stage was a second statement after the first had
    // come back, paying the scope, the round trip and its plan-cache batch again for most queries of a
    // restricted viewer. Prefix matches first (sorted by name), then substring matches (sorted by name).
    private static readonly string SearchSql = VisibleSql + $"""
        , prefix AS MATERIALIZED (
            SELECT * FROM ({PrefixArmsUnion}) u ORDER BY display_name, address LIMIT @limit
        ), more AS MATERIALIZED (
            SELECT * FROM {SubstringStage} s ORDER BY display_name, address
        ), m AS (
            SELECT 0 AS stage, * FROM prefix
            UNION ALL
            SELECT 1 AS stage, * FROM more
        )
        SELECT {Columns}
        FROM m
        ORDER BY m.stage, m.display_name, m.address
        LIMIT @limit
        """;

    // A whole address being typed: the local part's range, then the rest (no substring stage).
    private static readonly string AddressSql = VisibleSql + $"""
        SELECT {Columns}
        FROM (SELECT * FROM book WHERE {AddressMatch} ORDER BY display_name, address LIMIT @limit) m
        ORDER BY m.display_name, m.address
        """;

    private static readonly string AllSql = VisibleSql + $"""
        SELECT {Columns}
        FROM (SELECT * FROM book ORDER BY display_name, address) m
        ORDER BY m.display_name, m.address
        """;

    /// <summary>
    /// Autocomplete for <paramref name="viewer"/>: prefix matches first, then (when fewer than the limit) substring matches.
    /// From the silo's in-memory copy when it is current (one version read in PostgreSQL), else from SQL.
    /// </summary>
    public async Task<List<AddressBookEntry>> SearchAsync(string domain, string viewer, string query, int limit, CancellationToken ct = default) =>
        (index is null ? null : await index.TrySearchAsync(domain, viewer, query, limit, ct))
        ?? await SearchSqlAsync(domain, viewer, query, limit, ct);

    /// <summary>Autocomplete by SQL alone: the reference the in-memory copy must agree with (AddressBookIndexTests).</summary>
    public Task<List<AddressBookEntry>> SearchSqlAsync(string domain, string viewer, string query, int limit, CancellationToken ct = default)
    {
        limit = Math.Clamp(limit, 1, AddressBookLimits.MaxSearchResults);
        var q = query.Trim();
        var ql = q.ToLowerInvariant();
        var at = ql.IndexOf('@');
        return at >= 0
            ? QueryAsync(AddressSql, domain, viewer, limit, ct, c =>
            {
                c.Parameters.AddWithValue("ql", ql);
                c.Parameters.AddWithValue("lp", ql[..at]);
            })
            : QueryAsync(SearchSql, domain, viewer, limit, ct, c =>
            {
                c.Parameters.AddWithValue("q", q);
                c.Parameters.AddWithValue("ql", ql);
                c.Parameters.AddWithValue("substr", q.Length >= 2);
            });
    }

    /// <summary>Every entry <paramref name="viewer"/> may see.</summary>
    public Task<List<AddressBookEntry>> AllAsync(string domain, string viewer, CancellationToken ct = default) =>
        QueryAsync(AllSql, domain, viewer, null, ct, null);

    private async Task<List<AddressBookEntry>> QueryAsync(string sql, string domain, string viewer, int? limit, CancellationToken ct,
        Action<NpgsqlBatchCommand>? parameters)
    {
        // Prepared on the pooled connection (Npgsql keeps it there), and run under a GENERIC plan. Planning
        // this statement costs far more than running it (1.5-8 ms of bind against 0.1-1.2 ms of execution at
        // 100,000 accounts, docs/benchmarks.md, session 8 second pass: mostly the pinyin function's tables that the planner
        // inlines into every expression), and under the default plan_cache_mode PostgreSQL kept planning it
        // afresh on every execution, because a generic plan's estimate (unknown prefix, unknown limit) never
        // looks cheaper than a custom one's. The plan's shape does not depend on the values (index ranges in
        // index order, cut at the limit), so the generic plan is planned once per connection and reused.
        // The setting is the session's only for this batch: RESET follows in the same round trip.
        await using var connection = await dataSource.OpenConnectionAsync(ct);
        await using var batch = new NpgsqlBatch(connection);
        batch.BatchCommands.Add(new NpgsqlBatchCommand("SET plan_cache_mode = force_generic_plan"));
        var cmd = new NpgsqlBatchCommand(sql);
        batch.BatchCommands.Add(cmd);
        batch.BatchCommands.Add(new NpgsqlBatchCommand("RESET plan_cache_mode"));
        cmd.Parameters.AddWithValue("domain", domain);
        cmd.Parameters.AddWithValue("viewer", viewer);
        if (limit is { } n) cmd.Parameters.AddWithValue("limit", n);
        parameters?.Invoke(cmd);
        await batch.PrepareAsync(ct);
        await using var r = await batch.ExecuteReaderAsync(ct);
        var list = new List<AddressBookEntry>();
        while (await r.ReadAsync(ct))
        {
            list.Add(new AddressBookEntry(
                (AddressBookEntryKind)r.GetInt32(0),
                r.GetString(1),
                r.IsDBNull(2) ? null : r.GetString(2),
                r.IsDBNull(3) ? null : r.GetString(3),
                r.IsDBNull(4) ? null : r.GetString(4),
                r.IsDBNull(7) ? [] : r.GetFieldValue<string[]>(7),
                r.IsDBNull(5) ? null : r.GetString(5),
                r.IsDBNull(6) ? null : r.GetInt64(6)));
        }
        return list;
    }

    // ---- CardDAV sync states (migration 0036) ----

    /// <summary>States kept per viewer (a phone, a laptop and a tablet each hold their own last token).</summary>
    public const int SyncStatesPerViewer = 8;

    /// <summary>Stores what a sync token of <paramref name="viewer"/> stands for; older states beyond the few kept, and any unused for 30 days, go.</summary>
    public async Task SaveSyncStateAsync(string viewer, string ctag, byte[] cards, CancellationToken ct = default)
    {
        await using var cmd = dataSource.CreateCommand($"""
            INSERT INTO carddav_sync_state (viewer, ctag, cards) VALUES (@v, @c, @b)
            ON CONFLICT (viewer, ctag) DO UPDATE SET used_at = now();
            DELETE FROM carddav_sync_state s WHERE s.viewer = @v AND s.ctag NOT IN
                (SELECT k.ctag FROM carddav_sync_state k WHERE k.viewer = @v ORDER BY k.used_at DESC LIMIT {SyncStatesPerViewer});
            DELETE FROM carddav_sync_state WHERE used_at < now() - interval '30 days';
            """);
        cmd.Parameters.AddWithValue("v", viewer);
        cmd.Parameters.AddWithValue("c", ctag);
        cmd.Parameters.AddWithValue("b", cards);
        await cmd.ExecuteNonQueryAsync(ct);
    }

    /// <summary>The stored state a token of <paramref name="viewer"/> names (marked as used), or null.</summary>
    public async Task<byte[]?> SyncStateAsync(string viewer, string ctag, CancellationToken ct = default)
    {
        await using var cmd = dataSource.CreateCommand(
            "UPDATE carddav_sync_state SET used_at = now() WHERE viewer = @v AND ctag = @c RETURNING cards");
        cmd.Parameters.AddWithValue("v", viewer);
        cmd.Parameters.AddWithValue("c", ctag);
        return await cmd.ExecuteScalarAsync(ct) as byte[];
    }

    // ---- Public contacts ----

    private const string ContactColumns = "id, address, display_name, organization, title, phone, created_at, updated_at";

    /// <summary>Null when the domain already has a contact with that address.</summary>
    public async Task<PublicContact?> AddContactAsync(string domain, string address, string displayName, string? organization, string? title, string? phone,
        CancellationToken ct = default)
    {
        await using var cmd = dataSource.CreateCommand(
            $"INSERT INTO address_book_contact (domain, address, display_name, organization, title, phone) VALUES (@d, @a, @n, @o, @t, @p) " +
            $"ON CONFLICT (domain, address) DO NOTHING RETURNING {ContactColumns}");
        cmd.Parameters.AddWithValue("d", domain);
        cmd.Parameters.AddWithValue("a", address);
        cmd.Parameters.AddWithValue("n", displayName);
        AddNullable(cmd, "o", organization);
        AddNullable(cmd, "t", title);
        AddNullable(cmd, "p", phone);
        return (await ReadContacts(cmd, ct)).FirstOrDefault();
    }

    public async Task<List<PublicContact>> ListContactsAsync(string domain, CancellationToken ct = default)
    {
        await using var cmd = dataSource.CreateCommand($"SELECT {ContactColumns} FROM address_book_contact WHERE domain = @d ORDER BY display_name, address");
        cmd.Parameters.AddWithValue("d", domain);
        return await ReadContacts(cmd, ct);
    }

    public async Task<PublicContact?> GetContactAsync(string domain, long id, CancellationToken ct = default)
    {
        await using var cmd = dataSource.CreateCommand($"SELECT {ContactColumns} FROM address_book_contact WHERE domain = @d AND id = @id");
        cmd.Parameters.AddWithValue("d", domain);
        cmd.Parameters.AddWithValue("id", id);
        return (await ReadContacts(cmd, ct)).FirstOrDefault();
    }

    /// <summary>Replaces every field; false when no such contact. A duplicate address throws (unique violation).</summary>
    public async Task<bool> UpdateContactAsync(string domain, PublicContact c, CancellationToken ct = default)
    {
        await using var cmd = dataSource.CreateCommand(
            "UPDATE address_book_contact SET address = @a, display_name = @n, organization = @o, title = @t, phone = @p, updated_at = now() " +
            "WHERE domain = @d AND id = @id");
        cmd.Parameters.AddWithValue("d", domain);
        cmd.Parameters.AddWithValue("id", c.Id);
        cmd.Parameters.AddWithValue("a", c.Address);
        cmd.Parameters.AddWithValue("n", c.DisplayName);
        AddNullable(cmd, "o", c.Organization);
        AddNullable(cmd, "t", c.Title);
        AddNullable(cmd, "p", c.Phone);
        return await cmd.ExecuteNonQueryAsync(ct) == 1;
    }

    public async Task<bool> DeleteContactAsync(string domain, long id, CancellationToken ct = default)
    {
        await using var cmd = dataSource.CreateCommand("DELETE FROM address_book_contact WHERE domain = @d AND id = @id");
        cmd.Parameters.AddWithValue("d", domain);
        cmd.Parameters.AddWithValue("id", id);
        return await cmd.ExecuteNonQueryAsync(ct) == 1;
    }

    // ---- Visibility rules ----

    private const string RuleColumns = "id, name, applies_to_departments, applies_to_accounts, visible_departments, created_at";

    public async Task<VisibilityRule> AddRuleAsync(string domain, NewVisibilityRule rule, CancellationToken ct = default)
    {
        await using var cmd = dataSource.CreateCommand(
            "INSERT INTO address_book_rule (domain, name, applies_to_departments, applies_to_accounts, visible_departments) " +
            $"VALUES (@d, @n, @ad, @aa, @v) RETURNING {RuleColumns}");
        cmd.Parameters.AddWithValue("d", domain);
        AddNullable(cmd, "n", rule.Name);
        cmd.Parameters.AddWithValue("ad", rule.AppliesToDepartments.Distinct().ToArray());
        cmd.Parameters.AddWithValue("aa", rule.AppliesToAccounts.Distinct().ToArray());
        cmd.Parameters.AddWithValue("v", rule.VisibleDepartments.Distinct().ToArray());
        return (await ReadRules(cmd, ct))[0];
    }

    public async Task<List<VisibilityRule>> ListRulesAsync(string domain, CancellationToken ct = default)
    {
        await using var cmd = dataSource.CreateCommand($"SELECT {RuleColumns} FROM address_book_rule WHERE domain = @d ORDER BY id");
        cmd.Parameters.AddWithValue("d", domain);
        return await ReadRules(cmd, ct);
    }

    public async Task<bool> DeleteRuleAsync(string domain, long id, CancellationToken ct = default)
    {
        await using var cmd = dataSource.CreateCommand("DELETE FROM address_book_rule WHERE domain = @d AND id = @id");
        cmd.Parameters.AddWithValue("d", domain);
        cmd.Parameters.AddWithValue("id", id);
        return await cmd.ExecuteNonQueryAsync(ct) == 1;
    }

    /// <summary>Those of <paramref name="ids"/> that are not departments of <paramref name="domain"/>.</summary>
    public async Task<List<long>> UnknownDepartmentsAsync(string domain, IReadOnlyCollection<long> ids, CancellationToken ct = default)
    {
        if (ids.Count == 0) return [];
        await using var cmd = dataSource.CreateCommand(
            "SELECT i FROM unnest(@ids) i WHERE NOT EXISTS (SELECT FROM directory_department d WHERE d.domain = @d AND d.id = i) ORDER BY i");
        cmd.Parameters.AddWithValue("d", domain);
        cmd.Parameters.AddWithValue("ids", ids.Distinct().ToArray());
        await using var r = await cmd.ExecuteReaderAsync(ct);
        var unknown = new List<long>();
        while (await r.ReadAsync(ct)) unknown.Add(r.GetInt64(0));
        return unknown;
    }

    private static void AddNullable(NpgsqlCommand cmd, string name, string? value) =>
        cmd.Parameters.Add(new NpgsqlParameter(name, NpgsqlDbType.Text) { Value = (object?)value ?? DBNull.Value });

    private static async Task<List<PublicContact>> ReadContacts(NpgsqlCommand cmd, CancellationToken ct)
    {
        await using var r = await cmd.ExecuteReaderAsync(ct);
        var list = new List<PublicContact>();
        while (await r.ReadAsync(ct))
        {
            list.Add(new PublicContact(r.GetInt64(0), r.GetString(1), r.GetString(2),
                r.IsDBNull(3) ? null : r.GetString(3), r.IsDBNull(4) ? null : r.GetString(4), r.IsDBNull(5) ? null : r.GetString(5),
                r.GetFieldValue<DateTimeOffset>(6), r.GetFieldValue<DateTimeOffset>(7)));
        }
        return list;
    }

    private static async Task<List<VisibilityRule>> ReadRules(NpgsqlCommand cmd, CancellationToken ct)
    {
        await using var r = await cmd.ExecuteReaderAsync(ct);
        var list = new List<VisibilityRule>();
        while (await r.ReadAsync(ct))
        {
            list.Add(new VisibilityRule(r.GetInt64(0), r.IsDBNull(1) ? null : r.GetString(1),
                r.GetFieldValue<long[]>(2), r.GetFieldValue<string[]>(3), r.GetFieldValue<long[]>(4), r.GetFieldValue<DateTimeOffset>(5)));
        }
        return list;
    }
}

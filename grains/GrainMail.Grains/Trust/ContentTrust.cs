using System.Diagnostics;
using GrainMail.Contracts;
using GrainMail.Storage.Trust;
using GrainMail.Trust.Content;
using GrainMail.Trust.Results;
using GrainMail.Trust.Scoring;
using MimeKit;

namespace GrainMail.Grains.Trust;

/// <summary>The content classifier's result for one model: the verdict, its symbol and how long it took.</summary>
public sealed record ContentResult(ContentVerdict Verdict, Symbol? Symbol, int Tokens, TimeSpan Elapsed);

/// <summary>
/// The content step of the MX path and of learning: tokenize once, read every model's counts for those
/// tokens and the recipients' allow/block lists in one round trip (<see cref="ContentStore.ReadForMessageAsync"/>),
/// then per recipient mailbox the classifier's symbol (global model plus the mailbox's own), the list
/// symbols, and GTUBE.
/// </summary>
public sealed class ContentTrust(ContentStore store, GrainMail.Trust.Inbound.TrustOptions options)
{
    private readonly GlobalModelCopy? _global = options.GlobalModelCopy ? new(store) : null;

    /// <summary>How long "this model is empty" / "this scope has no list entries" is believed without asking again.
    /// Learning and list changes on this silo end it at once; on another silo they are seen after this long.</summary>
    public static readonly TimeSpan AbsenceFreshness = TimeSpan.FromSeconds(5);

    // Models (owner) and list scopes the last query found nothing for, until when (Environment.TickCount64).
    // When every model and scope a message would read is known empty, the query is skipped: the result is the
    // one an empty answer gives. The MX path paid a round trip per message for mailboxes without a model.
    // Keyed by (kind, name), kind 'm' a model and 'l' a list scope: no key string is made per message (session 16).
    private readonly System.Collections.Concurrent.ConcurrentDictionary<(char Kind, string Name), long> _absentUntil = new();

    // Bumped by every learn and list change: an answer read before one must not be remembered as "empty" after it.
    private long _changes;

    /// <summary>The extra symbols of each recipient mailbox, and the classifier's time for the message.</summary>
    public ValueTask<(Dictionary<string, List<Symbol>> Symbols, TimeSpan Elapsed)> EvaluateAsync(MimeMessage message, string? envelopeSender,
        InboundVerdicts verdicts, IReadOnlyList<string> mailboxes, CancellationToken ct = default) =>
        EvaluateAsync(message, envelopeSender, verdicts, mailboxes, null, ct);

    /// <summary>The same, with the message's text parts already decoded (<see cref="DecodedTexts.Of"/>):
    /// the GTUBE test and the tokenizer read those instead of decoding every part again. A ValueTask: with the models
    /// and lists known (the MX path's usual case) it completes without waiting, and then without a Task per message.</summary>
    public async ValueTask<(Dictionary<string, List<Symbol>> Symbols, TimeSpan Elapsed)> EvaluateAsync(MimeMessage message, string? envelopeSender,
        InboundVerdicts verdicts, IReadOnlyList<string> mailboxes, DecodedTexts? texts, CancellationToken ct = default)
    {
        var started = Stopwatch.GetTimestamp();
        // The global model from this silo's copy when it is known current (GlobalModelCopy): then only the recipients'
        // own models are read from PostgreSQL, and none when they are known empty.
        var (copy, copyRows) = _global is null ? (null, 0) : await _global.CurrentAsync(ct);
        // The models to read (the global one first when there is no current copy) and the list scopes (the mailboxes, then
        // their domains), each once, in that order; made by loops, since every MX message makes them.
        var owners = DistinctOf(copy is null ? ContentStore.GlobalOwner : null, mailboxes, withDomains: false);
        var scopes = DistinctOf(null, mailboxes, withDomains: true);
        List<TokenRow> rows;
        List<SenderListRow> lists;
        long[] tokens;
        if (KnownEmpty(owners, scopes))
        {
            // No model to ask: not even tokenized when the global model is empty too, since an untrained model says
            // nothing (ContentSymbols.For, no clue without counts), whatever the tokens.
            (rows, lists, tokens) = ([], [], copy is null || copyRows == 0 ? [] : ContentClassifier.HashedTokens(message, texts));
        }
        else
        {
            tokens = ContentClassifier.HashedTokens(message, texts);
            var changes = Interlocked.Read(ref _changes);
            (rows, lists) = await store.ReadForMessageAsync(owners, tokens, scopes, ct);
            if (Interlocked.Read(ref _changes) == changes) RememberEmpty(owners, scopes, rows, lists);
        }
        var models = Models(rows);
        var global = copy ?? models.GetValueOrDefault(ContentStore.GlobalOwner) ?? ModelCounts.Empty;
        var gtube = texts is null ? Gtube.Contains(message) : Gtube.Contains(texts.Texts);
        string? from = null;
        var fromCount = 0;
        foreach (var m in message.From.Mailboxes)
            if (++fromCount == 1) from = m.Address;
        if (fromCount != 1) from = null;
        var result = new Dictionary<string, List<Symbol>>(StringComparer.Ordinal);
        foreach (var mailbox in mailboxes)
        {
            var symbols = new List<Symbol>();
            if (gtube) symbols.Add(new Symbol(Gtube.Symbol, Gtube.Weight));
            if (ContentSymbols.For(ContentClassifier.Classify(tokens, global, models.GetValueOrDefault(mailbox))) is { } bayes) symbols.Add(bayes);
            // No list entries (most recipients): no list symbol, without the empty lists.
            if (lists.Count > 0)
            {
                var domain = MailAddress.DomainOf(mailbox);
                var entries = lists.Where(l => l.Scope == mailbox || l.Scope == domain)
                    .Select(l => new SenderListEntry(l.Scope == mailbox ? ListScope.User : ListScope.Domain, l.Allow, l.Entry)).ToList();
                symbols.AddRange(SenderLists.Evaluate(entries, from, envelopeSender, verdicts));
            }
            result[mailbox] = symbols;
        }
        return (result, Stopwatch.GetElapsedTime(started));
    }

    /// <summary>What the classifier says of a message for one mailbox (or the global model alone).</summary>
    public async Task<ContentResult> ClassifyAsync(MimeMessage message, string? mailbox, CancellationToken ct = default)
    {
        var watch = Stopwatch.StartNew();
        var tokens = ContentClassifier.HashedTokens(message);
        string[] owners = mailbox is null ? [ContentStore.GlobalOwner] : [ContentStore.GlobalOwner, mailbox];
        var (rows, _) = await store.ReadForMessageAsync(owners, tokens, [], ct);
        var models = Models(rows);
        var verdict = ContentClassifier.Classify(tokens, models.GetValueOrDefault(ContentStore.GlobalOwner) ?? ModelCounts.Empty,
            mailbox is null ? null : models.GetValueOrDefault(mailbox));
        var symbol = Gtube.Contains(message) ? new Symbol(Gtube.Symbol, Gtube.Weight) : ContentSymbols.For(verdict);
        return new ContentResult(verdict, symbol, tokens.Length, watch.Elapsed);
    }

    /// <summary>Learns a message for a model (global: <see cref="ContentStore.GlobalOwner"/>), keyed by <paramref name="key"/>.</summary>
    public async Task<LearnOutcome> LearnAsync(string owner, byte[] key, MimeMessage message, bool spam, CancellationToken ct = default)
    {
        try
        {
            return await store.LearnAsync(owner, key, ContentClassifier.HashedTokens(message), spam, ct);
        }
        finally
        {
            ModelChanged(owner);
        }
    }

    /// <summary>A model's counts were changed through this silo (a learn, a reset): nothing remembered of it is used any more.</summary>
    public void ModelChanged(string owner)
    {
        Interlocked.Increment(ref _changes);
        _absentUntil.TryRemove(ModelKey(owner), out _);
        if (owner == ContentStore.GlobalOwner) _global?.Changed();
    }

    /// <summary>An allow/block list entry of <paramref name="scope"/> (a mailbox or a domain) was added or removed.</summary>
    public void ListChanged(string scope)
    {
        Interlocked.Increment(ref _changes);
        _absentUntil.TryRemove(ListKey(scope), out _);
    }

    /// <summary><paramref name="first"/> (when given), the mailboxes and, with <paramref name="withDomains"/>, their domains:
    /// each once (ordinal), in that order.</summary>
    private static string[] DistinctOf(string? first, IReadOnlyList<string> mailboxes, bool withDomains)
    {
        var list = new List<string>(mailboxes.Count * (withDomains ? 2 : 1) + 1);
        if (first is not null) list.Add(first);
        foreach (var m in mailboxes)
            if (!list.Contains(m)) list.Add(m);
        if (withDomains)
        {
            foreach (var m in mailboxes)
                if (MailAddress.DomainOf(m) is var d && !list.Contains(d)) list.Add(d);
        }
        return [.. list];
    }

    private static (char, string) ModelKey(string owner) => ('m', owner);

    private static (char, string) ListKey(string scope) => ('l', scope);

    private bool KnownEmpty(string[] owners, string[] scopes)
    {
        var now = Environment.TickCount64;
        foreach (var o in owners)
            if (!_absentUntil.TryGetValue(ModelKey(o), out var until) || now >= until) return false;
        foreach (var sc in scopes)
            if (!_absentUntil.TryGetValue(ListKey(sc), out var until) || now >= until) return false;
        return true;
    }

    private void RememberEmpty(string[] owners, string[] scopes, List<TokenRow> rows, List<SenderListRow> lists)
    {
        // Every model that exists has its totals row (token 0), which the query always asks for.
        var until = Environment.TickCount64 + (long)AbsenceFreshness.TotalMilliseconds;
        if (_absentUntil.Count > 100_000) _absentUntil.Clear();
        foreach (var o in owners)
        {
            if (rows.Exists(r => r.Owner == o)) _absentUntil.TryRemove(ModelKey(o), out _);
            else _absentUntil[ModelKey(o)] = until;
        }
        foreach (var sc in scopes)
        {
            if (lists.Exists(l => l.Scope == sc)) _absentUntil.TryRemove(ListKey(sc), out _);
            else _absentUntil[ListKey(sc)] = until;
        }
    }

    private static Dictionary<string, ModelCounts> Models(List<TokenRow> rows)
    {
        var models = new Dictionary<string, ModelCounts>(StringComparer.Ordinal);
        foreach (var group in rows.GroupBy(r => r.Owner, StringComparer.Ordinal))
        {
            var tokens = new Dictionary<long, TokenCounts>();
            int spam = 0, ham = 0;
            foreach (var r in group)
            {
                if (r.Token == ContentClassifier.TotalsToken) (spam, ham) = (r.Spam, r.Ham);
                else tokens[r.Token] = new TokenCounts(r.Spam, r.Ham);
            }
            models[group.Key] = new ModelCounts(spam, ham, tokens);
        }
        return models;
    }
}

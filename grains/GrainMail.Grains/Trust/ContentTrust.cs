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
public sealed class ContentTrust(ContentStore store)
{
    /// <summary>The extra symbols of each recipient mailbox, and the classifier's time for the message.</summary>
    public async Task<(Dictionary<string, List<Symbol>> Symbols, TimeSpan Elapsed)> EvaluateAsync(MimeMessage message, string? envelopeSender,
        InboundVerdicts verdicts, IReadOnlyList<string> mailboxes, CancellationToken ct = default)
    {
        var watch = Stopwatch.StartNew();
        var tokens = ContentClassifier.HashedTokens(message);
        var owners = mailboxes.Prepend(ContentStore.GlobalOwner).Distinct(StringComparer.Ordinal).ToArray();
        var scopes = mailboxes.Concat(mailboxes.Select(MailAddress.DomainOf)).Distinct(StringComparer.Ordinal).ToArray();
        var (rows, lists) = await store.ReadForMessageAsync(owners, tokens, scopes, ct);
        var models = Models(rows);
        var global = models.GetValueOrDefault(ContentStore.GlobalOwner) ?? ModelCounts.Empty;
        var gtube = Gtube.Contains(message);
        var from = message.From.Mailboxes.Count() == 1 ? message.From.Mailboxes.First().Address : null;
        var result = new Dictionary<string, List<Symbol>>(StringComparer.Ordinal);
        foreach (var mailbox in mailboxes)
        {
            var symbols = new List<Symbol>();
            if (gtube) symbols.Add(new Symbol(Gtube.Symbol, Gtube.Weight));
            if (ContentSymbols.For(ContentClassifier.Classify(tokens, global, models.GetValueOrDefault(mailbox))) is { } bayes) symbols.Add(bayes);
            var domain = MailAddress.DomainOf(mailbox);
            var entries = lists.Where(l => l.Scope == mailbox || l.Scope == domain)
                .Select(l => new SenderListEntry(l.Scope == mailbox ? ListScope.User : ListScope.Domain, l.Allow, l.Entry)).ToList();
            symbols.AddRange(SenderLists.Evaluate(entries, from, envelopeSender, verdicts));
            result[mailbox] = symbols;
        }
        return (result, watch.Elapsed);
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
    public Task<LearnOutcome> LearnAsync(string owner, byte[] key, MimeMessage message, bool spam, CancellationToken ct = default) =>
        store.LearnAsync(owner, key, ContentClassifier.HashedTokens(message), spam, ct);

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

using Microsoft.Extensions.Caching.Memory;

namespace GrainMail.Gateways.Http.CardDav;

/// <summary>
/// What a client's sync token stood for (RFC 6578): the book's collection tag names a state, and
/// this process remembers, per user and tag, the state's cards (resource name → ETag) for a day,
/// bounded in cards. The difference between a remembered state and the current book is the
/// answer: new or changed cards, and removed ones as 404 (a card that left the viewer's
/// visibility is removed for that viewer, whatever happened to the account). A token this process
/// does not remember (evicted, another gateway, a restart) is refused with DAV:valid-sync-token,
/// which makes the client sync from the start (RFC 6578 3.2) — never a wrong answer.
/// </summary>
public sealed class CardDavSync : IDisposable
{
    /// <summary>The prefix of every token: a URI, as RFC 6578 4 wants.</summary>
    public const string TokenPrefix = "urn:grainmail:carddav-sync:";

    /// <summary>Cards remembered over all states: 100,000-card books for twenty users, or many small ones.</summary>
    public const long MaxCards = 2_000_000;

    private readonly MemoryCache _states = new(new MemoryCacheOptions { SizeLimit = MaxCards });

    /// <summary>Stands for the current state when a token names it (nothing to compare).</summary>
    public static readonly IReadOnlyDictionary<string, string> Unchanged = new Dictionary<string, string>();

    public static string Token(string ctag) => TokenPrefix + ctag;

    /// <summary>The collection tag a token names; null when it is not one of ours.</summary>
    public static string? TagOf(string token) =>
        token.StartsWith(TokenPrefix, StringComparison.Ordinal) && token.Length > TokenPrefix.Length ? token[TokenPrefix.Length..] : null;

    /// <summary>Remembers the current state of <paramref name="user"/>'s book, so that its token can be asked about later.</summary>
    public void Remember(string user, DavBook book)
    {
        var key = (user, book.CTag);
        if (_states.TryGetValue(key, out _)) return;
        var cards = new Dictionary<string, string>(book.Cards.Count, StringComparer.Ordinal);
        foreach (var c in book.Cards) cards[c.ResourceName] = c.ETag;
        _states.Set(key, cards, new MemoryCacheEntryOptions { Size = cards.Count + 1, SlidingExpiration = TimeSpan.FromDays(1) });
    }

    /// <summary>The state <paramref name="user"/>'s token named, or null when not remembered.</summary>
    public IReadOnlyDictionary<string, string>? Recall(string user, string ctag) =>
        _states.TryGetValue((user, ctag), out Dictionary<string, string>? cards) ? cards : null;

    /// <summary>Cards added or changed since <paramref name="before"/>, and the names of those removed.</summary>
    public static (List<VCard> Changed, List<string> Removed) Difference(IReadOnlyDictionary<string, string> before, DavBook now)
    {
        var changed = now.Cards.Where(c => !before.TryGetValue(c.ResourceName, out var etag) || etag != c.ETag).ToList();
        var removed = before.Keys.Where(name => !now.ByName.ContainsKey(name)).Order(StringComparer.Ordinal).ToList();
        return (changed, removed);
    }

    public void Dispose() => _states.Dispose();
}

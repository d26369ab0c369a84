using System.IO.Compression;
using System.Text;
using GrainMail.Contracts.AddressBook;
using Microsoft.Extensions.Caching.Memory;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Orleans.Concurrency;

namespace GrainMail.Gateways.Http.CardDav;

/// <summary>
/// What a client's sync token stood for (RFC 6578): the book's collection tag names a state, and
/// the state's cards (resource name → ETag) are kept per user and tag in PostgreSQL (migration
/// 0036, through the address-book reader grain), with this process's memory in front. So a token
/// stays valid when the gateway restarts or the client's next request lands on another gateway.
/// The difference between a remembered state and the current book is the answer: new or changed
/// cards, and removed ones as 404 (a card that left the viewer's visibility is removed for that
/// viewer, whatever happened to the account). A token nobody remembers (trimmed, or never ours) is
/// refused with DAV:valid-sync-token, which makes the client sync from the start (RFC 6578 3.2).
/// </summary>
public sealed class CardDavSync(IGrainFactory? grains = null, ILogger<CardDavSync>? logger = null) : IDisposable
{
    /// <summary>The prefix of every token: a URI, as RFC 6578 4 wants.</summary>
    public const string TokenPrefix = "urn:grainmail:carddav-sync:";

    /// <summary>Cards remembered in memory over all states: 100,000-card books for twenty users, or many small ones.</summary>
    public const long MaxCards = 2_000_000;

    private readonly MemoryCache _states = new(new MemoryCacheOptions { SizeLimit = MaxCards });
    private readonly ILogger _logger = logger ?? NullLogger<CardDavSync>.Instance;

    /// <summary>Stands for the current state when a token names it (nothing to compare).</summary>
    public static readonly IReadOnlyDictionary<string, string> Unchanged = new Dictionary<string, string>();

    public static string Token(string ctag) => TokenPrefix + ctag;

    /// <summary>The collection tag a token names; null when it is not one of ours.</summary>
    public static string? TagOf(string token) =>
        token.StartsWith(TokenPrefix, StringComparison.Ordinal) && token.Length > TokenPrefix.Length ? token[TokenPrefix.Length..] : null;

    /// <summary>Remembers the current state of <paramref name="user"/>'s book in this process; true when it was new here.</summary>
    public bool Remember(string user, DavBook book)
    {
        var key = (user, book.CTag);
        if (_states.TryGetValue(key, out _)) return false;
        var cards = new Dictionary<string, string>(book.Cards.Count, StringComparer.Ordinal);
        foreach (var c in book.Cards) cards[c.ResourceName] = c.ETag;
        Keep(key, cards);
        return true;
    }

    /// <summary>The state <paramref name="user"/>'s token named, as this process remembers it, or null.</summary>
    public IReadOnlyDictionary<string, string>? Recall(string user, string ctag) =>
        _states.TryGetValue((user, ctag), out Dictionary<string, string>? cards) ? cards : null;

    /// <summary>
    /// Remembers the state here and, the first time this process sees it, in PostgreSQL. A failed
    /// write costs durability only (the token is still good on this gateway), so it is logged, not thrown.
    /// </summary>
    public async Task RememberAsync(string user, DavBook book)
    {
        if (!Remember(user, book) || grains is null) return;
        try
        {
            await grains.GetGrain<IAddressBookReaderGrain>(0).SaveSyncState(user, book.CTag, Encode(book).AsImmutable());
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            _logger.LogWarning(e, "CardDAV sync state of {User} not stored; its token is good on this gateway only", user);
        }
    }

    /// <summary>The state a token named: from this process's memory, else from PostgreSQL; null when unknown.</summary>
    public async Task<IReadOnlyDictionary<string, string>?> RecallAsync(string user, string ctag)
    {
        if (Recall(user, ctag) is { } here) return here;
        if (grains is null || await grains.GetGrain<IAddressBookReaderGrain>(0).SyncState(user, ctag) is not { } stored) return null;
        var cards = Decode(stored);
        Keep((user, ctag), cards);
        return cards;
    }

    private void Keep((string, string) key, Dictionary<string, string> cards) =>
        _states.Set(key, cards, new MemoryCacheEntryOptions { Size = cards.Count + 1, SlidingExpiration = TimeSpan.FromDays(1) });

    /// <summary>The stored form: "name TAB etag" lines, gzipped (names and ETags hold neither tab nor line break).</summary>
    public static byte[] Encode(DavBook book)
    {
        using var buffer = new MemoryStream();
        using (var zip = new GZipStream(buffer, CompressionLevel.Fastest, leaveOpen: true))
        using (var writer = new StreamWriter(zip, new UTF8Encoding(false)))
        {
            foreach (var c in book.Cards)
            {
                writer.Write(c.ResourceName);
                writer.Write('\t');
                writer.Write(c.ETag);
                writer.Write('\n');
            }
        }
        return buffer.ToArray();
    }

    public static Dictionary<string, string> Decode(byte[] stored)
    {
        var cards = new Dictionary<string, string>(StringComparer.Ordinal);
        using var zip = new GZipStream(new MemoryStream(stored, writable: false), CompressionMode.Decompress);
        using var reader = new StreamReader(zip, Encoding.UTF8);
        while (reader.ReadLine() is { } line)
        {
            var tab = line.IndexOf('\t');
            if (tab > 0) cards[line[..tab]] = line[(tab + 1)..];
        }
        return cards;
    }

    /// <summary>Cards added or changed since <paramref name="before"/>, and the names of those removed.</summary>
    public static (List<VCard> Changed, List<string> Removed) Difference(IReadOnlyDictionary<string, string> before, DavBook now)
    {
        var changed = now.Cards.Where(c => !before.TryGetValue(c.ResourceName, out var etag) || etag != c.ETag).ToList();
        var removed = before.Keys.Where(name => !now.ByName.ContainsKey(name)).Order(StringComparer.Ordinal).ToList();
        return (changed, removed);
    }

    public void Dispose() => _states.Dispose();
}

using GrainMail.Gateways.Imap.Commands;
using GrainMail.Gateways.Imap.Search;

namespace GrainMail.Gateways.Imap;

// SEARCH and UID SEARCH.
internal sealed partial class ImapSession
{
    private async Task<bool> SearchAsync(SearchCommand c)
    {
        var (tag, uid, usesModSeq) = (c.Tag, c.Uid, c.UsesModSeq);
        if (c.Query is not { } query) return No(tag, "[BADCHARSET (UTF-8 US-ASCII)] Unsupported charset");
        if (usesModSeq) _condstore = true;
        await SyncAsync(allowExpunge: uid);
        var view = _selected!;
        var hits = new List<long>();
        long highestModSeq = 0;
        var largestUid = view.Messages.Count == 0 ? 0 : view.Messages[^1].Uid;
        // Keys that read messages take a slot of the gateway-wide budget and count what they read.
        using var lease = query.NeedsContent ? await _server.SearchBudget.EnterAsync(_connection.ConnectionClosed) : null;
        try
        {
            for (var i = 0; i < view.Messages.Count; i++)
            {
                var m = view.Messages[i];
                var context = new SearchContext(i + 1, m, view.IsRecent(m), largestUid, view.Messages.Count, () =>
                {
                    lease?.Charge(m.Blob.Size);
                    return _server.Messages.GetAsync(m.Blob);
                });
                if (!await query.MatchAsync(context)) continue;
                hits.Add(uid ? m.Uid : i + 1);
                highestModSeq = Math.Max(highestModSeq, m.ModSeq);
            }
        }
        catch (SearchLimitException e)
        {
            // RFC 5530 LIMIT: the server refuses work beyond a set bound; nothing partial is sent.
            return No(tag, $"[LIMIT] {e.Message}; narrow the search (UID range, dates, flags)");
        }
        _out.Raw("* SEARCH");
        foreach (var h in hits) _out.Raw(" ").Number(h);
        if (usesModSeq && hits.Count > 0) _out.Raw(" (MODSEQ ").Number(highestModSeq).Raw(")");
        _out.Crlf();
        return Ok(tag, uid ? "UID SEARCH completed" : "SEARCH completed");
    }
}

using GrainMail.Gateways.Imap.Commands;
using GrainMail.Gateways.Imap.Protocol;
using GrainMail.Gateways.Imap.Search;

namespace GrainMail.Gateways.Imap.Execution;

/// <summary>SEARCH and UID SEARCH (RFC 3501 6.4.4, RFC 9051 6.4.4), with CONDSTORE's MODSEQ key (RFC 7162 3.1.5).</summary>
internal sealed class SearchCommands(ImapSessionContext session)
{
    private ImapWriter Out => session.Out;

    public async Task<bool> SearchAsync(SearchCommand c)
    {
        var (tag, uid, usesModSeq) = (c.Tag, c.Uid, c.UsesModSeq);
        if (c.Query is not { } query) return session.No(tag, "[BADCHARSET (UTF-8 US-ASCII)] Unsupported charset");
        if (usesModSeq) session.Condstore = true;
        await session.Updates.SyncAsync(allowExpunge: uid);
        var view = session.Selected!;
        var hits = new List<long>();
        long highestModSeq = 0;
        var largestUid = view.Messages.Count == 0 ? 0 : view.Messages[^1].Uid;
        // Keys that read messages take a slot of the gateway-wide budget and count what they read.
        using var lease = query.NeedsContent ? await session.Server.SearchBudget.EnterAsync(session.ConnectionClosed) : null;
        try
        {
            for (var i = 0; i < view.Messages.Count; i++)
            {
                var m = view.Messages[i];
                var context = new SearchContext(i + 1, m, view.IsRecent(m), largestUid, view.Messages.Count, () =>
                {
                    lease?.Charge(m.Blob.Size);
                    return session.Server.Messages.GetAsync(m.Blob);
                });
                if (!await query.MatchAsync(context)) continue;
                hits.Add(uid ? m.Uid : i + 1);
                highestModSeq = Math.Max(highestModSeq, m.ModSeq);
            }
        }
        catch (SearchLimitException e)
        {
            // RFC 5530 LIMIT: the server refuses work beyond a set bound; nothing partial is sent.
            return session.No(tag, $"[LIMIT] {e.Message}; narrow the search (UID range, dates, flags)");
        }
        Out.Raw("* SEARCH");
        foreach (var h in hits) Out.Raw(" ").Number(h);
        if (usesModSeq && hits.Count > 0) Out.Raw(" (MODSEQ ").Number(highestModSeq).Raw(")");
        Out.Crlf();
        return session.Ok(tag, uid ? "UID SEARCH completed" : "SEARCH completed");
    }
}

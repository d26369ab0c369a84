using GrainMail.Gateways.Imap.Protocol;
using GrainMail.Gateways.Imap.Search;

namespace GrainMail.Gateways.Imap;

// SEARCH and UID SEARCH.
internal sealed partial class ImapSession
{
    private async Task<bool> SearchAsync(string tag, ImapParser p, bool uid)
    {
        p.ExpectSpace();
        if (p.TryConsumeKeyword("CHARSET"))
        {
            var charset = p.ReadAString();
            if (!charset.Equals("UTF-8", StringComparison.OrdinalIgnoreCase) && !charset.Equals("US-ASCII", StringComparison.OrdinalIgnoreCase))
                return No(tag, "[BADCHARSET (UTF-8 US-ASCII)] Unsupported charset");
            p.ExpectSpace();
        }
        var query = SearchKey.ParseProgram(p, out var usesModSeq);
        if (usesModSeq) _condstore = true;
        await SyncAsync(allowExpunge: uid);
        var view = _selected!;
        var hits = new List<long>();
        long highestModSeq = 0;
        var largestUid = view.Messages.Count == 0 ? 0 : view.Messages[^1].Uid;
        for (var i = 0; i < view.Messages.Count; i++)
        {
            var m = view.Messages[i];
            var context = new SearchContext(i + 1, m, view.IsRecent(m), largestUid, view.Messages.Count, () => _server.Messages.GetAsync(m.Blob));
            if (!await query.MatchAsync(context)) continue;
            hits.Add(uid ? m.Uid : i + 1);
            highestModSeq = Math.Max(highestModSeq, m.ModSeq);
        }
        _out.Raw("* SEARCH");
        foreach (var h in hits) _out.Raw(" ").Number(h);
        if (usesModSeq && hits.Count > 0) _out.Raw(" (MODSEQ ").Number(highestModSeq).Raw(")");
        _out.Crlf();
        return Ok(tag, uid ? "UID SEARCH completed" : "SEARCH completed");
    }
}

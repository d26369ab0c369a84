using GrainMail.Gateways.Imap.Commands;
using GrainMail.Gateways.Imap.Mime;
using GrainMail.Gateways.Imap.Protocol;
using GrainMail.Gateways.Imap.Search;
using GrainMail.Gateways.Imap.Sorting;
using GrainMail.Gateways.Common.Mime;
using GrainMail.Gateways.Common.Sorting;

namespace GrainMail.Gateways.Imap.Execution;

/// <summary>
/// SEARCH and UID SEARCH (RFC 3501 6.4.4, RFC 9051 6.4.4) with CONDSTORE's MODSEQ key (RFC 7162
/// 3.1.5), ESEARCH RETURN options (RFC 4731), the saved result <c>$</c> (RFC 5182), and SORT /
/// THREAD (RFC 5256, 5957), which search first and then order or thread the matches.
/// </summary>
internal sealed class SearchCommands(ImapSessionContext session)
{
    private ImapWriter Out => session.Out;

    private const string BadCharset = "[BADCHARSET (UTF-8 US-ASCII)] Unsupported charset";

    /// <summary>The view's indexes of the messages that match, or the reason for NO [LIMIT].</summary>
    private async Task<(List<int>? Hits, string? Limit)> MatchAsync(SearchKey query, bool uid)
    {
        await session.Updates.SyncAsync(allowExpunge: uid);
        var view = session.Selected!;
        var hits = new List<int>();
        var largestUid = view.Messages.Count == 0 ? 0 : view.Messages[^1].Uid;
        var saved = session.SavedResult;
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
                })
                { SavedUids = saved };
                if (await query.MatchAsync(context)) hits.Add(i);
            }
        }
        catch (SearchLimitException e)
        {
            // RFC 5530 LIMIT: the server refuses work beyond a set bound; nothing partial is sent.
            return (null, $"[LIMIT] {e.Message}; narrow the search (UID range, dates, flags)");
        }
        return (hits, null);
    }

    /// <summary>
    /// A SEARCH that failed. With RETURN (SAVE) the saved result is now empty (RFC 5182 2.1) and the
    /// tagged NO says so with NOTSAVED (RFC 9051 7.1); the reason's own code (BADCHARSET, LIMIT) then
    /// comes in an untagged NO before it, so a client still learns which charsets to use.
    /// </summary>
    private bool Failed(string tag, SearchReturn? returns, string reason)
    {
        if (returns?.Save != true) return session.No(tag, reason);
        session.SavedResult = [];
        Out.Line("* NO " + reason);
        return session.No(tag, "[NOTSAVED] The search failed, so its result was not saved; $ is empty");
    }

    public async Task<bool> SearchAsync(SearchCommand c)
    {
        var (tag, uid, usesModSeq) = (c.Tag, c.Uid, c.UsesModSeq);
        var returns = c.Return;
        // IMAP4rev2 has no \Recent: RECENT, NEW and OLD are not in its grammar (RFC 9051 E.1, 6.4.4).
        if (session.Rev2 && c.UsesRecent)
        {
            if (returns?.Save == true) session.SavedResult = [];
            return await session.BadAsync(tag, "IMAP4rev2 has no \\Recent: RECENT, NEW and OLD are not search keys after ENABLE IMAP4rev2");
        }
        if (c.Query is not { } query) return Failed(tag, returns, BadCharset);
        if (usesModSeq) session.Condstore = true;
        var (hits, limit) = await MatchAsync(query, uid);
        if (hits is null) return Failed(tag, returns, limit!);
        var view = session.Selected!;
        var numbers = hits.Select(i => uid ? view.Messages[i].Uid : i + 1L).ToList();
        long? highestModSeq = usesModSeq && hits.Count > 0 ? hits.Max(i => view.Messages[i].ModSeq) : null;
        var done = uid ? "UID SEARCH completed" : "SEARCH completed";
        if (returns is null && !session.Rev2)
        {
            Out.Raw("* SEARCH");
            foreach (var n in numbers) Out.Raw(" ").Number(n);
            if (highestModSeq is long hm) Out.Raw(" (MODSEQ ").Number(hm).Raw(")");
            Out.Crlf();
            return session.Ok(tag, done);
        }
        // IMAP4rev2 answers every SEARCH with ESEARCH (RFC 9051 6.4.4); no RETURN means ALL.
        returns ??= SearchReturn.AllOnly;
        if (returns.Save)
        {
            var savedIndexes = returns.Saved(hits.Select(i => (long)i).ToList());
            session.SavedResult = [.. savedIndexes.Select(i => view.Messages[(int)i].Uid)];
        }
        if (!returns.SaveOnly) Out.Line(EsearchResponse.Format(tag, uid, returns, numbers, highestModSeq));
        return session.Ok(tag, done);
    }

    public async Task<bool> SortAsync(SortCommand c)
    {
        if (c.Query is not { } query) return session.No(c.Tag, BadCharset);
        if (c.UsesModSeq) session.Condstore = true;
        // ARRIVAL and SIZE need only the index; every other key reads the headers.
        var needHeaders = c.Criteria.Any(k => k.Key is not (SortKey.Arrival or SortKey.Size));
        var (summaries, limit) = await SummariesAsync(query, c.Uid, needHeaders);
        if (summaries is null) return session.No(c.Tag, limit!);
        Out.Raw("* SORT");
        foreach (var m in MessageSorter.Sort(summaries, c.Criteria)) Out.Raw(" ").Number(m.Number);
        Out.Crlf();
        return session.Ok(c.Tag, c.Uid ? "UID SORT completed" : "SORT completed");
    }

    public async Task<bool> ThreadAsync(ThreadCommand c)
    {
        if (c.Query is not { } query) return session.No(c.Tag, BadCharset);
        if (c.UsesModSeq) session.Condstore = true;
        var (summaries, limit) = await SummariesAsync(query, c.Uid, needHeaders: true);
        if (summaries is null) return session.No(c.Tag, limit!);
        var threads = MessageThreader.Thread(summaries, c.Algorithm);
        Out.Raw("* THREAD");
        if (threads.Count > 0) Out.Raw(" ").Raw(MessageThreader.Format(threads));
        Out.Crlf();
        return session.Ok(c.Tag, c.Uid ? "UID THREAD completed" : "THREAD completed");
    }

    /// <summary>The matching messages as sort/thread summaries, numbered by UID or sequence number.</summary>
    private async Task<(List<MessageSummary>? Summaries, string? Limit)> SummariesAsync(SearchKey query, bool uid, bool needHeaders)
    {
        var (hits, limit) = await MatchAsync(query, uid);
        if (hits is null) return (null, limit);
        var view = session.Selected!;
        var summaries = new List<MessageSummary>(hits.Count);
        // Reading headers counts against the same budget as a search that reads messages.
        using var lease = needHeaders && hits.Count > 0 ? await session.Server.SearchBudget.EnterAsync(session.ConnectionClosed) : null;
        try
        {
            foreach (var i in hits)
            {
                var m = view.Messages[i];
                var number = uid ? m.Uid : i + 1L;
                var content = null as Common.Messages.LoadedMessage;
                if (needHeaders)
                {
                    lease?.Charge(m.Blob.Size);
                    content = await session.Server.Messages.GetAsync(m.Blob);
                }
                summaries.Add(content is null
                    ? new MessageSummary(number, i + 1, m.InternalDate, null, m.Blob.Size, "", "", "", "", "", "", null, [])
                    : MessageSummary.FromHeaders(number, i + 1, m.InternalDate, m.Blob.Size, content.Root.Headers));
            }
        }
        catch (SearchLimitException e)
        {
            return (null, $"[LIMIT] {e.Message}; narrow the search (UID range, dates, flags)");
        }
        return (summaries, null);
    }
}

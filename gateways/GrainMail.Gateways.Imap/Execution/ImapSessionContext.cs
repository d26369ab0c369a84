using System.Net;
using GrainMail.Contracts.Mailboxes;
using GrainMail.Gateways.Common.Sasl;
using GrainMail.Gateways.Imap.Commands;
using GrainMail.Gateways.Imap.Protocol;

namespace GrainMail.Gateways.Imap.Execution;

/// <summary>
/// The state one connection's command families share: the response buffer, the connection state,
/// the logged-in mailbox grain, the selected folder's view and what the client enabled. The
/// session owns it and hands it to every family, so a family is only code over this state.
/// </summary>
internal sealed class ImapSessionContext
{
    public ImapSessionContext(ImapServer server, IImapConnection connection, IPAddress remote, CancellationToken connectionClosed)
    {
        Server = server;
        Connection = connection;
        Remote = remote;
        ConnectionClosed = connectionClosed;
        Updates = new SelectedFolderUpdates(this);
        Notify = new NotifyCommands(this);
    }

    /// <summary>NOTIFY (RFC 5465): what the client asked to hear of, and the watch on the folder tree.</summary>
    public NotifyCommands Notify { get; }

    /// <summary>
    /// Held while something writes and flushes outside the command loop's own turn: with NOTIFY the
    /// session writes notifications while the command reader may be asking for a literal ("+").
    /// </summary>
    public SemaphoreSlim OutputGate { get; } = new(1, 1);

    public ImapServer Server { get; }

    public ImapOptions Options => Server.Options;

    public IImapConnection Connection { get; }

    public IPAddress Remote { get; }

    /// <summary>Cancelled when the client goes away; for flushes outside a command's own token.</summary>
    public CancellationToken ConnectionClosed { get; }

    public ImapWriter Out { get; } = new();

    public ImapSessionState State { get; set; } = ImapSessionState.NotAuthenticated;

    /// <summary>The client's name and version from ID (RFC 2971), for the login record; null when it sent none.</summary>
    public string? ClientName { get; set; }

    /// <summary>The logged-in address (null before login).</summary>
    public string? User { get; set; }

    /// <summary>The logged-in account's mailbox grain; set from the authenticated state on.</summary>
    public IMailboxGrain? MailboxGrain { get; set; }

    /// <summary>The mailbox grain, for families that only run after login (the state check guarantees it).</summary>
    public IMailboxGrain Mailbox => MailboxGrain ?? throw new InvalidOperationException("Not authenticated");

    /// <summary>The selected folder's view (RFC 3501 selected state), null otherwise.</summary>
    public SelectedFolder? Selected { get; set; }

    /// <summary>Keeps <see cref="Selected"/> current: watches, change notices, untagged updates.</summary>
    public SelectedFolderUpdates Updates { get; }

    /// <summary>ENABLE UTF8=ACCEPT (RFC 6855): names travel as UTF-8, not modified UTF-7.</summary>
    public bool Utf8 { get; set; }

    /// <summary>CONDSTORE enabled, explicitly or by a command that uses it (RFC 7162 3.1).</summary>
    public bool Condstore { get; set; }

    /// <summary>ENABLE QRESYNC (RFC 7162 3.2.3): expunges are reported as VANISHED, SELECT may resynchronise.</summary>
    public bool Qresync { get; set; }

    /// <summary>ENABLE IMAP4rev2 (RFC 9051): no \Recent, ESEARCH answers to SEARCH, UTF-8 names.</summary>
    public bool Rev2 { get; set; }

    /// <summary>COMPRESS=DEFLATE is active (RFC 4978: once per connection).</summary>
    public bool Compressed { get; set; }

    /// <summary>
    /// The saved search result <c>$</c> (RFC 5182) as UIDs of the selected folder; empty after
    /// SELECT and after a failed SAVE (RFC 5182 2.1, 2.4).
    /// </summary>
    public HashSet<long> SavedResult { get; set; } = [];

    public int Errors { get; set; }

    public int AuthFailures { get; set; }

    /// <summary>This session's entry in the gateway's open-session registry (revocation closes it); null before login.</summary>
    public IAsyncDisposable? OpenSession { get; set; }

    public bool AuthAllowed => Connection.Secure || Options.AllowPlaintextAuth;

    public ValueTask FlushAsync(CancellationToken ct) => Connection.FlushAsync(ct);

    /// <summary>The capabilities for the current state (RFC 3501 7.2.1): login-related ones before, the rest after.</summary>
    public string Capabilities()
    {
        // IMAP4rev2 (RFC 9051) next to IMAP4rev1: a client picks one with ENABLE IMAP4rev2 (RFC 9051 7.2.2).
        var caps = new List<string> { "IMAP4rev1", "IMAP4rev2", "LITERAL+", "SASL-IR", "ID", "ENABLE", "IDLE" };
        if (State == ImapSessionState.NotAuthenticated)
        {
            if (!Connection.Secure && Connection.Service == ImapService.Imap) caps.Add("STARTTLS");
            if (AuthAllowed) caps.AddRange(SaslDecoder.Mechanisms.Select(m => "AUTH=" + m));
            else caps.Add("LOGINDISABLED");
        }
        else
        {
            caps.AddRange(["NAMESPACE", "UNSELECT", "UIDPLUS", "MOVE", "CONDSTORE", "CHILDREN", "LIST-EXTENDED", "LIST-STATUS",
                "SPECIAL-USE", "QUOTA", "QUOTA=RES-STORAGE", "STATUS=SIZE", "UTF8=ACCEPT", $"APPENDLIMIT={Options.AppendLimit}",
                "ESEARCH", "SEARCHRES", "SORT", "SORT=DISPLAY", "THREAD=ORDEREDSUBJECT", "THREAD=REFERENCES", "QRESYNC", "BINARY",
                "OBJECTID", "UNAUTHENTICATE", "SAVEDATE", "NOTIFY"]);
            if (!Compressed) caps.Add("COMPRESS=DEFLATE");
        }
        return string.Join(' ', caps);
    }

    /// <summary>A mailbox name as sent by the client, decoded the way this session reads names.</summary>
    public string? DecodeName(string name) => ImapCommandParser.DecodeName(name, Utf8);

    /// <summary>A mailbox name as this session writes names: modified UTF-7 unless UTF8=ACCEPT (RFC 6855 3).</summary>
    public string EncodeName(string name) => Utf8 ? name : ModifiedUtf7.Encode(name);

    public bool Ok(string tag, string text)
    {
        Out.Line($"{tag} OK {text}");
        return true;
    }

    public bool No(string tag, string text)
    {
        Out.Line($"{tag} NO {text}");
        return true;
    }

    /// <summary>BAD with the tag; false when the session must end (too many errors).</summary>
    public async Task<bool> BadAsync(string tag, string text)
    {
        Out.Line($"{tag} BAD {text}");
        return await CountErrorAsync();
    }

    /// <summary>Counts one protocol error; after <see cref="ImapOptions.MaxErrors"/> the session ends with BYE.</summary>
    public async Task<bool> CountErrorAsync()
    {
        if (++Errors < Options.MaxErrors) return true;
        Out.Line("* BYE Too many errors");
        await FlushAsync(ConnectionClosed);
        return false;
    }

    /// <summary>The text after NO for a failed mailbox operation, with its RFC 5530 response code.</summary>
    public static string StatusText(MailboxOpStatus status) => status switch
    {
        MailboxOpStatus.NoSuchFolder => "[NONEXISTENT] No such mailbox",
        MailboxOpStatus.FolderExists => "[ALREADYEXISTS] Mailbox already exists",
        MailboxOpStatus.InvalidName => "[CANNOT] Invalid mailbox name",
        MailboxOpStatus.NotAllowed => "[CANNOT] Not allowed for this mailbox",
        MailboxOpStatus.OverQuota => "[OVERQUOTA] Quota exceeded",
        _ => "[UNAVAILABLE] The mailbox is not available",
    };
}

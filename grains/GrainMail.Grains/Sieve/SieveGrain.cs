using GrainMail.Contracts.Mailboxes;
using GrainMail.Contracts.Sieve;
using GrainMail.Sieve;
using GrainMail.Sieve.Validation;
using GrainMail.Storage.Sieve;
using Microsoft.Extensions.Logging;

namespace GrainMail.Grains.Sieve;

/// <summary>
/// The single writer of one account's scripts. Every upload is compiled first, so what is stored
/// always validates; after a change the mailbox drops its copy and reads the scripts again at the
/// next delivery.
/// </summary>
[StepDownOnStorageFailure]
public sealed class SieveGrain(SieveStore store, TimeProvider clock, ILogger<SieveGrain> logger) : Grain, ISieveGrain
{
    private string _account = "";
    private List<StoredSieveScript> _scripts = [];

    public static readonly SieveLimits Limits = SieveLimits.Default with { MaxScriptBytes = SieveQuota.MaxScriptBytes, MaxRedirects = SieveQuota.MaxRedirects };

    public override async Task OnActivateAsync(CancellationToken cancellationToken)
    {
        _account = this.GetPrimaryKeyString();
        await StorageFailureFilter.Activating(async () => _scripts = await store.ListAsync(_account, cancellationToken));
    }

    public Task<IReadOnlyList<SieveScriptInfo>> List() =>
        Task.FromResult<IReadOnlyList<SieveScriptInfo>>(_scripts.Select(s => new SieveScriptInfo(s.Name, s.Active, System.Text.Encoding.UTF8.GetByteCount(s.Content))).ToList());

    public Task<string?> Get(string name) => Task.FromResult(Find(name)?.Content);

    public Task<SieveOpResult> Check(string content) => Task.FromResult(Validate(content));

    public Task<SieveOpResult> HaveSpace(string name, long size)
    {
        if (!SieveScriptNames.IsValid(name)) return Task.FromResult(new SieveOpResult(SieveOpStatus.InvalidName, "invalid script name"));
        return Task.FromResult(Space(name, size));
    }

    private SieveOpResult Space(string name, long size)
    {
        if (size > SieveQuota.MaxScriptBytes) return new(SieveOpStatus.TooLarge, $"scripts may have at most {SieveQuota.MaxScriptBytes} bytes");
        if (Find(name) is null && _scripts.Count >= SieveQuota.MaxScripts) return new(SieveOpStatus.TooMany, $"at most {SieveQuota.MaxScripts} scripts");
        return SieveOpResult.Ok;
    }

    private static SieveOpResult Validate(string content)
    {
        var (_, error) = SieveValidator.Compile(content, Limits);
        return error is null ? SieveOpResult.Ok : new SieveOpResult(SieveOpStatus.Invalid, error.ToString());
    }

    public async Task<SieveOpResult> Put(string name, string content)
    {
        if (!SieveScriptNames.IsValid(name)) return new(SieveOpStatus.InvalidName, "invalid script name");
        var space = Space(name, System.Text.Encoding.UTF8.GetByteCount(content));
        if (space.Status != SieveOpStatus.Ok) return space;
        var check = Validate(content);
        if (check.Status != SieveOpStatus.Ok) return check;
        await WriteAsync(() => store.PutAsync(_account, name, content));
        logger.LogInformation("Sieve script {Name} of {Account} stored ({Bytes} bytes)", name, _account, content.Length);
        return SieveOpResult.Ok;
    }

    public async Task<SieveOpResult> SetActive(string name)
    {
        if (name.Length > 0 && Find(name) is null) return new(SieveOpStatus.NotFound, "no such script");
        await WriteAsync(() => store.SetActiveAsync(_account, name.Length == 0 ? null : name));
        return SieveOpResult.Ok;
    }

    public async Task<SieveOpResult> Delete(string name)
    {
        var s = Find(name);
        if (s is null) return new(SieveOpStatus.NotFound, "no such script");
        if (s.Active) return new(SieveOpStatus.Active, "the active script cannot be deleted");
        await WriteAsync(() => store.DeleteAsync(_account, name));
        return SieveOpResult.Ok;
    }

    public async Task<SieveOpResult> Rename(string from, string to)
    {
        if (!SieveScriptNames.IsValid(to)) return new(SieveOpStatus.InvalidName, "invalid script name");
        if (Find(from) is null) return new(SieveOpStatus.NotFound, "no such script");
        if (Find(to) is not null) return new(SieveOpStatus.Exists, "a script of that name exists");
        await WriteAsync(() => store.RenameAsync(_account, from, to));
        return SieveOpResult.Ok;
    }

    /// <summary>The active script and those it includes, compiled once per change of the scripts.</summary>
    private Dictionary<string, CompiledSieve?>? _compiled;

    private CompiledSieve? Compiled(string name)
    {
        _compiled ??= [];
        if (_compiled.TryGetValue(name, out var c)) return c;
        c = Find(name) is { } s ? SieveValidator.Compile(s.Content, Limits).Script : null;
        _compiled[name] = c;
        return c;
    }

    public Task<bool> UsesProtocolReject()
    {
        if (_scripts.FirstOrDefault(s => s.Active) is not { } active) return Task.FromResult(false);
        // Includes are followed by name (RFC 6609): any script reachable from the active one counts.
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var pending = new Stack<string>([active.Name]);
        while (pending.TryPop(out var name))
        {
            if (!seen.Add(name) || Compiled(name) is not { } c) continue;
            if (c.Required.Contains("ereject")) return Task.FromResult(true);
            foreach (var i in c.Includes) pending.Push(i);
        }
        return Task.FromResult(false);
    }

    public async Task<string?> ProtocolReject(string? sender, string recipient, Orleans.Concurrency.Immutable<byte[]> message)
    {
        if (_scripts.FirstOrDefault(s => s.Active) is not { } active || Compiled(active.Name) is not { } script) return null;
        MimeKit.MimeMessage parsed;
        try
        {
            using var stream = new MemoryStream(message.Value, writable: false);
            parsed = MimeKit.MimeMessage.Load(stream);
        }
        catch (FormatException)
        {
            return null;
        }
        var folders = (await GrainFactory.GetGrain<IMailboxGrain>(_account).ListFolders()).Select(f => f.Name).ToHashSet(StringComparer.OrdinalIgnoreCase);
        var context = new SieveContext(parsed, message.Value.Length, new SieveEnvelope(sender, recipient), clock.GetUtcNow())
        {
            MailboxExists = folders.Contains,
            Include = Compiled,
            Limits = Limits,
        };
        var result = SieveInterpreter.Run(script, context, active.Name);
        // A run-time error is the implicit keep at delivery (RFC 5228 2.10.6): nothing refused here.
        if (result.Failed) return null;
        return result.Actions.OfType<RejectAction>().FirstOrDefault(r => r.Extended)?.Reason;
    }

    private StoredSieveScript? Find(string name) => _scripts.FirstOrDefault(s => s.Name == name);

    /// <summary>
    /// A change of the scripts, then the scripts read again and the mailbox and the domain told. One that fails in the
    /// database may still have landed (the database died with its COMMIT in flight and a promoted standby has it), and
    /// one that landed may fail in the read after it: this activation steps down
    /// (<see cref="StepDownOnStorageFailureAttribute"/>), and those keeping a copy are told they may be wrong: the mailbox,
    /// which runs the scripts at delivery, forgets its copy, and the domain, which names the accounts whose script may
    /// ereject at RCPT, counts this one in until it has read the scripts again (a run too many costs nothing; a flag
    /// missing turned an ereject refusal at DATA into an accepted message and a bounce).
    /// </summary>
    private async Task WriteAsync(Func<Task> write)
    {
        try
        {
            await write();
            _scripts = await store.ListAsync(_account);
        }
        catch (Exception e) when (StorageFailureFilter.Translate(e) is not null)
        {
            try
            {
                await GrainFactory.GetGrain<IMailboxGrain>(_account).SieveChanged();
            }
            catch (Exception notice) when (notice is not OutOfMemoryException)
            {
                logger.LogWarning(notice, "The mailbox of {Account} did not hear that its scripts may have changed", _account);
            }
            try
            {
                await Domain.ProtocolRejectUnsure(GrainMail.Contracts.MailAddress.LocalPartOf(_account));
            }
            catch (Exception notice) when (notice is not OutOfMemoryException)
            {
                // A domain that cannot hear it is not active, or failing to activate: its next activation reads the flags.
                logger.LogWarning(notice, "The domain of {Account} did not hear that its ereject flag may be wrong", _account);
            }
            throw;
        }
        _compiled = null;
        // The mailbox runs the scripts at delivery: it reads them again before the next one.
        await GrainFactory.GetGrain<IMailboxGrain>(_account).SieveChanged();
        // RCPT learns from the domain whether this account's script may ereject (no call here per message).
        await Domain.SetProtocolReject(GrainMail.Contracts.MailAddress.LocalPartOf(_account), await UsesProtocolReject());
    }

    private GrainMail.Contracts.Domains.IDomainGrain Domain =>
        GrainFactory.GetGrain<GrainMail.Contracts.Domains.IDomainGrain>(GrainMail.Contracts.MailAddress.DomainOf(_account));
}

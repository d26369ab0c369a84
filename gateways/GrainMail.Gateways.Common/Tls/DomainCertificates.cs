using System.Collections.Frozen;
using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using GrainMail.Contracts.Tls;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace GrainMail.Gateways.Common.Tls;

/// <summary>
/// The operators' certificates per mail domain, held by every TLS listener of this process (HTTPS,
/// SMTP, IMAP, POP3, ManageSieve) and picked by the name the client asks for in SNI (RFC 6066 3).
/// The whole set is in memory (one entry per domain that has one): a handshake is a dictionary
/// look-up, never a grain call. Refreshed from the silos when their stamp changes.
/// </summary>
public sealed class DomainCertificates(IGrainFactory grains, ILogger<DomainCertificates> logger)
{
    private sealed record Entry(X509Certificate2 Leaf, SslStreamCertificateContext Context);

    private FrozenDictionary<string, Entry> _byDomain = FrozenDictionary<string, Entry>.Empty;
    private string? _stamp;
    private readonly SemaphoreSlim _refresh = new(1, 1);

    /// <summary>How many domains have a certificate loaded.</summary>
    public int Count => _byDomain.Count;

    /// <summary>
    /// The certificate for <paramref name="serverName"/>: that of the name's own domain or of the
    /// nearest parent domain that has one (mail.example.com → example.com), if its certificate
    /// covers the name; null otherwise (the listener then presents its default).
    /// </summary>
    public SslStreamCertificateContext? Find(string? serverName)
    {
        if (string.IsNullOrEmpty(serverName) || _byDomain.Count == 0) return null;
        var name = serverName.TrimEnd('.').ToLowerInvariant();
        for (var candidate = name; candidate.Contains('.'); candidate = candidate[(candidate.IndexOf('.') + 1)..])
        {
            if (_byDomain.TryGetValue(candidate, out var entry) && entry.Leaf.MatchesHostname(name, allowWildcards: true, allowCommonName: true))
                return entry.Context;
        }
        return null;
    }

    /// <summary>Reloads the set if the silos' stamp changed since the last load (or always, with <paramref name="force"/>).</summary>
    public async Task RefreshAsync(bool force = false, CancellationToken ct = default)
    {
        await _refresh.WaitAsync(ct);
        try
        {
            var store = grains.GetGrain<IDomainCertificateGrain>(0);
            var stamp = await store.Stamp();
            if (!force && stamp == _stamp) return;
            Use((await store.LoadAll()).Value);
            _stamp = stamp;
        }
        finally
        {
            _refresh.Release();
        }
    }

    /// <summary>Replaces the set (the handshakes in flight keep the one they looked up).</summary>
    internal void Use(IReadOnlyList<DomainCertificate> all)
    {
        var loaded = new Dictionary<string, Entry>(StringComparer.Ordinal);
        foreach (var c in all)
        {
            if (Load(c) is { } entry) loaded[c.Domain] = entry;
            else logger.LogWarning("The stored certificate of {Domain} cannot be loaded; its clients get the default certificate", c.Domain);
        }
        _byDomain = loaded.ToFrozenDictionary(StringComparer.Ordinal);
    }

    private static Entry? Load(DomainCertificate c)
    {
        var leaf = CertificateUpload.LoadWithKey(c.ChainPem, c.KeyPem, out _);
        if (leaf is null) return null;
        var chain = new X509Certificate2Collection();
        chain.ImportFromPem(c.ChainPem);
        // The intermediates are sent with the leaf (offline: no fetching of issuers at handshake time).
        var intermediates = new X509Certificate2Collection();
        for (var i = 1; i < chain.Count; i++) intermediates.Add(chain[i]);
        return new Entry(leaf, SslStreamCertificateContext.Create(leaf, intermediates, offline: true));
    }
}

/// <summary>Keeps <see cref="DomainCertificates"/> current: at start (retrying until the silos answer) and every 15 seconds.</summary>
public sealed class DomainCertificateRefresher(DomainCertificates certificates, ILogger<DomainCertificateRefresher> logger) : BackgroundService
{
    public static readonly TimeSpan Interval = TimeSpan.FromSeconds(15);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var first = true;
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await certificates.RefreshAsync(force: first, stoppingToken);
                first = false;
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                // Not started yet, or the silos are away: the listeners keep what they have.
                logger.LogDebug(e, "Domain certificates not refreshed");
            }
            try
            {
                await Task.Delay(first ? TimeSpan.FromSeconds(1) : Interval, stoppingToken);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }
}

using GrainMail.Contracts.Tls;
using GrainMail.Storage.Tls;
using Orleans.Concurrency;

namespace GrainMail.Grains.Tls;

/// <summary>The silo side of per-domain certificates: the sealed key is opened here, where the master key is.</summary>
[StatelessWorker]
public sealed class DomainCertificateGrain(DomainCertificateStore store) : Grain, IDomainCertificateGrain
{
    public async Task<DomainCertificateInfo> Put(DomainCertificate certificate, DomainCertificateInfo info)
    {
        await store.PutAsync(certificate, info);
        return info;
    }

    public Task<DomainCertificateInfo?> Get(string domain) => store.GetAsync(domain);

    public Task<bool> Delete(string domain) => store.DeleteAsync(domain);

    public Task<string> Stamp() => store.StampAsync();

    public async Task<Immutable<IReadOnlyList<DomainCertificate>>> LoadAll() => (await store.LoadAllAsync()).AsImmutable();
}

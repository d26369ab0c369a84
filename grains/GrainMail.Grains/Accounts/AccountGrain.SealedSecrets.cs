using GrainMail.Storage.Blobs;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace GrainMail.Grains.Accounts;

/// <summary>
/// The TOTP keys and the secondary address are kept sealed under the master key
/// (<see cref="KeyRing.SealText"/>), bound to this account's address and to what each value is, so
/// that the grain-state table shows a database operator neither, and a sealed value copied into
/// another account's state does not open there. State written by older versions held them in
/// clear: the first activation seals them and writes the state back.
/// </summary>
public sealed partial class AccountGrain
{
    private const string TotpPurpose = "totp", PendingTotpPurpose = "totp-pending", SecondaryPurpose = "secondary-address";

    private KeyRing Keys => ServiceProvider.GetRequiredService<KeyRing>();

    /// <summary>The confirmed TOTP key (base32), or null while two-factor is off.</summary>
    private string? TotpKey
    {
        get => Open(Sec.SealedTotpSecret, TotpPurpose) ?? Sec.TotpSecret;
        set
        {
            Sec.SealedTotpSecret = Seal(value, TotpPurpose);
            Sec.TotpSecret = null;
        }
    }

    /// <summary>The key enrolment handed out and a first code has not confirmed yet.</summary>
    private string? PendingTotpKey
    {
        get => Open(Sec.SealedPendingTotpSecret, PendingTotpPurpose) ?? Sec.PendingTotpSecret;
        set
        {
            Sec.SealedPendingTotpSecret = Seal(value, PendingTotpPurpose);
            Sec.PendingTotpSecret = null;
        }
    }

    /// <summary>The address reset links are sent to (verified or not).</summary>
    private string? SecondaryAddressKept
    {
        get => Open(Sec.SealedSecondaryAddress, SecondaryPurpose) ?? Sec.SecondaryAddress;
        set
        {
            Sec.SealedSecondaryAddress = Seal(value, SecondaryPurpose);
            Sec.SecondaryAddress = null;
        }
    }

    private byte[]? Seal(string? clear, string purpose) => clear is null ? null : Keys.SealText(DomainPart, $"{purpose}:{Address}", clear);

    private string? Open(byte[]? sealedValue, string purpose) => sealedValue is null ? null : Keys.OpenText(DomainPart, $"{purpose}:{Address}", sealedValue);

    /// <summary>An address as the audit log shows it: its first letter and its domain ("j…@example.org").</summary>
    private static string AddressHint(string address)
    {
        var at = address.LastIndexOf('@');
        return at <= 0 ? "…" : address[..1] + "…" + address[at..];
    }

    /// <summary>Seals what an older version stored in clear (once per account: afterwards there is nothing in clear).</summary>
    private async Task SealClearSecretsAsync()
    {
        if (S.Security is not { HasClearSecrets: true } sec) return;
        if (sec.TotpSecret is { } totp) TotpKey = totp;
        if (sec.PendingTotpSecret is { } pending) PendingTotpKey = pending;
        if (sec.SecondaryAddress is { } secondary) SecondaryAddressKept = secondary;
        await state.WriteStateAsync();
        logger.LogInformation("Two-factor key and secondary address of {Address} sealed under the master key", Address);
    }
}

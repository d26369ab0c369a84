using System.Text;
using GrainMail.Outbound.Forwarding;
using Org.BouncyCastle.Crypto;
using Org.BouncyCastle.OpenSsl;
using GrainMail.TestSupport;

namespace GrainMail.Protocol.Tests.Trust;

/// <summary>
/// What forwarding adds: SRS envelope senders (round trip, forged and expired ones refused) and ARC sets
/// that an independent implementation verifies — Debian's python3-dkim (its arc_verify, the library behind
/// arcverify, given the key by a DNS function), with one changed body byte failing.
/// </summary>
public sealed class ForwardingTests : IDisposable
{
    private static readonly DateTimeOffset Now = new(2026, 12, 1, 12, 0, 0, TimeSpan.Zero);
    private readonly string _dir = Directory.CreateTempSubdirectory("grainmail-arc-").FullName;

    public void Dispose() => Directory.Delete(_dir, true);

    private static SrsRewriter Srs(DateTimeOffset at, string secret = "a secret of sixteen+") =>
        new(Encoding.UTF8.GetBytes(secret), new FixedClock(at), TimeSpan.FromDays(21));

    [Fact]
    public void An_srs0_sender_turns_back_into_the_original_even_lower_cased()
    {
        var forwarded = Srs(Now).Forward("Alice.Smith@Origin.example", "fwd.example")!;
        Assert.StartsWith("SRS0=", forwarded);
        Assert.EndsWith("@fwd.example", forwarded);
        var local = forwarded[..forwarded.LastIndexOf('@')];
        Assert.Equal(new SrsReversal(SrsStatus.Valid, "Alice.Smith@Origin.example"), Srs(Now.AddDays(3)).Reverse(local));
        // SMTP servers may lower-case the local part on the way back.
        Assert.Equal(SrsStatus.Valid, Srs(Now).Reverse(local.ToLowerInvariant()).Status);
    }

    [Fact]
    public void Null_and_own_senders_are_not_rewritten()
    {
        Assert.Null(Srs(Now).Forward(null, "fwd.example"));
        Assert.Null(Srs(Now).Forward("", "fwd.example"));
        Assert.Equal("bob@fwd.example", Srs(Now).Forward("bob@fwd.example", "fwd.example"));
    }

    [Fact]
    public void Forwarding_an_srs0_address_again_makes_srs1_which_leads_back_to_the_first_forwarder()
    {
        var first = Srs(Now, "first forwarder's key").Forward("user@orig.example", "hop1.example")!;
        var second = Srs(Now).Forward(first, "hop2.example")!;
        Assert.StartsWith("SRS1=", second);
        var back = Srs(Now).Reverse(second[..second.LastIndexOf('@')]);
        Assert.Equal(new SrsReversal(SrsStatus.Valid, first), back);
        Assert.Equal(new SrsReversal(SrsStatus.Valid, "user@orig.example"), Srs(Now, "first forwarder's key").Reverse(first[..first.LastIndexOf('@')]));
        // A third hop keeps the first forwarder in the address, with its own hash.
        var third = Srs(Now, "third").Forward(second, "hop3.example")!;
        Assert.Equal(new SrsReversal(SrsStatus.Valid, first), Srs(Now, "third").Reverse(third[..third.LastIndexOf('@')]));
    }

    [Fact]
    public void Forged_and_expired_srs_addresses_are_refused()
    {
        var local = Srs(Now).Forward("victim@orig.example", "fwd.example")!.Split('@')[0];
        var parts = local.Split('=');
        Assert.Equal(SrsStatus.Forged, Srs(Now, "someone else's key").Reverse(local).Status);
        Assert.Equal(SrsStatus.Forged, Srs(Now).Reverse(local.Replace("victim", "other", StringComparison.Ordinal)).Status);
        Assert.Equal(SrsStatus.Forged, Srs(Now).Reverse($"SRS0=aaaaaa={parts[2]}=orig.example=victim").Status);
        Assert.Equal(SrsStatus.Forged, Srs(Now).Reverse("SRS0=broken").Status);
        Assert.Equal(SrsStatus.Forged, Srs(Now).Reverse("SRS1=aaaaaa=hop.example==x").Status);
        Assert.Equal(SrsStatus.Valid, Srs(Now.AddDays(21)).Reverse(local).Status);
        Assert.Equal(SrsStatus.Expired, Srs(Now.AddDays(22)).Reverse(local).Status);
        Assert.Equal(SrsStatus.NotSrs, Srs(Now).Reverse("alice").Status);
    }

    [Fact]
    public void Fuzzed_srs_local_parts_never_throw_and_never_pass()
    {
        var random = new Random(8617);
        var srs = Srs(Now);
        var seed = Encoding.ASCII.GetBytes(srs.Forward("user@orig.example", "fwd.example")!.Split('@')[0]);
        var srs1 = Encoding.ASCII.GetBytes(srs.Forward(Srs(Now, "other key here!!").Forward("u@o.example", "h.example"), "fwd.example")!.Split('@')[0]);
        for (var i = 0; i < 3000; i++)
        {
            var bytes = Fuzz.Mutate(random, i % 2 == 0 ? seed : srs1);
            var text = Encoding.Latin1.GetString(bytes);
            var result = srs.Reverse(text);
            if (result.Status == SrsStatus.Valid) Assert.True(text.Equals(Encoding.ASCII.GetString(i % 2 == 0 ? seed : srs1), StringComparison.OrdinalIgnoreCase), text);
        }
    }

    private const string Original =
        "From: Alice <alice@example.org>\r\nTo: list@lists.example\r\nSubject: arc\r\n" +
        "Date: Tue, 01 Dec 2026 06:00:00 +0000\r\nMessage-ID: <arc-1@example.org>\r\n\r\n" +
        "Hello list,\r\nthis body is sealed.\r\n";

    [Fact]
    public void An_srs_address_past_64_octets_is_recognised_and_stored_keys_have_their_own_form()
    {
        var srs = Srs(Now);
        var longOriginal = new string('l', 40) + "@origin.example";
        Assert.False(SrsRewriter.LocalPartTooLong(srs.Forward("bob@origin.example", "fwd.example")!));
        Assert.True(SrsRewriter.LocalPartTooLong(srs.Forward(longOriginal, "fwd.example")!));
        // Octets, not characters (RFC 6531 local parts are UTF-8).
        Assert.True(SrsRewriter.LocalPartTooLong(new string('é', 33) + "@x.example"));
        Assert.False(SrsRewriter.LocalPartTooLong(new string('e', 64) + "@x.example"));

        var key = SrsRewriter.NewKey();
        Assert.Matches("^srsk=[a-z2-7]{16}$", key);
        Assert.NotEqual(key, SrsRewriter.NewKey());
        Assert.Equal(SrsStatus.Keyed, srs.Reverse(key).Status);
        Assert.Equal(SrsStatus.Keyed, srs.Reverse(key.ToUpperInvariant()).Status);
        foreach (var bad in new[] { "srsk=", "srsk=short", "srsk=" + new string('a', 17), "srsk=aaaaaaaaaaaaaaa1" })
            Assert.Equal(SrsStatus.Forged, srs.Reverse(bad).Status);
    }

    [Fact]
    public void A_first_arc_set_verifies_with_python3_dkim_and_a_changed_body_byte_fails()
    {
        var (key, record) = NewKey();
        var incoming = "Authentication-Results: mx.grainmail.test; spf=pass smtp.mailfrom=alice@example.org; dkim=none; arc=none\r\n" + Original;
        var sealedText = Encoding.ASCII.GetString(ArcSeal.Seal(Encoding.ASCII.GetBytes(incoming), key, "lists.example", "sel", "mx.grainmail.test", Now));
        Assert.StartsWith("ARC-Seal: i=1;", sealedText);
        Assert.Contains("cv=none", sealedText);
        Assert.Matches(@"ARC-Authentication-Results: i=1; mx\.grainmail\.test;\s+spf=pass", sealedText);
        Assert.Equal("pass", ArcVerify(sealedText, "sel._domainkey.lists.example", record));

        var at = sealedText.IndexOf("Hello list", StringComparison.Ordinal);
        Assert.Equal("fail", ArcVerify(sealedText[..at] + "J" + sealedText[(at + 1)..], "sel._domainkey.lists.example", record));
    }

    [Fact]
    public void Our_set_chains_on_one_made_by_arcsign_with_cv_pass()
    {
        var (key, record) = NewKey();
        var keyFile = Path.Combine(_dir, "relay.key");
        var firstHop = Run("arcsign", $"sel relay.example {keyFile} relay.example", "Authentication-Results: relay.example; spf=pass smtp.mailfrom=alice@example.org\r\n" + Original);
        // Our inbound checks verified that chain: our Authentication-Results says arc=pass.
        var incoming = "Authentication-Results: mx.grainmail.test; arc=pass header.oldest-pass=0\r\n" + firstHop;
        var sealedText = Encoding.ASCII.GetString(ArcSeal.Seal(Encoding.ASCII.GetBytes(incoming), key, "lists.example", "sel", "mx.grainmail.test", Now));
        Assert.StartsWith("ARC-Seal: i=2;", sealedText);
        Assert.Contains("cv=pass", sealedText);
        var relayRecord = File.ReadAllText(Path.Combine(_dir, "relay.dns")).Trim();
        Assert.Equal("pass", ArcVerify(sealedText, "sel._domainkey.lists.example", record, ("sel._domainkey.relay.example", relayRecord)));

        // Without a verdict of ours on the chain, we do not vouch for it: no set is added.
        var unverified = Encoding.ASCII.GetBytes(firstHop);
        Assert.Same(unverified, ArcSeal.Seal(unverified, key, "lists.example", "sel", "mx.grainmail.test", Now));
    }

    /// <summary>An RSA key by dknewkey (also the relay's, for arcsign); our key parsed from its PEM, and its DNS record.</summary>
    private (AsymmetricKeyParameter Key, string Record) NewKey()
    {
        Run("dknewkey", "--ktype rsa ours", null);
        Run("dknewkey", "--ktype rsa relay", null);
        using var reader = new StringReader(File.ReadAllText(Path.Combine(_dir, "ours.key")));
        var pem = new PemReader(reader).ReadObject();
        var key = pem is AsymmetricCipherKeyPair pair ? pair.Private : (AsymmetricKeyParameter)pem;
        return (key, File.ReadAllText(Path.Combine(_dir, "ours.dns")).Trim());
    }

    private static string ArcVerify(string message, string name, string record, params (string Name, string Record)[] more) =>
        ArcVerifier.Verify(message, [(name, record), .. more]);

    private string Run(string tool, string args, string? stdin) => DebianTool.Run(tool, args, "python3-dkim", _dir, stdin);

    private sealed class FixedClock(DateTimeOffset now) : TimeProvider
    {
        public override DateTimeOffset GetUtcNow() => now;
    }
}

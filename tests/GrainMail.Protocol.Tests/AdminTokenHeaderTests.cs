using System.Text;
using GrainMail.Gateways.Http.Auth;

namespace GrainMail.Protocol.Tests;

/// <summary>The admin token as the admin API's authentication handler reads it from an Authorization header.</summary>
public sealed class AdminTokenHeaderTests
{
    [Theory]
    [InlineData("Bearer tok", false, "tok")]
    [InlineData("bearer  tok ", false, "tok")]
    [InlineData("Basic b3BzOnRvazp3aXRoOmNvbG9ucw==", true, "tok:with:colons")] // ops:tok:with:colons
    [InlineData("Basic b3BzOnRvazp3aXRoOmNvbG9ucw==", false, null)] // basic only where it is accepted
    [InlineData("Basic !!!", true, null)]
    [InlineData("Basic bm9jb2xvbg==", true, null)] // "nocolon"
    [InlineData("Digest x", true, null)]
    [InlineData("", true, null)]
    [InlineData("Bearer", false, null)]
    public void The_token_is_taken_from_bearer_or_basic(string header, bool acceptBasic, string? token) =>
        Assert.Equal(token, AdminTokenAuthenticationHandler.PresentedToken(header, acceptBasic));

    [Fact]
    public void Fuzzed_headers_never_throw()
    {
        var random = new Random(1654);
        string[] valid = ["Bearer abc", "Basic b3BzOnRvaw==", "bearer x y", "Basic ", "Bearer\t tok"];
        for (var i = 0; i < 3000; i++)
        {
            string header;
            if (i % 2 == 0)
            {
                var bytes = new byte[random.Next(0, 60)];
                random.NextBytes(bytes);
                header = Encoding.Latin1.GetString(bytes);
            }
            else
            {
                var sb = new StringBuilder(valid[random.Next(valid.Length)]);
                for (var k = random.Next(1, 5); k > 0; k--) sb.Insert(random.Next(sb.Length + 1), (char)random.Next(0, 0x180));
                header = sb.ToString();
            }
            var acceptBasic = i % 3 != 0;
            // A token only ever comes from the two schemes, basic only where it is accepted.
            if (AdminTokenAuthenticationHandler.PresentedToken(header, acceptBasic) is not null)
            {
                var scheme = header.TrimStart().Split(' ', '\t')[0];
                Assert.True(scheme.Equals("Bearer", StringComparison.OrdinalIgnoreCase) || (acceptBasic && scheme.Equals("Basic", StringComparison.OrdinalIgnoreCase)), header);
            }
        }
    }
}

using System.Runtime.CompilerServices;
using System.Text;

namespace GrainMail.Tests;

/// <summary>
/// Registers the legacy charsets when the test assembly loads, as the host does at start: MimeKit
/// remembers a charset it could not find, so one test parsing GB2312 before another test registered
/// the provider would leave it undecodable for every later test in the process.
/// </summary>
internal static class CharsetRegistration
{
    [ModuleInitializer]
    internal static void Register() => Encoding.RegisterProvider(CodePagesEncodingProvider.Instance);
}

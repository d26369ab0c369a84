namespace GrainMail.Grains.Accounts;

/// <summary>
/// The clock of account security (TOTP steps, reset links, verification codes). The system clock,
/// unless <c>GRAINMAIL_TEST_CLOCK_FILE</c> names a file holding an offset in seconds: then that
/// offset is added (read again whenever the file changes), so that end-to-end tests can let 31
/// minutes pass without waiting or moving the clock of Orleans itself.
/// </summary>
public sealed class SecurityClock : TimeProvider
{
    public const string Variable = "GRAINMAIL_TEST_CLOCK_FILE";

    private readonly string? _file;
    private DateTime _seen;
    private TimeSpan _offset;

    public SecurityClock(string? offsetFile = null) => _file = string.IsNullOrWhiteSpace(offsetFile) ? null : offsetFile;

    public static SecurityClock FromEnvironment() => new(Environment.GetEnvironmentVariable(Variable));

    public override DateTimeOffset GetUtcNow() => TimeProvider.System.GetUtcNow() + Offset();

    private TimeSpan Offset()
    {
        if (_file is null) return TimeSpan.Zero;
        try
        {
            var stamp = File.GetLastWriteTimeUtc(_file);
            if (stamp != _seen)
            {
                _offset = double.TryParse(File.ReadAllText(_file).Trim(), global::System.Globalization.CultureInfo.InvariantCulture, out var seconds)
                    ? TimeSpan.FromSeconds(seconds)
                    : TimeSpan.Zero;
                _seen = stamp;
            }
        }
        catch (IOException)
        {
            // Being rewritten: keep the last offset.
        }
        return _offset;
    }
}

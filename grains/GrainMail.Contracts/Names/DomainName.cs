using System.Globalization;
using System.Text;

namespace GrainMail.Contracts;

/// <summary>
/// A domain name after IDNA processing: UTS 46 mapping (case folding, full-width and other
/// compatibility forms to their plain form, NFC), then the IDNA2008 rules that UTS 46 leaves
/// open. <see cref="Ascii"/> (A-labels, lower case) is the stored and compared form;
/// <see cref="Unicode"/> is for people. Pure: no I/O; ICU is called for UTS 46, scripts and
/// skeletons (see <c>Names/Icu.cs</c>), and never for names of letters, digits and hyphens only.
/// </summary>
public readonly record struct DomainName
{
    public const int MaxLength = 253;
    public const int MaxLabelLength = 63;

    private DomainName(string ascii, string unicode)
    {
        Ascii = ascii;
        Unicode = unicode;
    }

    /// <summary>Lower-case A-labels, without a trailing dot: what GrainMail stores and keys grains by.</summary>
    public string Ascii { get; }

    /// <summary>The same name in U-labels (equal to <see cref="Ascii"/> for an all-ASCII name).</summary>
    public string Unicode { get; }

    public override string ToString() => Ascii;

    /// <summary>Parses a host name typed as U-labels or A-labels; <paramref name="error"/> says why not.</summary>
    public static bool TryParse(string? text, out DomainName name, out string error)
    {
        name = default;
        if (string.IsNullOrWhiteSpace(text))
        {
            error = "empty";
            return false;
        }
        var input = text.Trim();
        string ascii, unicode;
        if (IsPlainLdh(input))
        {
            ascii = unicode = input.ToLowerInvariant().TrimEnd('.');
        }
        else
        {
            if (!Names.Icu.Available)
            {
                error = "internationalized domain names need ICU (libicu) on this host";
                return false;
            }
            var (a, errors) = Names.Icu.ToAscii(input);
            if (errors != 0)
            {
                error = Explain(errors);
                return false;
            }
            ascii = a.TrimEnd('.');
            var (u, uErrors) = Names.Icu.ToUnicode(ascii);
            if (uErrors != 0)
            {
                error = Explain(uErrors);
                return false;
            }
            unicode = u;
        }
        if (Structure(ascii) is { } structural)
        {
            error = structural;
            return false;
        }
        if (Idna2008(unicode) is { } disallowed)
        {
            error = disallowed;
            return false;
        }
        name = new DomainName(ascii, unicode);
        error = "";
        return true;
    }

    /// <summary>The U-label form of a stored name, or the name itself when it cannot be decoded.</summary>
    public static string ToUnicode(string ascii) => TryParse(ascii, out var n, out _) ? n.Unicode : ascii;

    /// <summary>
    /// Why this name should not be registered as a hosted domain, or null. UTS 39 5.2 "highly
    /// restrictive": each label is in one script, or Latin with Han and Hiragana/Katakana, with
    /// Han and Bopomofo, or with Han and Hangul. Digits, hyphens and combining marks (Common,
    /// Inherited) go with any script. A Cyrillic 'а' in a Latin name fails here.
    /// </summary>
    public string? RegistrationProblem()
    {
        if (IsAscii) return null;
        foreach (var label in Unicode.Split('.'))
        {
            var scripts = new SortedSet<string>(StringComparer.Ordinal);
            foreach (var rune in label.EnumerateRunes())
            {
                var (code, scriptName) = Names.Icu.Script(rune.Value);
                if (code is 0 or 1) continue; // Common, Inherited
                scripts.Add(scriptName);
            }
            if (scripts.Count > 1 && !AllowedCombinations.Any(scripts.IsSubsetOf))
                return $"the label '{label}' mixes scripts ({string.Join(", ", scripts)}); a label is written in one script (UTS 39 highly restrictive)";
        }
        return null;
    }

    private static readonly SortedSet<string>[] AllowedCombinations =
    [
        new(["Latin", "Han", "Hiragana", "Katakana"], StringComparer.Ordinal),
        new(["Latin", "Han", "Bopomofo"], StringComparer.Ordinal),
        new(["Latin", "Han", "Hangul"], StringComparer.Ordinal),
    ];

    /// <summary>True when no label is an A-label: the name is what it looks like.</summary>
    public bool IsAscii => Unicode == Ascii;

    /// <summary>The UTS 39 skeleton of the U-label form: names with equal skeletons look alike.</summary>
    public string Skeleton() => Names.Icu.Available ? Names.Icu.Skeleton(Unicode) : Unicode;

    /// <summary>
    /// Whether this name would pass for <paramref name="other"/> (UTS 39 confusable), when one of
    /// the two is internationalised. Two all-ASCII names are never confusable here: look-alikes
    /// within ASCII ("rn" and "m", "1" and "l") are names the operator types on purpose, not ones
    /// a change of script sneaks in.
    /// </summary>
    public bool IsConfusableWith(DomainName other) =>
        Ascii != other.Ascii && !(IsAscii && other.IsAscii) && Skeleton() == other.Skeleton();

    /// <summary>Only ASCII letters, digits, hyphens and dots, and no A-label: nothing for UTS 46 to map or check.</summary>
    private static bool IsPlainLdh(string s)
    {
        foreach (var c in s)
        {
            if (!(char.IsAsciiLetterOrDigit(c) || c == '-' || c == '.')) return false;
        }
        foreach (var label in s.Split('.'))
        {
            if (label.Length >= 4 && label[2] == '-' && label[3] == '-') return false; // xn-- and other reserved "??--" labels go to UTS 46
        }
        return true;
    }

    /// <summary>RFC 1035 / RFC 5890 limits on the A-label form.</summary>
    private static string? Structure(string ascii)
    {
        if (ascii.Length == 0) return "empty";
        if (ascii.Length > MaxLength) return $"longer than {MaxLength} characters";
        var labels = ascii.Split('.');
        if (labels.Length < 2) return "a hosted domain needs at least two labels (example.com)";
        foreach (var label in labels)
        {
            if (label.Length == 0) return "empty label";
            if (label.Length > MaxLabelLength) return $"a label is longer than {MaxLabelLength} characters";
            if (label[0] == '-' || label[^1] == '-') return $"the label '{label}' starts or ends with a hyphen";
            foreach (var c in label)
            {
                if (!(char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c) || c == '-')) return $"'{c}' is not allowed in a host name";
            }
        }
        // A top-level label of digits only would make this look like an IPv4 address.
        if (labels[^1].All(char.IsAsciiDigit)) return "the top-level label is all digits";
        return null;
    }

    /// <summary>
    /// What IDNA2008 (RFC 5892) disallows but UTS 46 lets through: symbols and emoji (UTS 46 marks
    /// them NV8, valid only for compatibility), punctuation other than the hyphen, spaces. A U-label
    /// holds letters, combining marks and digits.
    /// </summary>
    private static string? Idna2008(string unicode)
    {
        foreach (var rune in unicode.EnumerateRunes())
        {
            if (rune.Value is '-' or '.' || ContextualRules.Contains(rune.Value)) continue;
            var category = Rune.GetUnicodeCategory(rune);
            switch (category)
            {
                case UnicodeCategory.LowercaseLetter:
                case UnicodeCategory.OtherLetter:
                case UnicodeCategory.ModifierLetter:
                case UnicodeCategory.NonSpacingMark:
                case UnicodeCategory.SpacingCombiningMark:
                case UnicodeCategory.DecimalDigitNumber:
                    continue;
                default:
                    return $"U+{rune.Value:X4} ({category}) is not allowed in a domain name (IDNA2008, RFC 5892: letters, marks and digits only)";
            }
        }
        return null;
    }

    /// <summary>
    /// RFC 5892 CONTEXTJ (zero-width non-joiner and joiner) and CONTEXTO (middle dot, Greek keraia,
    /// Hebrew geresh and gershayim, katakana middle dot) code points: valid where their context
    /// rule holds, which ICU checks (CheckContextJ, CheckContextO) before this.
    /// </summary>
    private static readonly HashSet<int> ContextualRules = [0x200C, 0x200D, 0x00B7, 0x0375, 0x05F3, 0x05F4, 0x30FB];

    /// <summary>The first UTS 46 error bit (uidna.h UIDNA_ERROR_*) in words.</summary>
    private static string Explain(uint errors)
    {
        if (errors == uint.MaxValue) return "not a processable domain name";
        (uint Bit, string Text)[] reasons =
        [
            (0x1, "empty label"),
            (0x2, $"a label is longer than {MaxLabelLength} characters"),
            (0x4, $"longer than {MaxLength} characters"),
            (0x8, "a label starts with a hyphen"),
            (0x10, "a label ends with a hyphen"),
            (0x20, "a label has hyphens in its third and fourth positions but is no valid A-label"),
            (0x40, "a label starts with a combining mark"),
            (0x80, "a character that is not allowed in domain names (UTS 46 disallowed)"),
            (0x100, "invalid Punycode in an xn-- label"),
            (0x200, "a label contains a dot after mapping"),
            (0x400, "an xn-- label does not decode to a valid U-label"),
            (0x800, "right-to-left and left-to-right text mixed against the Bidi rule (RFC 5893)"),
            (0x1000, "a zero-width joiner or non-joiner where RFC 5892 CONTEXTJ does not allow it"),
            (0x2000, "punctuation where RFC 5892 CONTEXTO does not allow it"),
            (0x4000, "Arabic-Indic digits of both kinds in one label (RFC 5892 CONTEXTO)"),
        ];
        foreach (var (bit, text) in reasons)
        {
            if ((errors & bit) != 0) return text;
        }
        return $"not a valid domain name (IDNA errors 0x{errors:X})";
    }
}

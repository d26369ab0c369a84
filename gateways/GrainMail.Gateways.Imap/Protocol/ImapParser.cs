using System.Text;

namespace GrainMail.Gateways.Imap.Protocol;

/// <summary>A command the parser could not read: answered with BAD.</summary>
public sealed class ImapSyntaxException(string message) : Exception(message);

/// <summary>
/// Reads the tokens of one IMAP command (RFC 3501 section 9 grammar): atoms, quoted strings,
/// literals, parenthesised lists, sequence sets. Line text is UTF-8 (RFC 6855 / IMAP4rev2).
/// </summary>
public sealed class ImapParser
{
    private static readonly UTF8Encoding Utf8 = new(false, throwOnInvalidBytes: true);
    private readonly RawCommand _command;
    private int _part;
    private int _pos;

    public ImapParser(RawCommand command)
    {
        _command = command;
    }

    private ReadOnlySpan<byte> Line => _command.Parts[_part].Span;

    /// <summary>A second reader at this one's position, for a look at what follows without consuming it.</summary>
    public ImapParser Fork() => new(_command) { _part = _part, _pos = _pos, StringCharset = StringCharset };

    private bool OnLiteral => _part < _command.Parts.Count && _command.IsLiteral[_part];

    /// <summary>True when nothing but the end of the command remains.</summary>
    public bool AtEnd => _part >= _command.Parts.Count || (!OnLiteral && _pos >= Line.Length && _part == _command.Parts.Count - 1);

    public int Peek()
    {
        NormalisePosition();
        if (_part >= _command.Parts.Count) return -1;
        if (OnLiteral) return '{';
        return _pos < Line.Length ? Line[_pos] : -1;
    }

    // A line piece that has been read to its end hands over to the literal that follows it.
    private void NormalisePosition()
    {
        while (_part < _command.Parts.Count - 1 && !OnLiteral && _pos >= Line.Length)
        {
            _part++;
            _pos = 0;
        }
    }

    public bool TryConsume(char c)
    {
        if (Peek() != c || OnLiteral) return false;
        _pos++;
        return true;
    }

    /// <summary>Consumes <paramref name="keyword"/> and the space after it when they come next.</summary>
    public bool TryConsumeKeyword(string keyword)
    {
        NormalisePosition();
        if (OnLiteral || _part >= _command.Parts.Count) return false;
        var line = Line;
        if (line.Length - _pos <= keyword.Length || line[_pos + keyword.Length] != ' ') return false;
        for (var i = 0; i < keyword.Length; i++)
            if (char.ToUpperInvariant((char)line[_pos + i]) != keyword[i]) return false;
        _pos += keyword.Length + 1;
        return true;
    }

    public void Expect(char c)
    {
        if (!TryConsume(c)) throw new ImapSyntaxException(c == ' ' ? "Expected a space" : $"Expected '{c}'");
    }

    public void ExpectSpace() => Expect(' ');

    public void ExpectEnd()
    {
        if (!AtEnd) throw new ImapSyntaxException("Unexpected extra arguments");
    }

    /// <summary>An atom: printable ASCII other than the specials of RFC 3501 (']' allowed when asked).</summary>
    public string ReadAtom(bool allowBracket = false, bool allowWildcards = false)
    {
        NormalisePosition();
        if (OnLiteral || _part >= _command.Parts.Count) throw new ImapSyntaxException("Expected an atom");
        var line = Line;
        var start = _pos;
        while (_pos < line.Length && IsAtomChar(line[_pos], allowBracket, allowWildcards)) _pos++;
        if (_pos == start) throw new ImapSyntaxException("Expected an atom");
        return Encoding.ASCII.GetString(line[start.._pos]);
    }

    public static bool IsAtomChar(byte b, bool allowBracket = false, bool allowWildcards = false) => b switch
    {
        <= 0x20 or >= 0x7f => false,
        (byte)'(' or (byte)')' or (byte)'{' or (byte)'"' or (byte)'\\' => false,
        (byte)'%' or (byte)'*' => allowWildcards,
        (byte)']' => allowBracket,
        _ => true,
    };

    /// <summary>A quoted string or a literal, as bytes.</summary>
    public byte[] ReadStringBytes()
    {
        NormalisePosition();
        if (OnLiteral)
        {
            var bytes = _command.Parts[_part].ToArray();
            _part++;
            _pos = 0;
            return bytes;
        }
        if (Peek() != '"') throw new ImapSyntaxException("Expected a string");
        _pos++;
        var line = Line;
        var buffer = new List<byte>();
        while (_pos < line.Length)
        {
            var b = line[_pos++];
            if (b == '"') return buffer.ToArray();
            if (b == '\\')
            {
                if (_pos >= line.Length) break;
                b = line[_pos++];
                if (b != '"' && b != '\\') throw new ImapSyntaxException("Bad escape in quoted string");
            }
            buffer.Add(b);
        }
        throw new ImapSyntaxException("Unterminated quoted string");
    }

    /// <summary>
    /// The charset strings are read in, when not UTF-8: SEARCH CHARSET (RFC 3501 6.4.4) names the
    /// charset of the search strings that follow.
    /// </summary>
    public Encoding? StringCharset { get; set; }

    public string ReadString()
    {
        var bytes = ReadStringBytes();
        return StringCharset is { } charset ? charset.GetString(bytes) : Decode(bytes);
    }

    /// <summary>astring: an atom (']' allowed) or a string.</summary>
    public string ReadAString()
    {
        var c = Peek();
        return c == '"' || c == '{' ? ReadString() : ReadAtom(allowBracket: true);
    }

    /// <summary>A mailbox name or LIST pattern: astring, or an atom with % and * for patterns.</summary>
    public string ReadListMailbox()
    {
        var c = Peek();
        return c == '"' || c == '{' ? ReadString() : ReadAtom(allowBracket: true, allowWildcards: true);
    }

    public long ReadNumber()
    {
        var atom = ReadAtom();
        if (!long.TryParse(atom, System.Globalization.NumberStyles.None, null, out var n)) throw new ImapSyntaxException("Expected a number");
        return n;
    }

    /// <summary>A sequence set such as <c>1:5,7,9:*</c> or <c>$</c>.</summary>
    public SequenceSet ReadSequenceSet() => SequenceSet.Parse(ReadAtom(allowWildcards: true));

    /// <summary>Reads a parenthesised list, calling <paramref name="item"/> for each element.</summary>
    public void ReadList(Action item)
    {
        Expect('(');
        if (TryConsume(')')) return;
        while (true)
        {
            item();
            if (TryConsume(')')) return;
            ExpectSpace();
        }
    }

    public static string Decode(byte[] bytes)
    {
        try
        {
            return Utf8.GetString(bytes);
        }
        catch (DecoderFallbackException)
        {
            throw new ImapSyntaxException("Invalid UTF-8");
        }
    }

    /// <summary>The tag of a command line, or null when none can be read.</summary>
    public static string? TagOf(byte[] firstLine)
    {
        var i = 0;
        while (i < firstLine.Length && IsAtomChar(firstLine[i]) && firstLine[i] != '+') i++;
        return i == 0 || i > 64 ? null : Encoding.ASCII.GetString(firstLine, 0, i);
    }
}

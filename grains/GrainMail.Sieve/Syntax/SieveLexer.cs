using System.Text;

namespace GrainMail.Sieve.Syntax;

public enum SieveTokenKind
{
    Identifier,
    Tag,
    Number,
    String,
    LeftBracket,
    RightBracket,
    LeftParen,
    RightParen,
    LeftBrace,
    RightBrace,
    Comma,
    Semicolon,
    End,
}

/// <summary>One lexical token (RFC 5228 8.1) and the line it starts on.</summary>
public readonly record struct SieveToken(SieveTokenKind Kind, string Text, long Number, int Line);

/// <summary>
/// The lexer of RFC 5228 8.1: hands out one token at a time, so the parser never holds more than
/// the token in front of it. Comments (<c>#</c> to end of line, bracketed) and white space are
/// skipped; quoted strings are unescaped (2.4.2) and multi-line strings dot-unstuffed (2.4.2).
/// Line ends may be CRLF or bare LF (scripts edited on Unix arrive that way).
/// </summary>
public sealed class SieveLexer(string text)
{
    private int _pos;
    private int _line = 1;

    public int Line => _line;

    public SieveToken Next()
    {
        SkipSpaceAndComments();
        if (_pos >= text.Length) return new(SieveTokenKind.End, "", 0, _line);
        var line = _line;
        var c = text[_pos];
        switch (c)
        {
            case '[': _pos++; return new(SieveTokenKind.LeftBracket, "[", 0, line);
            case ']': _pos++; return new(SieveTokenKind.RightBracket, "]", 0, line);
            case '(': _pos++; return new(SieveTokenKind.LeftParen, "(", 0, line);
            case ')': _pos++; return new(SieveTokenKind.RightParen, ")", 0, line);
            case '{': _pos++; return new(SieveTokenKind.LeftBrace, "{", 0, line);
            case '}': _pos++; return new(SieveTokenKind.RightBrace, "}", 0, line);
            case ',': _pos++; return new(SieveTokenKind.Comma, ",", 0, line);
            case ';': _pos++; return new(SieveTokenKind.Semicolon, ";", 0, line);
            case '"': return QuotedString(line);
            case ':':
                {
                    _pos++;
                    var name = Identifier();
                    if (name.Length == 0) throw new SieveSyntaxException(line, "':' must be followed by a tag name");
                    return new(SieveTokenKind.Tag, name.ToLowerInvariant(), 0, line);
                }
        }
        if (char.IsAsciiDigit(c)) return NumberToken(line);
        if (IsIdentifierStart(c))
        {
            var name = Identifier();
            // "text:" starts a multi-line string (RFC 5228 2.4.2).
            if (name.Equals("text", StringComparison.OrdinalIgnoreCase) && _pos < text.Length && text[_pos] == ':')
            {
                _pos++;
                return MultiLine(line);
            }
            return new(SieveTokenKind.Identifier, name.ToLowerInvariant(), 0, line);
        }
        throw new SieveSyntaxException(line, $"unexpected character '{Printable(c)}'");
    }

    private static string Printable(char c) => c < 0x20 || c == 0x7f ? $"\\x{(int)c:x2}" : c.ToString();

    private static bool IsIdentifierStart(char c) => char.IsAsciiLetter(c) || c == '_';

    private string Identifier()
    {
        var start = _pos;
        if (_pos < text.Length && IsIdentifierStart(text[_pos]))
        {
            _pos++;
            while (_pos < text.Length && (char.IsAsciiLetterOrDigit(text[_pos]) || text[_pos] == '_')) _pos++;
        }
        return text[start.._pos];
    }

    private SieveToken NumberToken(int line)
    {
        var start = _pos;
        while (_pos < text.Length && char.IsAsciiDigit(text[_pos])) _pos++;
        if (!long.TryParse(text.AsSpan(start, _pos - start), out var n) || n > int.MaxValue * 4L)
            throw new SieveSyntaxException(line, "number too large");
        long factor = 1;
        if (_pos < text.Length)
        {
            factor = char.ToUpperInvariant(text[_pos]) switch { 'K' => 1L << 10, 'M' => 1L << 20, 'G' => 1L << 30, _ => 1 };
            if (factor != 1) _pos++;
        }
        if (_pos < text.Length && (char.IsAsciiLetterOrDigit(text[_pos]) || text[_pos] == '_'))
            throw new SieveSyntaxException(line, "malformed number");
        return new(SieveTokenKind.Number, "", checked(n * factor), line);
    }

    private SieveToken QuotedString(int line)
    {
        _pos++;
        var b = new StringBuilder();
        while (true)
        {
            if (_pos >= text.Length) throw new SieveSyntaxException(line, "unterminated string");
            var c = text[_pos++];
            if (c == '"') break;
            if (c == '\\')
            {
                if (_pos >= text.Length) throw new SieveSyntaxException(line, "unterminated string");
                // RFC 5228 2.4.2: "\\" and "\"" are escapes; any other backslash is dropped.
                c = text[_pos++];
            }
            if (c == '\n') _line++;
            b.Append(c);
        }
        return new(SieveTokenKind.String, b.ToString(), 0, line);
    }

    private SieveToken MultiLine(int line)
    {
        // "text:" *(SP / HTAB) (hash-comment / CRLF)
        while (_pos < text.Length && (text[_pos] == ' ' || text[_pos] == '\t')) _pos++;
        if (_pos < text.Length && text[_pos] == '#')
        {
            while (_pos < text.Length && text[_pos] != '\n') _pos++;
        }
        else if (_pos < text.Length && text[_pos] == '\r') _pos++;
        if (_pos >= text.Length || text[_pos] != '\n') throw new SieveSyntaxException(line, "text: must be followed by a line break");
        _pos++;
        _line++;
        var b = new StringBuilder();
        while (true)
        {
            if (_pos >= text.Length) throw new SieveSyntaxException(line, "multi-line string not ended by a line holding only '.'");
            var end = text.IndexOf('\n', _pos);
            var lineEnd = end < 0 ? text.Length : end;
            var content = text.AsSpan(_pos, lineEnd - _pos);
            if (content.EndsWith("\r")) content = content[..^1];
            _pos = end < 0 ? text.Length : end + 1;
            _line++;
            if (content is ".")
            {
                return new(SieveTokenKind.String, b.ToString(), 0, line);
            }
            if (content.StartsWith("..")) content = content[1..];
            b.Append(content).Append("\r\n");
            if (end < 0) throw new SieveSyntaxException(line, "multi-line string not ended by a line holding only '.'");
        }
    }

    private void SkipSpaceAndComments()
    {
        while (_pos < text.Length)
        {
            var c = text[_pos];
            if (c == '\n') { _line++; _pos++; }
            else if (c is ' ' or '\t' or '\r') _pos++;
            else if (c == '#')
            {
                while (_pos < text.Length && text[_pos] != '\n') _pos++;
            }
            else if (c == '/' && _pos + 1 < text.Length && text[_pos + 1] == '*')
            {
                var start = _line;
                var end = text.IndexOf("*/", _pos + 2, StringComparison.Ordinal);
                if (end < 0) throw new SieveSyntaxException(start, "unterminated comment");
                for (var i = _pos; i < end; i++) if (text[i] == '\n') _line++;
                _pos = end + 2;
            }
            else return;
        }
    }
}

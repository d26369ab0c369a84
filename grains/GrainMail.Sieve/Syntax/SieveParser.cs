namespace GrainMail.Sieve.Syntax;

/// <summary>
/// The grammar of RFC 5228 8.2 by recursive descent over <see cref="SieveLexer"/>: commands,
/// arguments, tests, test lists and blocks, with the nesting depth bounded (blocks and tests
/// together) so that a hostile script cannot exhaust the stack. No meaning is checked here;
/// that is <see cref="Validation.SieveValidator"/>'s job.
/// </summary>
public sealed class SieveParser
{
    private readonly SieveLexer _lexer;
    private readonly SieveLimits _limits;
    private SieveToken _token;
    private int _depth;

    private SieveParser(string text, SieveLimits limits)
    {
        _lexer = new SieveLexer(text);
        _limits = limits;
        _token = _lexer.Next();
    }

    /// <summary>Parses a script; the error names the line and what is wrong.</summary>
    public static (SieveScript? Script, SieveError? Error) Parse(string text, SieveLimits? limits = null)
    {
        limits ??= SieveLimits.Default;
        if (System.Text.Encoding.UTF8.GetByteCount(text) > limits.MaxScriptBytes)
            return (null, new SieveError(1, $"script larger than {limits.MaxScriptBytes} bytes"));
        try
        {
            var parser = new SieveParser(text, limits);
            var commands = parser.Commands(topLevel: true);
            return (new SieveScript(commands), null);
        }
        catch (SieveSyntaxException e)
        {
            return (null, e.Error);
        }
        catch (OverflowException)
        {
            return (null, new SieveError(1, "number too large"));
        }
    }

    private void Advance() => _token = _lexer.Next();

    private SieveSyntaxException Unexpected(string expected) =>
        new(_token.Line, _token.Kind == SieveTokenKind.End ? $"unexpected end of script, expected {expected}" : $"unexpected {Describe(_token)}, expected {expected}");

    private static string Describe(SieveToken t) => t.Kind switch
    {
        SieveTokenKind.Identifier => $"'{t.Text}'",
        SieveTokenKind.Tag => $"':{t.Text}'",
        SieveTokenKind.Number => "number",
        SieveTokenKind.String => "string",
        _ => $"'{t.Text}'",
    };

    private List<SieveCommand> Commands(bool topLevel)
    {
        var list = new List<SieveCommand>();
        while (_token.Kind == SieveTokenKind.Identifier) list.Add(Command());
        if (topLevel && _token.Kind != SieveTokenKind.End) throw Unexpected("a command");
        return list;
    }

    private void Enter(int line)
    {
        if (++_depth > _limits.MaxNesting) throw new SieveSyntaxException(line, $"nested deeper than {_limits.MaxNesting} levels");
    }

    private SieveCommand Command()
    {
        var line = _token.Line;
        var name = _token.Text;
        Advance();
        var args = Arguments();
        var (tests, isList) = TestsAfterArguments();
        if (_token.Kind == SieveTokenKind.Semicolon)
        {
            Advance();
            return new SieveCommand(name, args, tests, null, line, isList);
        }
        if (_token.Kind == SieveTokenKind.LeftBrace)
        {
            Enter(_token.Line);
            Advance();
            var block = Commands(topLevel: false);
            if (_token.Kind != SieveTokenKind.RightBrace) throw Unexpected("'}' or a command");
            Advance();
            _depth--;
            return new SieveCommand(name, args, tests, block, line, isList);
        }
        throw Unexpected("';' or '{'");
    }

    private (List<SieveTest> Tests, bool IsList) TestsAfterArguments()
    {
        if (_token.Kind == SieveTokenKind.Identifier) return ([Test()], false);
        if (_token.Kind == SieveTokenKind.LeftParen) return (TestList(), true);
        return ([], false);
    }

    private List<SieveTest> TestList()
    {
        Enter(_token.Line);
        Advance();
        var tests = new List<SieveTest> { Test() };
        while (_token.Kind == SieveTokenKind.Comma)
        {
            Advance();
            tests.Add(Test());
        }
        if (_token.Kind != SieveTokenKind.RightParen) throw Unexpected("',' or ')'");
        Advance();
        _depth--;
        return tests;
    }

    private SieveTest Test()
    {
        if (_token.Kind != SieveTokenKind.Identifier) throw Unexpected("a test");
        var line = _token.Line;
        var name = _token.Text;
        Enter(line);
        Advance();
        var args = Arguments();
        var (tests, isList) = TestsAfterArguments();
        _depth--;
        return new SieveTest(name, args, tests, line, isList);
    }

    private List<SieveArgument> Arguments()
    {
        var args = new List<SieveArgument>();
        while (true)
        {
            switch (_token.Kind)
            {
                case SieveTokenKind.Tag:
                    args.Add(new TagArgument(_token.Text, _token.Line));
                    Advance();
                    break;
                case SieveTokenKind.Number:
                    args.Add(new NumberArgument(_token.Number, _token.Line));
                    Advance();
                    break;
                case SieveTokenKind.String:
                    args.Add(new StringListArgument([_token.Text], false, _token.Line));
                    Advance();
                    break;
                case SieveTokenKind.LeftBracket:
                    args.Add(StringList());
                    break;
                default:
                    return args;
            }
            if (args.Count > _limits.MaxArguments) throw new SieveSyntaxException(_token.Line, "too many arguments");
        }
    }

    private StringListArgument StringList()
    {
        var line = _token.Line;
        Advance();
        var values = new List<string>();
        while (true)
        {
            if (_token.Kind != SieveTokenKind.String) throw Unexpected("a string in the list");
            values.Add(_token.Text);
            if (values.Count > _limits.MaxListLength) throw new SieveSyntaxException(_token.Line, $"string list longer than {_limits.MaxListLength}");
            Advance();
            if (_token.Kind == SieveTokenKind.Comma) { Advance(); continue; }
            if (_token.Kind == SieveTokenKind.RightBracket) { Advance(); break; }
            throw Unexpected("',' or ']'");
        }
        return new StringListArgument(values, true, line);
    }
}

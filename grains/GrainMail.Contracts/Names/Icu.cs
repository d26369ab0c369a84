using System.Runtime.InteropServices;
using System.Text;

namespace GrainMail.Contracts.Names;

/// <summary>
/// The few ICU functions domain names need: UTS 46 processing (uidna), script of a code point
/// (uscript) and the UTS 39 skeleton (uspoof, with ICU's built-in confusables table). Called
/// directly, because the project runs with InvariantGlobalization: there IdnMapping is plain
/// Punycode without the UTS 46 mapping, validity checks or normalisation. ICU ships with every
/// .NET host that is not in invariant mode (Debian: libicu72; the aspnet images carry it).
/// </summary>
internal static class Icu
{
    // uidna.h option bits.
    private const uint UseStd3Rules = 0x2, CheckBidi = 0x4, CheckContextJ = 0x8, NontransitionalToAscii = 0x10,
        NontransitionalToUnicode = 0x20, CheckContextO = 0x40;

    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    private delegate IntPtr OpenUts46(uint options, ref int status);

    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    private delegate int NameConvert(IntPtr idna, ushort[] name, int length, ushort[] dest, int capacity, ref IdnaInfo info, ref int status);

    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    private delegate int GetScript(int codePoint, ref int status);

    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    private delegate IntPtr GetScriptName(int script);

    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    private delegate IntPtr OpenSpoof(ref int status);

    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    private delegate int SpoofSkeleton(IntPtr checker, uint type, ushort[] id, int length, ushort[] dest, int capacity, ref int status);

    /// <summary>UIDNAInfo (uidna.h): size, two flags, the error bits, two reserved ints.</summary>
    [StructLayout(LayoutKind.Sequential)]
    private struct IdnaInfo
    {
        public short Size;
        public byte IsTransitionalDifferent;
        public byte ReservedB3;
        public uint Errors;
        public int ReservedI2;
        public int ReservedI3;
    }

    private sealed record Api(
        IntPtr Idna, NameConvert ToAscii, NameConvert ToUnicode, GetScript Script, GetScriptName ScriptName, IntPtr Spoof, SpoofSkeleton Skeleton);

    private static readonly Lazy<Api?> Loaded = new(Load);

    public static bool Available => Loaded.Value is not null;

    private static Api Require() => Loaded.Value
        ?? throw new InvalidOperationException("internationalized domain names need ICU (libicuuc, libicui18n) on this host");

    /// <summary>UTS 46 ToASCII (nontransitional, STD3 rules, Bidi, CONTEXTJ/O): the A-label form and the error bits.</summary>
    public static (string Result, uint Errors) ToAscii(string name) => Convert(Require().ToAscii, name);

    /// <summary>UTS 46 ToUnicode: the U-label form and the error bits.</summary>
    public static (string Result, uint Errors) ToUnicode(string name) => Convert(Require().ToUnicode, name);

    private static (string, uint) Convert(NameConvert convert, string name)
    {
        var api = Require();
        var src = Utf16(name);
        var dest = new ushort[Math.Max(64, name.Length * 4 + 16)];
        var info = new IdnaInfo { Size = (short)Marshal.SizeOf<IdnaInfo>() };
        var status = 0;
        var n = convert(api.Idna, src, src.Length, dest, dest.Length, ref info, ref status);
        if (status > 0) return ("", uint.MaxValue);
        return (FromUtf16(dest, n), info.Errors);
    }

    /// <summary>ICU's script code of a code point (0 Common, 1 Inherited) and its name.</summary>
    public static (int Code, string Name) Script(int codePoint)
    {
        var api = Require();
        var status = 0;
        var code = api.Script(codePoint, ref status);
        return (code, Marshal.PtrToStringAnsi(api.ScriptName(code)) ?? code.ToString(System.Globalization.CultureInfo.InvariantCulture));
    }

    /// <summary>UTS 39 skeleton: two strings with the same skeleton are visually confusable.</summary>
    public static string Skeleton(string text)
    {
        var api = Require();
        var src = Utf16(text);
        var dest = new ushort[text.Length * 4 + 16];
        var status = 0;
        var n = api.Skeleton(api.Spoof, 0, src, src.Length, dest, dest.Length, ref status);
        return status > 0 ? text : FromUtf16(dest, n);
    }

    private static ushort[] Utf16(string s)
    {
        var a = new ushort[s.Length];
        for (var i = 0; i < s.Length; i++) a[i] = s[i];
        return a;
    }

    private static string FromUtf16(ushort[] a, int length)
    {
        var sb = new StringBuilder(length);
        for (var i = 0; i < length && i < a.Length; i++) sb.Append((char)a[i]);
        return sb.ToString();
    }

    private static Api? Load()
    {
        // Debian and Ubuntu name the libraries and suffix the symbols with ICU's major version.
        for (var version = 90; version >= 50; version--)
        {
            if (!NativeLibrary.TryLoad($"libicuuc.so.{version}", out var uc)) continue;
            if (!NativeLibrary.TryLoad($"libicui18n.so.{version}", out var i18n)) return null;
            T Fn<T>(IntPtr lib, string name) where T : Delegate =>
                Marshal.GetDelegateForFunctionPointer<T>(NativeLibrary.TryGetExport(lib, $"{name}_{version}", out var p) ? p : NativeLibrary.GetExport(lib, name));
            try
            {
                var status = 0;
                var idna = Fn<OpenUts46>(uc, "uidna_openUTS46")(
                    UseStd3Rules | CheckBidi | CheckContextJ | CheckContextO | NontransitionalToAscii | NontransitionalToUnicode, ref status);
                if (status > 0 || idna == IntPtr.Zero) return null;
                status = 0;
                var spoof = Fn<OpenSpoof>(i18n, "uspoof_open")(ref status);
                if (status > 0 || spoof == IntPtr.Zero) return null;
                return new Api(idna, Fn<NameConvert>(uc, "uidna_nameToASCII"), Fn<NameConvert>(uc, "uidna_nameToUnicode"),
                    Fn<GetScript>(uc, "uscript_getScript"), Fn<GetScriptName>(uc, "uscript_getName"), spoof, Fn<SpoofSkeleton>(i18n, "uspoof_getSkeleton"));
            }
            catch (EntryPointNotFoundException)
            {
                return null;
            }
        }
        return null;
    }
}

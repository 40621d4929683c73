// An MSBuild task (compiled by RoslynCodeTaskFactory from LibTorchSharpShim.targets) that makes TorchSharp's native shim
// load on Debian 12. libLibTorchSharp.so 0.107.0 was linked against GCC 13's libstdc++ and asks for GLIBCXX_3.4.32 for
// exactly one symbol, _ZSt21ios_base_library_initv: a marker GCC 13's <iostream> references so that the library's
// stream initialisation gets linked in. Nothing calls it (libtorch initialises the streams itself), but the dynamic
// loader refuses the whole library when libstdc++ lacks the version (Debian 12 ships GCC 12: up to GLIBCXX_3.4.30).
// Two edits to the copy in the build output make the loader accept it: the symbol's entry in .gnu.version becomes 1
// (global, unversioned: what `patchelf --clear-symbol-version` writes) and the GLIBCXX_3.4.32 entry of .gnu.version_r
// is marked weak (VER_FLG_WEAK in vna_flags), so a missing version is no longer an error. The task checks first that
// the shim's needs are exactly those; anything else fails the build with the reason instead of patching blindly.
#nullable enable
using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text;
using Microsoft.Build.Framework;
using Microsoft.Build.Utilities;

public sealed class FixLibTorchSharpShim : Task
{
    const string Version = "GLIBCXX_3.4.32";
    const string Marker = "_ZSt21ios_base_library_initv";
    const ushort VerFlagWeak = 0x2;
    const uint ShtDynsym = 11, ShtVerdef = 0x6ffffffd, ShtVerneed = 0x6ffffffe, ShtVersym = 0x6fffffff;

    /// <summary>The shim in a build or publish output (never the NuGet cache's copy).</summary>
    [Required]
    public string Shim { get; set; } = "";

    public override bool Execute()
    {
        try
        {
            var libstdcxx = SystemLibstdcxx();
            if (libstdcxx == null)
            {
                Log.LogMessage(MessageImportance.High, $"{Shim}: no system libstdc++.so.6 found; left as shipped");
                return true;
            }
            var provided = new HashSet<string>(Elf.Read(libstdcxx).Definitions());
            var result = Fix(provided);
            Log.LogMessage(MessageImportance.Normal, $"{Shim}: {result} (system {libstdcxx})");
            return true;
        }
        catch (InvalidDataException e)
        {
            Log.LogError($"{Shim}: {e.Message}");
            return false;
        }
    }

    string Fix(HashSet<string> provided)
    {
        var elf = Elf.Read(Shim);
        var needs = elf.Needs("libstdc++.so.6");
        var missing = needs.Where(n => !provided.Contains(n.Name)).ToList();
        if (missing.Count == 0)
            return "the system libstdc++ has every version the shim asks for; left as shipped";
        if (missing.Any(n => n.Name != Version))
            throw new InvalidDataException($"needs {string.Join(", ", missing.Select(n => n.Name))} from libstdc++.so.6, which "
                + $"the system's lacks; the build's fix covers only {Version} for {Marker} (TorchSharp 0.107.0)");
        var need = missing[0];
        var users = elf.SymbolsOfVersion(need.Index);
        if (users.Any(s => s.Name != Marker))
            throw new InvalidDataException($"{Version} is asked for by {string.Join(", ", users.Select(s => s.Name))}, not only "
                + $"by the never-called marker {Marker}; clearing its version would not be safe");
        if (users.Count == 0 && (need.Flags & VerFlagWeak) != 0)
            return "already fixed";
        var bytes = (byte[])elf.Bytes.Clone();
        foreach (var s in users)
            Elf.WriteU16(bytes, s.VersymOffset, 1);
        Elf.WriteU16(bytes, need.FlagsOffset, (ushort)(need.Flags | VerFlagWeak));
        // A new file moved over the old one: the output's copy may be a hard link into the NuGet cache, which stays intact.
        var temp = Shim + ".fixing";
        File.WriteAllBytes(temp, bytes);
        File.Replace(temp, Shim, null);
        return $"cleared the version of {Marker} and marked {Version} weak";
    }

    /// <summary>The libstdc++ this process (dotnet, which links it) loaded: the one the loader gives the shim.</summary>
    static string? SystemLibstdcxx()
    {
        if (File.Exists("/proc/self/maps"))
            foreach (var line in File.ReadLines("/proc/self/maps"))
            {
                var at = line.IndexOf('/');
                if (at >= 0 && Path.GetFileName(line.Substring(at)).StartsWith("libstdc++.so", StringComparison.Ordinal))
                    return line.Substring(at);
            }
        return new[] { "/usr/lib/x86_64-linux-gnu/libstdc++.so.6", "/lib/x86_64-linux-gnu/libstdc++.so.6" }.FirstOrDefault(File.Exists);
    }

    // Plain classes, not records: the task factory compiles for netstandard2.0, which lacks init-only setters.
    sealed class Need(string name, int index, ushort flags, int flagsOffset)
    {
        public string Name { get; } = name;
        public int Index { get; } = index;
        public ushort Flags { get; } = flags;
        public int FlagsOffset { get; } = flagsOffset;
    }

    sealed class Symbol(string name, int versymOffset)
    {
        public string Name { get; } = name;
        public int VersymOffset { get; } = versymOffset;
    }

    /// <summary>The few parts of a 64-bit little-endian ELF shared object that symbol versioning lives in.</summary>
    sealed class Elf
    {
        readonly List<(uint Type, long Offset, long Size, int Link)> sections = [];

        Elf(byte[] bytes, string path)
        {
            Bytes = bytes;
            if (bytes.Length < 64 || bytes[0] != 0x7f || bytes[1] != (byte)'E' || bytes[2] != (byte)'L' || bytes[3] != (byte)'F'
                || bytes[4] != 2 || bytes[5] != 1)
                throw new InvalidDataException($"{path} is not a 64-bit little-endian ELF file");
            long shoff = (long)BitConverter.ToUInt64(bytes, 0x28);
            int shentsize = BitConverter.ToUInt16(bytes, 0x3A), shnum = BitConverter.ToUInt16(bytes, 0x3C);
            for (int i = 0; i < shnum; i++)
            {
                int h = checked((int)(shoff + (long)i * shentsize));
                sections.Add((BitConverter.ToUInt32(bytes, h + 4), (long)BitConverter.ToUInt64(bytes, h + 0x18),
                    (long)BitConverter.ToUInt64(bytes, h + 0x20), (int)BitConverter.ToUInt32(bytes, h + 0x28)));
            }
        }

        public byte[] Bytes { get; }

        public static Elf Read(string path) => new(File.ReadAllBytes(path), path);

        public static void WriteU16(byte[] bytes, int offset, ushort value)
        {
            bytes[offset] = (byte)value;
            bytes[offset + 1] = (byte)(value >> 8);
        }

        /// <summary>Version names the object defines (.gnu.version_d).</summary>
        public IEnumerable<string> Definitions()
        {
            foreach (var s in sections.Where(s => s.Type == ShtVerdef))
            {
                var strings = sections[s.Link].Offset;
                for (long d = s.Offset; ;)
                {
                    int count = BitConverter.ToUInt16(Bytes, (int)d + 6);
                    long aux = d + BitConverter.ToUInt32(Bytes, (int)d + 12);
                    for (int i = 0; i < count; i++)
                    {
                        yield return String(strings + BitConverter.ToUInt32(Bytes, (int)aux));
                        aux += BitConverter.ToUInt32(Bytes, (int)aux + 4);
                    }
                    uint next = BitConverter.ToUInt32(Bytes, (int)d + 16);
                    if (next == 0) break;
                    d += next;
                }
            }
        }

        /// <summary>The versions the object asks of one library (.gnu.version_r), with their indices and flags.</summary>
        public List<Need> Needs(string library)
        {
            var result = new List<Need>();
            foreach (var s in sections.Where(s => s.Type == ShtVerneed))
            {
                var strings = sections[s.Link].Offset;
                for (long n = s.Offset; ;)
                {
                    int count = BitConverter.ToUInt16(Bytes, (int)n + 2);
                    var file = String(strings + BitConverter.ToUInt32(Bytes, (int)n + 4));
                    long aux = n + BitConverter.ToUInt32(Bytes, (int)n + 8);
                    for (int i = 0; i < count; i++)
                    {
                        if (file == library)
                            result.Add(new Need(String(strings + BitConverter.ToUInt32(Bytes, (int)aux + 8)),
                                BitConverter.ToUInt16(Bytes, (int)aux + 6), BitConverter.ToUInt16(Bytes, (int)aux + 4), (int)aux + 4));
                        aux += BitConverter.ToUInt32(Bytes, (int)aux + 12);
                    }
                    uint next = BitConverter.ToUInt32(Bytes, (int)n + 12);
                    if (next == 0) break;
                    n += next;
                }
            }
            return result;
        }

        /// <summary>The dynamic symbols whose .gnu.version entry is <paramref name="index"/> (hidden bit ignored).</summary>
        public List<Symbol> SymbolsOfVersion(int index)
        {
            var dynsym = sections.Single(s => s.Type == ShtDynsym);
            var versym = sections.Single(s => s.Type == ShtVersym);
            var strings = sections[dynsym.Link].Offset;
            var result = new List<Symbol>();
            for (long i = 0; i < dynsym.Size / 24; i++)
            {
                int at = (int)(versym.Offset + 2 * i);
                if ((BitConverter.ToUInt16(Bytes, at) & 0x7fff) == index)
                    result.Add(new Symbol(String(strings + BitConverter.ToUInt32(Bytes, (int)(dynsym.Offset + 24 * i))), at));
            }
            return result;
        }

        string String(long offset)
        {
            int end = Array.IndexOf(Bytes, (byte)0, (int)offset);
            return Encoding.ASCII.GetString(Bytes, (int)offset, end - (int)offset);
        }
    }
}

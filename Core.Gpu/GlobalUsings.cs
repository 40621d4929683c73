// Namespaces that most files of this project use, imported once here rather than in each file.
global using System.Buffers;
global using System.Numerics;
global using System.Runtime.CompilerServices;
global using System.Runtime.Intrinsics;
global using System.Runtime.Intrinsics.X86;

// Namespaces that most files of this project use, imported once here rather than in each file.
global using System.Buffers.Binary;
global using System.Numerics;
global using System.Numerics.Tensors;
global using Hybrid.Core.Nn.Modules;

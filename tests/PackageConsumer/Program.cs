using Hybrid.Core.Gpu;

// One masked conv2d and one CKA score through the packages' public API, each on the fast Cpu backend and on the
// Reference backend (the specification). Prints one "name value" line per figure for PackageTests to check.
var rng = new Random(11);
float[] Normal(int n) => Enumerable.Range(0, n).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray();

var shape = Conv2dShape.Square(batch: 2, inChannels: 3, size: 9, outChannels: 4, k: 3, p: 1);
var x = Normal(shape.InputLength);
var weight = Normal(shape.WeightLength);
var scores = Normal(shape.WeightLength);
var bias = Normal(shape.OutChannels);

float[] MaskedConv(Device device)
{
    var p = new LayerParameters(device.Upload<float>(weight), device.Upload<float>(scores), device.Upload<float>(bias));
    using var input = device.Upload<float>(x);
    using var y = device.Allocate<float>(shape.OutputLength);
    Conv2d.Forward(shape, p, input, y);
    return y.ToArray();
}

var fast = MaskedConv(Device.Cpu);
var reference = MaskedConv(Device.Reference);
var kept = scores.Count(s => s > 0);
Console.WriteLine($"conv_outputs {fast.Length}");
Console.WriteLine($"conv_weights_kept {kept}/{scores.Length}");
Console.WriteLine($"conv_max_difference {fast.Zip(reference, (a, b) => Math.Abs(a - b)).Max():R}");
Console.WriteLine($"conv_max_magnitude {reference.Max(Math.Abs):R}");

// Layer y is a linear map of layer x plus a little noise, so its CKA with x is high but below 1; CKA(x, x) is 1.
const int samples = 40, features = 12;
var a = Normal(samples * features);
var b = new float[samples * features];
for (int i = 0; i < samples; i++)
    for (int j = 0; j < features; j++)
        b[i * features + j] = 2 * a[i * features + (j + 1) % features] - a[i * features + j] + 0.1f * (float)(rng.NextDouble() - 0.5);
var ax = Activations.Of(a, samples);
var bx = Activations.Of(b, samples);
Console.WriteLine($"cka_self {Cka.Score(Device.Cpu, ax, ax):R}");
Console.WriteLine($"cka_cpu {Cka.Score(Device.Cpu, ax, bx):R}");
Console.WriteLine($"cka_reference {Cka.Score(Device.Reference, ax, bx):R}");

# Writes mixer.safetensors: a tiny MLP-Mixer's state, an input, its logits and the input's gradient as PyTorch computes
# them in float64, read by tests/MixerTests.fs. Regenerate from the repository root with Debian's python3-torch (1.13):
#   python3 tests/golden/make_mixer.py tests/golden/mixer.safetensors
# Debian ships no timm, so the classes below restate timm's (timm/models/mlp_mixer.py: MlpMixer, MixerBlock;
# timm/layers/mlp.py: Mlp; timm/layers/patch_embed.py: PatchEmbed; huggingface/pytorch-image-models at aa4b5850) with the
# same attribute names and forward code, dropping only what the default configuration leaves unused (dropout rates 0,
# no stem norm, drop_path Identity). The state gets random values, the head's included (timm starts it at zero).
# Keys: "state.<key>" for every state entry, "x" (2, 3, 8, 8), "y" the logits (2, 5), "v" a projection of y and "gx"
# the gradient of sum(v * y) with respect to x.
import sys
from functools import partial

import torch
import torch.nn as nn
from safetensors_writer import write

torch.manual_seed(11)
torch.set_default_dtype(torch.float64)


class Mlp(nn.Module):
    def __init__(self, in_features, hidden_features):
        super().__init__()
        self.fc1 = nn.Linear(in_features, hidden_features)
        self.act = nn.GELU()
        self.drop1 = nn.Dropout(0.0)
        self.norm = nn.Identity()
        self.fc2 = nn.Linear(hidden_features, in_features)
        self.drop2 = nn.Dropout(0.0)

    def forward(self, x):
        return self.drop2(self.fc2(self.norm(self.drop1(self.act(self.fc1(x))))))


class PatchEmbed(nn.Module):
    def __init__(self, img_size, patch_size, in_chans, embed_dim):
        super().__init__()
        self.num_patches = (img_size // patch_size) ** 2
        self.proj = nn.Conv2d(in_chans, embed_dim, kernel_size=patch_size, stride=patch_size)
        self.norm = nn.Identity()

    def forward(self, x):
        return self.norm(self.proj(x).flatten(2).transpose(1, 2))


class MixerBlock(nn.Module):
    def __init__(self, dim, seq_len, mlp_ratio=(0.5, 4.0), norm_layer=partial(nn.LayerNorm, eps=1e-6)):
        super().__init__()
        tokens_dim, channels_dim = [int(x * dim) for x in mlp_ratio]
        self.norm1 = norm_layer(dim)
        self.mlp_tokens = Mlp(seq_len, tokens_dim)
        self.drop_path = nn.Identity()
        self.norm2 = norm_layer(dim)
        self.mlp_channels = Mlp(dim, channels_dim)

    def forward(self, x):
        x = x + self.drop_path(self.mlp_tokens(self.norm1(x).transpose(1, 2)).transpose(1, 2))
        x = x + self.drop_path(self.mlp_channels(self.norm2(x)))
        return x


class MlpMixer(nn.Module):
    def __init__(self, num_classes, img_size, in_chans, patch_size, num_blocks, embed_dim):
        super().__init__()
        self.stem = PatchEmbed(img_size, patch_size, in_chans, embed_dim)
        self.blocks = nn.Sequential(*[MixerBlock(embed_dim, self.stem.num_patches) for _ in range(num_blocks)])
        self.norm = nn.LayerNorm(embed_dim, eps=1e-6)
        self.head_drop = nn.Dropout(0.0)
        self.head = nn.Linear(embed_dim, num_classes)

    def forward(self, x):
        x = self.norm(self.blocks(self.stem(x)))
        return self.head(self.head_drop(x.mean(dim=1)))


# MlpMixer(num_classes=5, img_size=8, in_chans=3, patch_size=2, num_blocks=2, embed_dim=12): 16 tokens of width 12,
# token MLP 6, channel MLP 48.
model = MlpMixer(5, 8, 3, 2, 2, 12).eval()
tensors = {}
with torch.no_grad():
    for key, value in model.state_dict().items():
        value.copy_(torch.randn_like(value) * 0.5 + (1.0 if key.endswith("norm1.weight") or key.endswith("norm2.weight")
                                                     or key == "norm.weight" else 0.0))
        tensors["state." + key] = value.clone()
x = torch.randn(2, 3, 8, 8, requires_grad=True)
y = model(x)
v = torch.randn_like(y)
(y * v).sum().backward()
tensors.update(x=x.detach(), y=y.detach(), v=v, gx=x.grad)
write(sys.argv[1] if len(sys.argv) > 1 else "tests/golden/mixer.safetensors", tensors, {"torch": torch.__version__})

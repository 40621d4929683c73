#!/usr/bin/python3
"""Writes tests/golden/onnx_ops/*.onnx (one small graph per operator form) and tests/golden/onnx_ops.safetensors
holding each graph's inputs ("CASE.INPUT") and expected outputs ("CASE.OUTPUT").

Expected values come from PyTorch (Debian's python3-torch) functions that state the ONNX semantics independently of
our session: conv2d, linear algebra, pooling, softmax, padding and indexing. Run from the repository root:
    /usr/bin/python3 tests/golden/make_onnx_ops.py
"""
import os

import numpy as np
import onnx
import torch
import torch.nn.functional as F
from onnx import TensorProto, helper, numpy_helper
from safetensors_writer import write

HERE = os.path.dirname(os.path.abspath(__file__))
OUT_DIR = os.path.join(HERE, "onnx_ops")
INT64_MAX = 2**63 - 1
INT64_MIN = -(2**63)
rng = np.random.default_rng(20261122)
tensors = {}


def rand(*shape):
    return rng.standard_normal(shape).astype(np.float32)


def t(a):
    return torch.from_numpy(np.ascontiguousarray(a))


def const(name, values, dtype=np.int64):
    return numpy_helper.from_array(np.array(values, dtype=dtype), name)


def case(name, nodes, inputs, outputs, initializers=(), opset=13):
    """inputs: {name: array}; outputs: {name: expected array}."""
    graph = helper.make_graph(
        nodes, name,
        [helper.make_tensor_value_info(k, TensorProto.FLOAT, list(v.shape)) for k, v in inputs.items()],
        [helper.make_tensor_value_info(k, TensorProto.FLOAT, list(np.shape(v))) for k, v in outputs.items()],
        initializer=list(initializers))
    model = helper.make_model(graph, producer_name="make_onnx_ops", opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 7
    onnx.checker.check_model(model)
    onnx.save(model, os.path.join(OUT_DIR, name + ".onnx"))
    for k, v in inputs.items():
        tensors[f"{name}.{k}"] = np.asarray(v, dtype=np.float32)
    for k, v in outputs.items():
        tensors[f"{name}.{k}"] = np.asarray(v, dtype=np.float32)


def node(op, inputs, outputs=("y",), **attributes):
    return helper.make_node(op, list(inputs), list(outputs), name=f"/{op}", **attributes)


def write_invalid():
    """Graphs a session must refuse when it is built (onnx.checker would refuse them too, so it is not run)."""
    folder = os.path.join(HERE, "onnx_invalid")
    os.makedirs(folder, exist_ok=True)
    info = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])
    out = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])

    def save(name, nodes, initializers=()):
        graph = helper.make_graph(nodes, name, [info], [out], initializer=list(initializers))
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
        model.ir_version = 7
        onnx.save(model, os.path.join(folder, name + ".onnx"))

    # a and b feed each other: neither can run first.
    save("cycle", [helper.make_node("Add", ["x", "b"], ["a"], name="/first/Add"),
                   helper.make_node("Relu", ["a"], ["b"], name="/second/Relu"),
                   helper.make_node("Identity", ["b"], ["y"], name="/out/Identity")])
    save("unknown_op", [helper.make_node("Relu", ["x"], ["r"], name="/relu/Relu"),
                        helper.make_node("FancyNorm", ["r"], ["y"], name="/norm/FancyNorm")])
    weight = numpy_helper.from_array(np.zeros(4, np.float32), "norm.weight")
    weight.ClearField("raw_data")
    weight.data_location = TensorProto.EXTERNAL
    entry = weight.external_data.add()
    entry.key, entry.value = "location", "weights.bin"
    save("external_weights", [helper.make_node("Mul", ["x", "norm.weight"], ["y"], name="/norm/Mul")], [weight])


def main():
    os.makedirs(OUT_DIR, exist_ok=True)
    for f in os.listdir(OUT_DIR):
        os.remove(os.path.join(OUT_DIR, f))

    x, w, b = rand(2, 4, 9, 9), rand(6, 2, 3, 3), rand(6)
    case("conv_group_dilation", [node("Conv", ["x", "w", "b"], group=2, dilations=[2, 2], strides=[2, 1], pads=[1, 2, 1, 2], kernel_shape=[3, 3])],
         {"x": x, "w": w, "b": b}, {"y": F.conv2d(t(x), t(w), t(b), stride=(2, 1), padding=(1, 2), dilation=2, groups=2).numpy()})
    x, w = rand(1, 3, 7, 6), rand(5, 3, 3, 2)
    case("conv_asymmetric_pads", [node("Conv", ["x", "w"], pads=[0, 1, 2, 0], strides=[1, 2])], {"x": x, "w": w},
         {"y": F.conv2d(F.pad(t(x), (1, 0, 0, 2)), t(w), stride=(1, 2)).numpy()})
    x, w, b = rand(2, 3, 10), rand(4, 3, 3), rand(4)
    case("conv_1d", [node("Conv", ["x", "w", "b"], pads=[1, 1], strides=[2])], {"x": x, "w": w, "b": b},
         {"y": F.conv1d(t(x), t(w), t(b), stride=2, padding=1).numpy()})

    a, bm, c = rand(3, 5), rand(3, 4), rand(4)
    case("gemm_alpha_beta_transA", [node("Gemm", ["a", "b", "c"], alpha=0.5, beta=2.0, transA=1)], {"a": a, "b": bm, "c": c},
         {"y": 0.5 * (a.T.astype(np.float64) @ bm) + 2.0 * c})
    a, wt, c = rand(4, 6), rand(3, 6), rand(3)
    case("gemm_linear", [node("Gemm", ["a", "w", "c"], transB=1)], {"a": a, "w": wt, "c": c}, {"y": F.linear(t(a), t(wt), t(c)).numpy()})
    a, bm = rand(2, 3, 4), rand(4, 5)
    case("matmul_batched", [node("MatMul", ["a", "b"])], {"a": a, "b": bm}, {"y": torch.matmul(t(a), t(bm)).numpy()})

    x, s, bb, m, v = rand(2, 3, 4, 4), rand(3), rand(3), rand(3), np.abs(rand(3)) + 0.1
    case("batchnorm", [node("BatchNormalization", ["x", "s", "bb", "m", "v"], epsilon=1e-3)], {"x": x, "s": s, "bb": bb, "m": m, "v": v},
         {"y": F.batch_norm(t(x), t(m), t(v), t(s), t(bb), training=False, eps=1e-3).numpy()})

    x = rand(2, 3, 5) * 4
    for op, expected, attributes in [
            ("Relu", F.relu(t(x)), {}), ("Sigmoid", torch.sigmoid(t(x)), {}), ("Tanh", torch.tanh(t(x)), {}),
            ("HardSwish", F.hardswish(t(x)), {}), ("HardSigmoid", torch.clamp(0.2 * t(x) + 0.5, 0, 1), {}),
            ("Erf", torch.erf(t(x)), {}), ("Sqrt", torch.sqrt(t(np.abs(x))), {})]:
        case(f"unary_{op.lower()}", [node(op, ["x"], **attributes)], {"x": np.abs(x) if op == "Sqrt" else x}, {"y": expected.numpy()},
             opset=14 if op == "HardSwish" else 13)
    case("hardsigmoid_torch", [node("HardSigmoid", ["x"], alpha=1.0 / 6, beta=0.5)], {"x": x}, {"y": F.hardsigmoid(t(x)).numpy()})
    case("clip_bounds", [node("Clip", ["x", "lo", "hi"])], {"x": x}, {"y": torch.clamp(t(x), -0.5, 0.75).numpy()},
         [const("lo", -0.5, np.float32), const("hi", 0.75, np.float32)])
    case("clip_relu6", [node("Clip", ["x", "lo", "hi"])], {"x": x}, {"y": F.relu6(t(x)).numpy()},
         [const("lo", 0.0, np.float32), const("hi", 6.0, np.float32)])
    case("pow_square", [node("Pow", ["x", "e"])], {"x": x}, {"y": (t(x) ** 2).numpy()}, [const("e", 2.0, np.float32)])

    a, bm = rand(2, 3, 4), rand(3, 1)
    for op, fn in [("Add", torch.add), ("Sub", torch.sub), ("Mul", torch.mul), ("Div", torch.div)]:
        case(f"binary_{op.lower()}_broadcast", [node(op, ["a", "b"])], {"a": a, "b": bm if op != "Div" else np.abs(bm) + 0.5},
             {"y": fn(t(a), t(bm if op != "Div" else np.abs(bm) + 0.5)).numpy()})

    x = rand(2, 3, 4, 5)
    case("pad_constant", [node("Pad", ["x", "pads", "value"], mode="constant")], {"x": x},
         {"y": F.pad(t(x), (0, 1, 2, 0, 0, 0, 1, 0), value=1.5).numpy()},
         [const("pads", [1, 0, 2, 0, 0, 0, 0, 1]), const("value", 1.5, np.float32)], opset=13)
    case("slice_steps", [node("Slice", ["x", "starts", "ends", "axes", "steps"])], {"x": x},
         {"y": t(x)[:, 1:, ::2, 1:4].numpy()},
         [const("starts", [1, 0, 1]), const("ends", [INT64_MAX, INT64_MAX, 4]), const("axes", [1, 2, -1]), const("steps", [1, 2, 1])])
    case("slice_reverse", [node("Slice", ["x", "starts", "ends", "axes", "steps"])], {"x": x},
         {"y": np.ascontiguousarray(x[:, ::-1, :, 3::-2])},
         [const("starts", [-1, 3]), const("ends", [INT64_MIN, INT64_MIN]), const("axes", [1, 3]), const("steps", [-1, -2])])
    case("global_average_pool", [node("GlobalAveragePool", ["x"])], {"x": x}, {"y": t(x).mean(dim=(2, 3), keepdim=True).numpy()})
    case("flatten_axis2", [node("Flatten", ["x"], axis=2)], {"x": x}, {"y": x.reshape(6, 20)})

    x = rand(2, 3, 8, 7)
    case("maxpool_ceil", [node("MaxPool", ["x"], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1], ceil_mode=1)], {"x": x},
         {"y": F.max_pool2d(t(x), 3, 2, 1, ceil_mode=True).numpy()})
    case("avgpool_exclude_pad", [node("AveragePool", ["x"], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1])], {"x": x},
         {"y": F.avg_pool2d(t(x), 3, 2, 1, count_include_pad=False).numpy()})
    case("avgpool_include_pad", [node("AveragePool", ["x"], kernel_shape=[2, 3], strides=[1, 2], pads=[1, 1, 1, 1], count_include_pad=1)],
         {"x": x}, {"y": F.avg_pool2d(t(x), (2, 3), (1, 2), 1, count_include_pad=True).numpy()})
    case("avgpool_asymmetric", [node("AveragePool", ["x"], kernel_shape=[2, 2], strides=[2, 2], pads=[0, 0, 1, 1], count_include_pad=1)],
         {"x": x}, {"y": F.avg_pool2d(F.pad(t(x), (0, 1, 0, 1)), 2, 2).numpy()})

    a, bm = rand(2, 3, 4), rand(2, 2, 4)
    case("concat_axis1", [node("Concat", ["a", "b"], axis=1)], {"a": a, "b": bm}, {"y": np.concatenate([a, bm], axis=1)})
    x = rand(2, 3, 4)
    case("reshape_zero_minus_one", [node("Reshape", ["x", "shape"])], {"x": x}, {"y": x.reshape(2, 4, 3)}, [const("shape", [0, -1, 3])])
    case("transpose_perm", [node("Transpose", ["x"], perm=[2, 0, 1])], {"x": x}, {"y": np.transpose(x, (2, 0, 1))})
    case("softmax_axis1", [node("Softmax", ["x"], axis=1)], {"x": x}, {"y": torch.softmax(t(x), 1).numpy()})
    case("softmax_opset11_coerced", [node("Softmax", ["x"], axis=1)], {"x": x},
         {"y": torch.softmax(t(x).reshape(2, 12), 1).reshape(2, 3, 4).numpy()}, opset=11)
    case("reduce_mean", [node("ReduceMean", ["x"], axes=[1], keepdims=0)], {"x": x}, {"y": t(x).mean(1).numpy()})

    # Shape arithmetic as exporters write it: Shape, Gather, Unsqueeze (input and attribute forms), Concat of int64,
    # Cast, ConstantOfShape; the float result checks that the int64 values were right.
    nodes = [
        node("Shape", ["x"], ["s"]), node("Gather", ["s", "zero"], ["n"], axis=0),
        node("Unsqueeze", ["n", "axes0"], ["n1"]), node("Concat", ["n1", "minus_one"], ["target"], axis=0),
        node("Reshape", ["x", "target"], ["flat"]), node("Shape", ["flat"], ["fs"]),
        node("ConstantOfShape", ["fs"], ["twos"], value=numpy_helper.from_array(np.array([2.0], np.float32))),
        node("Cast", ["fs"], ["fsf"], to=TensorProto.FLOAT), node("Mul", ["flat", "twos"], ["doubled"]),
        node("Constant", [], ["k"], value_floats=[0.5, -1.0] * 6), node("Add", ["doubled", "k"], ["y"]),
    ]
    case("shape_arithmetic", nodes, {"x": x}, {"y": x.reshape(2, 12) * 2 + np.array([0.5, -1.0] * 6, np.float32)},
         [const("zero", 0), const("axes0", [0]), const("minus_one", [-1])])
    case("unsqueeze_attribute_opset11", [node("Unsqueeze", ["x"], axes=[0, 3]), ], {"x": x}, {"y": x.reshape(1, 2, 3, 1, 4)}, opset=11)
    case("squeeze_axes", [node("Squeeze", ["x", "axes"])], {"x": x.reshape(2, 1, 3, 1, 4)}, {"y": x}, [const("axes", [1, 3])])

    write_invalid()
    write(os.path.join(HERE, "onnx_ops.safetensors"), tensors)
    print(f"wrote {len(os.listdir(OUT_DIR))} graphs and {len(tensors)} tensors")


if __name__ == "__main__":
    main()

/// Public entry points reject bad shapes, groups, strides, masks and devices with ArgumentException naming the shapes.
module Hybrid.Tests.ValidationTests

open System
open Expecto
open Hybrid.Core.Gpu


[<Tests>]
let tests =
    let d = Device.Reference
    let zeros n = d.Allocate<float32> n
    let conv = Conv2dShape.Square(2, 4, 5, 6, 3, p = 1)
    let convParams () = LayerParameters(zeros conv.WeightLength)
    testList
        "validation"
        [ test "conv weight of the wrong size names the shapes" {
              rejects "weight has 10 elements" (fun () ->
                  Conv2d.Forward(conv, LayerParameters(zeros 10), zeros conv.InputLength, zeros conv.OutputLength))
          }
          test "conv channels not divisible by groups" {
              let s = Conv2dShape.Square(1, 4, 5, 6, 3, g = 3)
              rejects "divisible by groups 3" (fun () ->
                  Conv2d.Forward(s, LayerParameters(zeros 24), zeros s.InputLength, zeros 1))
          }
          test "conv stride 0" {
              let s = Conv2dShape.Square(1, 4, 5, 6, 3, s = 0)
              rejects "stride must be positive" (fun () ->
                  Conv2d.Forward(s, convParams (), zeros s.InputLength, zeros 1))
          }
          test "conv kernel larger than the padded input" {
              let s = Conv2dShape.Square(1, 4, 2, 6, 5)
              rejects "smaller than the dilated kernel" (fun () ->
                  Conv2d.Forward(s, LayerParameters(zeros (6 * 4 * 25)), zeros s.InputLength, zeros 1))
          }
          test "mask scores of the wrong size" {
              rejects "weight mask scores has 7 elements" (fun () ->
                  Conv2d.Forward(
                      conv,
                      LayerParameters(zeros conv.WeightLength, zeros 7),
                      zeros conv.InputLength,
                      zeros conv.OutputLength
                  ))
          }
          test "bias mask without a bias" {
              rejects "without a bias" (fun () ->
                  Conv2d.Forward(
                      conv,
                      LayerParameters(zeros conv.WeightLength, BiasScores = zeros 6),
                      zeros conv.InputLength,
                      zeros conv.OutputLength
                  ))
          }
          test "score gradient asked of an unmasked layer" {
              rejects "has no weight mask" (fun () ->
                  Conv2d.Backward(
                      conv,
                      convParams (),
                      zeros conv.InputLength,
                      zeros conv.OutputLength,
                      LayerGradients(WeightScores = zeros conv.WeightLength)
                  ))
          }
          test "arrays on different devices" {
              let other = Device.Cpu
              rejects "is on cpu" (fun () ->
                  Linear.Forward(LinearShape(2, 3, 4), LayerParameters(other.Allocate<float32> 12), zeros 6, zeros 8))
          }
          test "gemm leading dimension too small" {
              let g = GemmShape(Transpose.No, Transpose.No, 4, 4, 4, 1.0f, 3, 4, 0.0f, 4)
              rejects "leading dimension of A is 3" (fun () -> Blas.Sgemm(g, zeros 16, zeros 16, zeros 16))
          }
          test "gemm output too short" {
              rejects "C (4x4, ld 4) needs 16 elements" (fun () ->
                  Blas.Sgemm(Transpose.No, Transpose.No, 4, 4, 4, 1.0f, zeros 16, zeros 16, 0.0f, zeros 15))
          }
          test "negative linear size" {
              rejects "must not be negative" (fun () ->
                  Linear.Forward(LinearShape(-1, 3, 4), LayerParameters(zeros 12), zeros 0, zeros 0))
          }
          test "CSR weights of the wrong shape" {
              use csr = CsrWeights.FromMasked(d, 3, 5, ReadOnlySpan(Array.zeroCreate<float32> 15), ReadOnlySpan.Empty)
              rejects "CSR weights are 3x5" (fun () ->
                  Sparse.LinearForward(LinearShape(1, 4, 3), csr, null, zeros 4, zeros 3))
          } ]

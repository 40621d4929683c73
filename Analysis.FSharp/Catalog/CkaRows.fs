namespace Hybrid.Analysis

/// A probe set as the CKA index records it: the inputs every indexed layer was observed on. Encodings of layers seen
/// on different probe sets are never compared, so each stored layer names its probe set by Id.
[<RequireQualifiedAccess>]
type ProbeRow =
    {
        /// The first 16 hex digits of the SHA-256 of the probe inputs as the models saw them (float32 after
        /// preprocessing, with their shape): the same inputs give the same id whatever path or name they came by.
        Id: string
        /// The dataset SPEC the inputs were read from (cifar10:FILE, random:N:CxHxW:SEED, ...).
        Spec: string
        /// The dataset indices used, as text ("0-99": the first 100 images).
        Indices: string
        /// The preprocessing applied, as text ("mean 0.485,0.456,0.406; std 0.229,0.224,0.225", or "none").
        Preprocessing: string
        /// The seed of a random dataset, when the SPEC has one.
        Seed: int64 option
        /// n, the number of probe inputs (an encoding holds n (n + 1) / 2 floats).
        Count: int
        /// One input's shape (C, H, W).
        InputShape: int[]
    }

/// One indexed layer of a model, without its encoding.
[<RequireQualifiedAccess>]
type CkaLayerRow =
    {
        Probe: string
        Model: string
        Version: string
        /// The layer's place in the model's forward pass (0-based), which orders a model's layers.
        Ordinal: int
        /// The module path, as in the model's state keys (layer1.0.conv1).
        Layer: string
        /// The module's PyTorch type name (Conv2d, BatchNorm2d, BasicBlock, ...).
        LayerType: string
        /// The output shape of one probe input.
        OutputShape: int64[]
        /// The module's own parameters as "name:shape", comma-separated ("weight:16x3x3x3,bias:16"; "" for none).
        Parameters: string
        /// How many values the module's own parameters hold.
        ParameterCount: int64
        /// The model's accuracy on its own test set, when known.
        Accuracy: float option
        /// The data set the model was trained on, when known.
        TrainedOn: string option
        /// The model file the layer was captured from.
        Source: string
    }

/// One model of the CKA index on one probe set.
[<RequireQualifiedAccess>]
type CkaModelRow =
    { Model: string
      Version: string
      Probe: string
      Layers: int
      Accuracy: float option
      TrainedOn: string option
      Source: string
      IndexedAt: string }

/// Which stored layers a read returns; None matches everything.
[<RequireQualifiedAccess>]
type CkaFilter =
    { Probe: string
      Model: string option
      Version: string option
      Layer: string option
      LayerType: string option
      MinAccuracy: float option
      TrainedOn: string option }

    /// Every layer indexed on one probe set.
    static member Of(probe: string) =
        { Probe = probe
          Model = None
          Version = None
          Layer = None
          LayerType = None
          MinAccuracy = None
          TrainedOn = None }

/// A block of consecutive stored layers and their encodings (row-major, Dimension floats each), in the index's order
/// (probe, model, version, ordinal).
[<RequireQualifiedAccess>]
type CkaBlock = { Layers: CkaLayerRow[]; Encodings: float32[]; Dimension: int }

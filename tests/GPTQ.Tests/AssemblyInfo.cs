// TorchSharp's global RNG (manual_seed) is process-wide: run test classes one at a time for deterministic weights.
[assembly: CollectionBehavior(DisableTestParallelization = true)]

using Newtonsoft.Json;

namespace Compressor.Host.Commands;

/// <summary>One tensor of <c>compress inspect --format json</c>.</summary>
/// <param name="Name">Its name.</param>
/// <param name="DType">Its type as safetensors names it (<c>F32</c>, …).</param>
/// <param name="FileDType">Its type as the file names it (e.g. <c>torch.FloatStorage</c>).</param>
/// <param name="Shape">Its shape.</param>
/// <param name="Bytes">Its size.</param>
public sealed record InspectedTensor(string Name, [property: JsonProperty("dtype")] string DType, string FileDType, IReadOnlyList<long> Shape, long Bytes);

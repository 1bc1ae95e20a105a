namespace Compressor.Host.Results;

/// <summary>report.json's <c>input</c>: the input file (<see cref="InputFile"/>) and the parameter count of the model
/// loaded from it.</summary>
public sealed record InputModel(string Path, string Sha256, long Bytes, long Parameters)
{
    /// <summary>The file <paramref name="file"/> holding a model of <paramref name="parameters"/> parameters.</summary>
    public static InputModel Of(InputFile file, long parameters) => new(file.Path, file.Sha256, file.Bytes, parameters);
}

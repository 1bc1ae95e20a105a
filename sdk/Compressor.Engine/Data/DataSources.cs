namespace Compressor.Engine.Data;

/// <summary>Opens <c>--data</c> specs.</summary>
public static class DataSources
{
    /// <summary>One line per kind, for help.</summary>
    public const string Help = "digits (embedded sklearn digits, 8x8), idx:DIR (MNIST-layout IDX files, gzipped or not), " +
                               "text:FILE[,tokenizer=char|gpt2][,context=T] (language-model windows), sentences:FILE[,context=T][,vocab=PATH] " +
                               "(BERT WordPiece sentences, MiniLM's vocabulary by default), jsonl:FILE[,field=text][,tokenizer=PATH][,task=lm|encoder] " +
                               "(texts tokenized with the model folder's tokenizer.json), npz:FILE[,input=NAME][,target=NAME] (NumPy arrays keyed by the model's input names), " +
                               "images:DIR (JPEG/PNG, one sub-folder per class, preprocessed as the model's config or timm's defaults say); digits and idx take ,size=S ,channels=C ,scale=F; all take ,calibration=N ,limit=N";

    /// <summary>Parses and opens <paramref name="spec"/>; the seed fixes the splits.</summary>
    /// <exception cref="CompressException">Bad spec or bad files, in one line.</exception>
    public static DataSplits Open(string spec, int seed) => Open(spec, seed, null);

    /// <summary>As <see cref="Open(string, int)"/>; <paramref name="modelFolder"/> (a Hugging Face model folder, or null)
    /// supplies the tokenizer of <c>jsonl</c> texts.</summary>
    public static DataSplits Open(string spec, int seed, string? modelFolder)
    {
        var s = DataSpec.Parse(spec);
        return s.Kind switch
        {
            "digits" => ImageTransform.Apply(DigitsDataSource.Open(s, seed), s),
            "idx" => ImageTransform.Apply(IdxDataSource.Open(s, seed), s),
            "sentences" => SentenceDataSource.Open(s, seed),
            "text" => TextDataSource.Open(s, seed),
            "jsonl" => JsonlDataSource.Open(s, seed, modelFolder),
            "npz" => NpzDataSource.Open(s, seed),
            "images" => ImageFolderDataSource.Open(s, seed, modelFolder),
            _ => throw new CompressException(ErrorKind.InvalidOptions, $"--data '{spec}': unknown kind"),
        };
    }
}

namespace Compressor.Engine.Models.Pretrained;

/// <summary>The files of the all-MiniLM-L6-v2 sentence encoder, extracted and verified by
/// <see cref="PretrainedModels.MiniLm"/>.</summary>
/// <param name="ModelPath">The ONNX model (opset 13; inputs <c>input_ids</c>, <c>attention_mask</c>,
/// <c>token_type_ids</c>, int64 [batch, sequence]; output <c>last_hidden_state</c> [batch, sequence, 384]).</param>
/// <param name="VocabPath">The uncased WordPiece vocabulary (30,522 tokens), for a BERT tokenizer that lower-cases.</param>
public sealed record MiniLmFiles(string ModelPath, string VocabPath);
